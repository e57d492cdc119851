// Recording the call: one form per outcome with the fields that outcome needs, the server's field
// problems shown on the fields, and the call recorded under the agent's claim.

import { create } from "@bufbuild/protobuf";
import { DurationSchema, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { useRef, useState } from "preact/hooks";
import { calls, Code, problem, requestId, type Problem } from "./api";
import type { Account } from "./gen/recoup/v1/account_pb";
import { CallDirection, type CallRecord } from "./gen/recoup/v1/call_pb";
import type { Claim } from "./gen/recoup/v1/claim_pb";
import type { Plan } from "./gen/recoup/v1/plan_pb";
import { parseDate, parseMoney } from "./format";
import { Field, ProblemBox, Section } from "./ui";

type Kind = NonNullable<CallRecord["outcome"]["case"]>;

const OUTCOMES: [Kind, string][] = [
  ["promiseToPay", "Promise to pay"],
  ["planAgreed", "Plan agreed"],
  ["noAnswer", "No answer"],
  ["leftMessage", "Left a message"],
  ["wrongParty", "Wrong party"],
  ["alreadyPaid", "Says already paid"],
  ["disputeRaised", "Dispute raised"],
  ["hardshipClaimed", "Hardship claimed"],
  ["invoiceNotReceived", "Invoice not received"],
  ["refusedToPay", "Refused to pay"],
  ["callbackRequested", "Callback requested"],
  ["referredToAgency", "Referred to agency"],
];

/** An outcome's name, e.g. "Promise to pay". */
export function outcomeName(c: CallRecord): string {
  return OUTCOMES.find(([k]) => k === c.outcome.case)?.[1] ?? "Other";
}

/** Each outcome's own inputs: [key, label, request field, kind of input]. */
const FIELDS: Partial<Record<Kind, [string, string, string, "money" | "date" | "text" | "datetime" | "invoices" | "lines"][]>> = {
  promiseToPay: [
    ["amount", "Amount promised", "call.promise_to_pay.amount", "money"],
    ["date", "Promised by", "call.promise_to_pay.promise_date", "date"],
  ],
  leftMessage: [["leftWith", "Left with", "call.left_message.left_with", "text"]],
  alreadyPaid: [
    ["reference", "Their payment reference", "call.already_paid.reference", "text"],
    ["date", "Paid on", "call.already_paid.payment_date", "date"],
    ["amount", "Amount", "call.already_paid.amount", "money"],
  ],
  disputeRaised: [
    ["invoices", "Invoices disputed", "call.dispute_raised.invoice_numbers", "invoices"],
    ["reason", "Reason", "call.dispute_raised.reason", "text"],
  ],
  hardshipClaimed: [
    ["statement", "What they said", "call.hardship_claimed.statement", "text"],
    ["claims", "Claims to verify (one per line)", "call.hardship_claimed.claims_to_verify", "lines"],
    ["afford", "They can afford a month", "call.hardship_claimed.affordable_monthly", "money"],
  ],
  invoiceNotReceived: [
    ["invoices", "Invoices not received", "call.invoice_not_received.invoice_numbers", "invoices"],
    ["resendTo", "Resend to", "call.invoice_not_received.resend_to", "text"],
  ],
  refusedToPay: [["reason", "Reason given", "call.refused_to_pay.reason", "text"]],
  callbackRequested: [["when", "Call back at (your time)", "call.callback_requested.callback_time", "datetime"]],
  referredToAgency: [["agency", "Agency", "call.referred_to_agency.agency", "text"]],
};

export function OutcomeForm(props: { account: Account; claim?: Claim; plan?: Plan; startedAt: Date; initial?: Kind; onRecorded: (c: CallRecord) => void }) {
  const { account } = props;
  const [kind, setKind] = useState<Kind>(props.initial ?? "promiseToPay");
  const [values, setValues] = useState<Record<string, string>>({});
  const [invoices, setInvoices] = useState<string[]>([]);
  const [common, setCommon] = useState({ contact: account.contacts.find((c) => c.preferred)?.displayName ?? "", rpc: true, notes: "", next: "", inbound: false, cease: "" });
  const [failure, setFailure] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const attempt = useRef(requestId());
  const currency = account.currencyCode;

  const set = (key: string) => (e: Event) => setValues({ ...values, [key]: (e.currentTarget as HTMLInputElement).value });
  const error = (field: string) => failure?.fields.get(field);

  /** The outcome as the request carries it; amounts that are not amounts are kept in `local`. */
  function outcome(local: Map<string, string>): CallRecord["outcome"] {
    const v = values;
    const fields = FIELDS[kind] ?? [];
    const money = (k: string) => {
      if (!v[k]) return undefined;
      const m = parseMoney(v[k], currency);
      if (!m) local.set(fields.find((f) => f[0] === k)?.[2] ?? k, "Write an amount such as 250 or 250.00");
      return m;
    };
    switch (kind) {
      case "promiseToPay":
        return { case: kind, value: { $typeName: "recoup.v1.PromiseToPay", amount: money("amount"), promiseDate: parseDate(v.date ?? ""), state: 0, paid: undefined } };
      case "planAgreed":
        return { case: kind, value: { $typeName: "recoup.v1.PlanAgreed", plan: props.plan?.name ?? "" } };
      case "noAnswer":
        return { case: kind, value: { $typeName: "recoup.v1.NoAnswer" } };
      case "wrongParty":
        return { case: kind, value: { $typeName: "recoup.v1.WrongParty" } };
      case "leftMessage":
        return { case: kind, value: { $typeName: "recoup.v1.LeftMessage", leftWith: v.leftWith ?? "" } };
      case "alreadyPaid":
        return { case: kind, value: { $typeName: "recoup.v1.AlreadyPaid", reference: v.reference ?? "", paymentDate: parseDate(v.date ?? ""), amount: money("amount") } };
      case "disputeRaised":
        return { case: kind, value: { $typeName: "recoup.v1.DisputeRaised", invoiceNumbers: invoices, reason: v.reason ?? "" } };
      case "hardshipClaimed":
        return {
          case: kind,
          value: { $typeName: "recoup.v1.HardshipClaimed", statement: v.statement ?? "", claimsToVerify: (v.claims ?? "").split("\n").map((l) => l.trim()).filter(Boolean), affordableMonthly: money("afford") },
        };
      case "invoiceNotReceived":
        return { case: kind, value: { $typeName: "recoup.v1.InvoiceNotReceived", invoiceNumbers: invoices, resendTo: v.resendTo ?? "" } };
      case "refusedToPay":
        return { case: kind, value: { $typeName: "recoup.v1.RefusedToPay", reason: v.reason ?? "" } };
      case "callbackRequested":
        return { case: kind, value: { $typeName: "recoup.v1.CallbackRequested", callbackTime: v.when ? timestampFromDate(new Date(v.when)) : undefined } };
      case "referredToAgency":
        return { case: kind, value: { $typeName: "recoup.v1.ReferredToAgency", agency: v.agency ?? "" } };
    }
  }

  async function record(e: Event) {
    e.preventDefault();
    if (busy) return;
    const local = new Map<string, string>();
    const said = outcome(local);
    if (local.size > 0) {
      setFailure({ code: Code.InvalidArgument, message: "Check the fields marked.", fields: local, conditions: [] });
      return;
    }
    setBusy(true);
    const seconds = Math.max(0, Math.round((Date.now() - props.startedAt.getTime()) / 1000));
    try {
      const call = await calls.recordCallOutcome({
        requestId: attempt.current,
        parent: account.name,
        call: {
          direction: common.inbound ? CallDirection.INBOUND : CallDirection.OUTBOUND,
          startTime: timestampFromDate(props.startedAt),
          duration: create(DurationSchema, { seconds: BigInt(seconds) }),
          contactName: common.contact,
          rightPartyContact: common.rpc,
          outcome: said,
          notes: common.notes,
          nextStep: common.next,
          claim: common.inbound ? "" : props.claim?.name ?? "",
          askedNotToCall: common.cease ? { words: common.cease } : undefined,
        },
      });
      setFailure(undefined);
      props.onRecorded(call);
    } catch (err) {
      setFailure(problem(err));
    } finally {
      setBusy(false);
    }
  }

  const shown = [
    "call.contact_name", "call.notes", "call.next_step", "call.asked_not_to_call.words",
    ...(FIELDS[kind] ?? []).map((f) => f[2]),
  ];
  return (
    <Section title="Call outcome" id="outcome">
      <form class="outcome-form" onSubmit={record}>
        <Field id="outcome-kind" label="Outcome">
          <select id="outcome-kind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value as Kind)}>
            {OUTCOMES.map(([k, name]) => (
              <option value={k}>{name}</option>
            ))}
          </select>
        </Field>
        {kind === "planAgreed" && (
          <p class={props.plan ? "note" : "field-error"} role={props.plan ? undefined : "alert"}>
            {props.plan ? `The plan just created (${props.plan.name}).` : "Create the plan first, in the plan panel."}
            {error("call.plan_agreed.plan") ? ` ${error("call.plan_agreed.plan")}` : ""}
          </p>
        )}
        {(FIELDS[kind] ?? []).map(([key, name, field, input]) => {
          const id = `outcome-${key}`;
          if (input === "invoices") {
            return (
              <fieldset class={error(field) ? "field invalid" : "field"}>
                <legend>{name}</legend>
                {account.invoices.map((i) => (
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={invoices.includes(i.number)}
                      onChange={(e) => setInvoices((e.currentTarget as HTMLInputElement).checked ? [...invoices, i.number] : invoices.filter((n) => n !== i.number))}
                    />
                    {i.number}
                  </label>
                ))}
                {error(field) && <p class="field-error" role="alert">{error(field)}</p>}
              </fieldset>
            );
          }
          return (
            <Field id={id} label={input === "money" ? `${name} (${currency})` : name} error={error(field)}>
              {input === "lines" ? (
                <textarea id={id} rows={3} value={values[key] ?? ""} onInput={set(key)} />
              ) : (
                <input
                  id={id}
                  type={input === "date" ? "date" : input === "datetime" ? "datetime-local" : "text"}
                  inputMode={input === "money" ? "decimal" : undefined}
                  value={values[key] ?? ""}
                  onInput={set(key)}
                />
              )}
            </Field>
          );
        })}
        <Field id="outcome-contact" label="Spoke to" error={error("call.contact_name")}>
          <input id="outcome-contact" value={common.contact} onInput={(e) => setCommon({ ...common, contact: (e.currentTarget as HTMLInputElement).value })} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={common.rpc} onChange={(e) => setCommon({ ...common, rpc: (e.currentTarget as HTMLInputElement).checked })} />
          Right party (could settle the debt)
        </label>
        <label class="check">
          <input type="checkbox" checked={common.inbound} onChange={(e) => setCommon({ ...common, inbound: (e.currentTarget as HTMLInputElement).checked })} />
          They called us (inbound)
        </label>
        <Field id="outcome-notes" label="Notes" error={error("call.notes")}>
          <textarea id="outcome-notes" rows={3} value={common.notes} onInput={(e) => setCommon({ ...common, notes: (e.currentTarget as HTMLTextAreaElement).value })} />
        </Field>
        <Field id="outcome-next" label="Next step" error={error("call.next_step")}>
          <input id="outcome-next" value={common.next} onInput={(e) => setCommon({ ...common, next: (e.currentTarget as HTMLInputElement).value })} />
        </Field>
        <Field id="outcome-cease" label="They asked not to be called again (their words)" error={error("call.asked_not_to_call.words")}>
          <input id="outcome-cease" value={common.cease} onInput={(e) => setCommon({ ...common, cease: (e.currentTarget as HTMLInputElement).value })} />
        </Field>
        <ProblemBox problem={failure} shown={shown} />
        <button type="submit" class="primary" disabled={busy}>
          Record outcome
        </button>
      </form>
    </Section>
  );
}
