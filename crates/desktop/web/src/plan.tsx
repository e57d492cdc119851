// The negotiation panel: a plan builder checked by ValidatePlan as the agent types, each rule it
// breaks shown beside its field with the limit, counter-proposals one click away, then CreatePlan
// and the written agreement.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { useEffect, useRef, useState } from "preact/hooks";
import { plans, problem, requestId, type Problem } from "./api";
import type { Account } from "./gen/recoup/v1/account_pb";
import {
  Frequency,
  FrequencySchema,
  PlanKind,
  PlanKindSchema,
  PlanProposalSchema,
  PlanStateSchema,
  type CounterProposal,
  type Plan,
  type PlanProposal,
  type ValidatePlanResponse,
} from "./gen/recoup/v1/plan_pb";
import { date, dateInput, label, money, moneyInput, parseDate, parseMoney } from "./format";
import { Field, ProblemBox, Section } from "./ui";

/** The builder's fields as typed. */
export interface Draft {
  kind: PlanKind;
  instalmentAmount: string;
  frequency: Frequency;
  firstPaymentDate: string;
  downPayment: string;
  discount: string;
  affordableMonthly: string;
  payByDate: string;
  instalmentCount: string;
}

export const EMPTY_DRAFT: Draft = {
  kind: PlanKind.INSTALMENTS,
  instalmentAmount: "",
  frequency: Frequency.MONTHLY,
  firstPaymentDate: "",
  downPayment: "",
  discount: "",
  affordableMonthly: "",
  payByDate: "",
  instalmentCount: "",
};

export function draftOf(p: PlanProposal): Draft {
  return {
    kind: p.kind,
    instalmentAmount: moneyInput(p.instalmentAmount),
    frequency: p.frequency || Frequency.MONTHLY,
    firstPaymentDate: dateInput(p.firstPaymentDate),
    downPayment: moneyInput(p.downPayment),
    discount: p.settlementDiscountPercent,
    affordableMonthly: moneyInput(p.affordableMonthly),
    payByDate: dateInput(p.payByDate),
    instalmentCount: p.instalmentCount ? String(p.instalmentCount) : "",
  };
}

/** A rule's message with its limit, unless the message already states it. */
function withLimit(message: string, limit: string): string {
  return limit && !message.includes(limit) ? `${message} (limit: ${limit})` : message;
}

/** A counter-proposal in words with what it comes to. */
function offer(c: CounterProposal): string {
  return `${c.description}: ${money(c.total)} in ${c.paymentCount} payment${c.paymentCount === 1 ? "" : "s"}, last on ${date(c.endDate)}`;
}

const INSTALMENT_KINDS = [PlanKind.INSTALMENTS, PlanKind.DOWN_PAYMENT_AND_INSTALMENTS];

/** The proposal the draft describes; typing mistakes become field problems, not requests. */
function proposalOf(d: Draft, currency: string): { proposal: MessageInitShape<typeof PlanProposalSchema>; local: Map<string, string> } {
  const local = new Map<string, string>();
  const amount = (text: string, field: string) => {
    if (!text.trim()) return undefined;
    const m = parseMoney(text, currency);
    if (!m) local.set(field, "Write an amount such as 250 or 250.00");
    return m;
  };
  const day = (text: string) => (text ? parseDate(text) : undefined);
  const instalments = INSTALMENT_KINDS.includes(d.kind);
  const payBy = [PlanKind.PAY_IN_FULL, PlanKind.SETTLEMENT, PlanKind.EXTENSION].includes(d.kind);
  const count = d.instalmentCount.trim() ? Number(d.instalmentCount) : 0;
  if (d.instalmentCount.trim() && !Number.isInteger(count)) local.set("proposal.instalment_count", "Write a whole number");
  return {
    local,
    proposal: {
      kind: d.kind,
      instalmentAmount: instalments ? amount(d.instalmentAmount, "proposal.instalment_amount") : undefined,
      frequency: instalments ? d.frequency : Frequency.UNSPECIFIED,
      firstPaymentDate: instalments ? day(d.firstPaymentDate) : undefined,
      downPayment: d.kind === PlanKind.DOWN_PAYMENT_AND_INSTALMENTS ? amount(d.downPayment, "proposal.down_payment") : undefined,
      settlementDiscountPercent: d.kind === PlanKind.SETTLEMENT ? d.discount.trim() : "",
      affordableMonthly: amount(d.affordableMonthly, "proposal.affordable_monthly"),
      payByDate: payBy ? day(d.payByDate) : undefined,
      instalmentCount: instalments && Number.isInteger(count) ? count : 0,
    },
  };
}

export function PlanBuilder(props: { account: Account; draft: Draft; setDraft: (d: Draft) => void; onCreated: (p: Plan) => void }) {
  const { account, draft, setDraft } = props;
  const [check, setCheck] = useState<ValidatePlanResponse>();
  const [failure, setFailure] = useState<Problem>();
  const [created, setCreated] = useState<Plan>();
  const [busy, setBusy] = useState(false);
  const creating = useRef<string>(requestId());
  const { proposal, local } = proposalOf(draft, account.currencyCode);

  // ValidatePlan as the agent types (a quarter second after the last key).
  useEffect(() => {
    // Nothing typed yet: nothing to judge (an empty proposal would only list what is missing).
    if (local.size > 0 || JSON.stringify(draft) === JSON.stringify(EMPTY_DRAFT)) {
      setCheck(undefined);
      setFailure(undefined);
      return;
    }
    const stop = new AbortController();
    const timer = setTimeout(async () => {
      try {
        const answer = await plans.validatePlan({ parent: account.name, proposal }, { signal: stop.signal });
        setCheck(answer);
        setFailure(undefined);
      } catch (e) {
        if (!stop.signal.aborted) setFailure(problem(e));
      }
    }, 250);
    return () => {
      clearTimeout(timer);
      stop.abort();
    };
  }, [account.name, JSON.stringify(draft)]);

  const fieldError = (field: string) => {
    const mine = [local.get(field), failure?.fields.get(field)];
    for (const v of check?.violations ?? []) {
      if (v.field === field) mine.push(withLimit(v.message, v.limit));
    }
    const text = mine.filter(Boolean).join(" ");
    return text || undefined;
  };
  const onField = (key: keyof Draft) => (e: Event) => {
    const value = (e.currentTarget as HTMLInputElement).value;
    setCreated(undefined);
    creating.current = requestId();
    setDraft({ ...draft, [key]: key === "kind" || key === "frequency" ? Number(value) : value });
  };
  const shownFields = [
    "proposal.kind", "proposal.instalment_amount", "proposal.frequency", "proposal.first_payment_date",
    "proposal.down_payment", "proposal.settlement_discount_percent", "proposal.affordable_monthly",
    "proposal.pay_by_date", "proposal.instalment_count",
  ];
  const others = (check?.violations ?? []).filter((v) => !shownFields.includes(v.field));

  async function create() {
    setBusy(true);
    try {
      const plan = await plans.createPlan({ requestId: creating.current, parent: account.name, proposal, etag: check?.etag ?? "" });
      setCreated(plan);
      setFailure(undefined);
      props.onCreated(plan);
    } catch (e) {
      setFailure(problem(e));
    } finally {
      setBusy(false);
    }
  }

  const instalments = INSTALMENT_KINDS.includes(draft.kind);
  const payBy = [PlanKind.PAY_IN_FULL, PlanKind.SETTLEMENT, PlanKind.EXTENSION].includes(draft.kind);
  const kinds = [PlanKind.PAY_IN_FULL, PlanKind.INSTALMENTS, PlanKind.DOWN_PAYMENT_AND_INSTALMENTS, PlanKind.SETTLEMENT, PlanKind.EXTENSION];
  return (
    <Section title="Payment plan" id="plan">
      <form
        class="plan-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (check?.valid && !busy) void create();
        }}
      >
        <Field id="plan-kind" label="Arrangement" error={fieldError("proposal.kind")}>
          <select id="plan-kind" value={draft.kind} onChange={onField("kind")}>
            {kinds.map((k) => (
              <option value={k}>{label(PlanKindSchema.value, k)}</option>
            ))}
          </select>
        </Field>
        {draft.kind === PlanKind.DOWN_PAYMENT_AND_INSTALMENTS && (
          <Field id="plan-down" label={`Down payment (${account.currencyCode})`} error={fieldError("proposal.down_payment")}>
            <input id="plan-down" inputMode="decimal" value={draft.downPayment} onInput={onField("downPayment")} />
          </Field>
        )}
        {instalments && (
          <>
            <Field id="plan-amount" label={`Instalment (${account.currencyCode})`} error={fieldError("proposal.instalment_amount")} hint="Or give the number of instalments">
              <input id="plan-amount" inputMode="decimal" value={draft.instalmentAmount} onInput={onField("instalmentAmount")} />
            </Field>
            <Field id="plan-count" label="Number of instalments" error={fieldError("proposal.instalment_count")}>
              <input id="plan-count" inputMode="numeric" value={draft.instalmentCount} onInput={onField("instalmentCount")} />
            </Field>
            <Field id="plan-frequency" label="Every" error={fieldError("proposal.frequency")}>
              <select id="plan-frequency" value={draft.frequency} onChange={onField("frequency")}>
                {[Frequency.WEEKLY, Frequency.FORTNIGHTLY, Frequency.MONTHLY].map((f) => (
                  <option value={f}>{label(FrequencySchema.value, f)}</option>
                ))}
              </select>
            </Field>
            <Field id="plan-first" label="First payment" error={fieldError("proposal.first_payment_date")}>
              <input id="plan-first" type="date" value={draft.firstPaymentDate} onInput={onField("firstPaymentDate")} />
            </Field>
          </>
        )}
        {draft.kind === PlanKind.SETTLEMENT && (
          <Field id="plan-discount" label="Discount (%)" error={fieldError("proposal.settlement_discount_percent")}>
            <input id="plan-discount" inputMode="decimal" value={draft.discount} onInput={onField("discount")} />
          </Field>
        )}
        {payBy && (
          <Field id="plan-payby" label="Pay by" error={fieldError("proposal.pay_by_date")}>
            <input id="plan-payby" type="date" value={draft.payByDate} onInput={onField("payByDate")} />
          </Field>
        )}
        <Field id="plan-afford" label={`They can afford a month (${account.currencyCode})`} error={fieldError("proposal.affordable_monthly")}>
          <input id="plan-afford" inputMode="decimal" value={draft.affordableMonthly} onInput={onField("affordableMonthly")} />
        </Field>
        {others.length > 0 && (
          <ul class="violations" role="alert">
            {others.map((v) => (
              <li>{withLimit(v.message, v.limit)}</li>
            ))}
          </ul>
        )}
        {check && (
          <div class="plan-check" aria-live="polite">
            {check.valid ? (
              <p class="ok">
                Within policy: {money(check.total)} in {check.schedule.length} payment{check.schedule.length === 1 ? "" : "s"}, last on {date(check.endDate)}
                {check.approvalRequired ? " — needs a supervisor's approval" : ""}.
              </p>
            ) : (
              <p class="bad">Outside policy.</p>
            )}
            {check.counters.length > 0 && (
              <div class="counters">
                <h3>Counter-proposals</h3>
                <ul>
                  {check.counters.map((c) => (
                    <li>
                      <button type="button" class="counter" onClick={() => c.proposal && setDraft(draftOf(c.proposal))}>
                        {offer(c)}
                      </button>
                    </li>
                  ))}
                </ul>
              </div>
            )}
            {check.nearestAffordable && (
              <p>
                Nearest affordable:{" "}
                <button type="button" class="counter" onClick={() => check.nearestAffordable?.proposal && setDraft(draftOf(check.nearestAffordable.proposal))}>
                  {offer(check.nearestAffordable)}
                </button>
              </p>
            )}
          </div>
        )}
        <ProblemBox problem={failure} shown={shownFields} />
        <button type="submit" class="primary" disabled={!check?.valid || busy || !!created}>
          Create plan
        </button>
      </form>
      {created && (
        <div class="created" role="status">
          <p>
            Plan created: {label(PlanStateSchema.value, created.state)}, {money(created.total)}.
          </p>
          <details open>
            <summary>Written agreement</summary>
            <pre class="agreement">{created.agreementText}</pre>
          </details>
        </div>
      )}
    </Section>
  );
}
