// The account as the agent reads it before and during the call: who, when it is there, what is
// owed and how old, each invoice, and everything that happened, newest first.

import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Account, Invoice } from "./gen/recoup/v1/account_pb";
import { AgeingBucketSchema } from "./gen/recoup/v1/account_pb";
import { CallDirection, PromiseStateSchema, type CallRecord } from "./gen/recoup/v1/call_pb";
import { ContactBlockReasonSchema, type ContactStatus } from "./gen/recoup/v1/contact_pb";
import { DisputeStateSchema } from "./gen/recoup/v1/account_pb";
import { PlanStateSchema } from "./gen/recoup/v1/plan_pb";
import type { Date as PbDate } from "./gen/recoup/v1/common_pb";
import { date, label, localNow, money, time } from "./format";
import { Section } from "./ui";

export function Header({ account, status, now }: { account: Account; status?: ContactStatus; now: number }) {
  void now; // re-rendered each second by the caller, so the local time stays current
  return (
    <header class="card account-header" aria-label="Account">
      <h1 class="debtor" id="debtor" tabIndex={-1}>
        {account.legalName}
      </h1>
      <p class="ref">
        <span>Ref </span>
        <strong>{account.externalRef}</strong>
        <span> · {account.timeZone}, their time </span>
        <strong>{localNow(account.timeZone)}</strong>
        {account.queue && <span> · queue {account.queue}</span>}
      </p>
      <ContactLine status={status} zone={account.timeZone} />
    </header>
  );
}

function ContactLine({ status, zone }: { status?: ContactStatus; zone: string }) {
  if (!status) return null;
  if (status.mayCallNow) return <p class="contact ok">May be called now</p>;
  return (
    <div class="contact blocked">
      <p>
        <strong>Not to be called now.</strong>{" "}
        {status.nextAllowedTime ? `Next allowed ${time(status.nextAllowedTime, zone)} (their time)` : "No call may be made while this lasts."}
      </p>
      <ul>
        {status.blocks.map((b) => (
          <li>
            {label(ContactBlockReasonSchema.value, b.reason)}: {b.description}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function Balance({ account }: { account: Account }) {
  const b = account.balance;
  if (!b) return null;
  const buckets: [string, typeof b.current][] = [
    ["Not yet due", b.current],
    ["1–30 days", b.overdue1To30Days],
    ["31–60 days", b.overdue31To60Days],
    ["61–90 days", b.overdue61To90Days],
    ["Over 90 days", b.overdueOver90Days],
  ];
  return (
    <Section title="Balance and ageing">
      <dl class="figures">
        <div><dt>Outstanding</dt><dd>{money(b.outstanding)}</dd></div>
        <div><dt>Overdue</dt><dd class="strong">{money(b.overdue)}</dd></div>
        <div><dt>Disputed</dt><dd>{money(b.disputed)}</dd></div>
        {b.unallocatedCredit && b.unallocatedCredit.units + BigInt(b.unallocatedCredit.nanos) !== 0n && (
          <div><dt>Unallocated credit</dt><dd>{money(b.unallocatedCredit)}</dd></div>
        )}
        <div><dt>Oldest overdue</dt><dd>{b.maxDaysOverdue > 0 ? `${b.maxDaysOverdue} days` : "—"}</dd></div>
      </dl>
      <table class="ageing">
        <caption class="sr-only">Overdue by age</caption>
        <thead><tr>{buckets.map(([name]) => <th scope="col">{name}</th>)}</tr></thead>
        <tbody><tr>{buckets.map(([, m]) => <td class="num">{money(m)}</td>)}</tr></tbody>
      </table>
    </Section>
  );
}

export function Invoices({ invoices }: { invoices: Invoice[] }) {
  return (
    <Section title="Invoices">
      {invoices.length === 0 ? (
        <p>No open invoices.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Number</th>
              <th scope="col">Due</th>
              <th scope="col">Age</th>
              <th scope="col" class="num">Outstanding</th>
              <th scope="col">Status</th>
            </tr>
          </thead>
          <tbody>
            {invoices.map((i) => (
              <tr class={i.disputed ? "disputed" : ""}>
                <td>{i.number}</td>
                <td>{date(i.dueDate)}</td>
                <td>{i.daysOverdue > 0 ? `${i.daysOverdue} days · ${label(AgeingBucketSchema.value, i.ageingBucket)}` : "Not due"}</td>
                <td class="num">{money(i.outstanding)}</td>
                <td>
                  {i.disputed ? (
                    <span class="tag disputed-tag" title={i.disputeReason}>
                      Disputed — do not ask for payment
                    </span>
                  ) : i.daysOverdue > 0 ? (
                    "Overdue"
                  ) : (
                    "Open"
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

interface Entry {
  at: number;
  when: string;
  kind: string;
  text: string;
  detail?: string;
}

function dayOf(d: PbDate | undefined): number {
  return d ? Date.UTC(d.year, d.month - 1, d.day) : 0;
}

function at(ts: Timestamp | undefined): number {
  return ts ? timestampDate(ts).getTime() : 0;
}

export function outcomeText(c: CallRecord): string {
  const o = c.outcome;
  switch (o.case) {
    case "promiseToPay":
      return `promised ${money(o.value.amount)} by ${date(o.value.promiseDate)} (${label(PromiseStateSchema.value, o.value.state).toLowerCase()})`;
    case "alreadyPaid":
      return `says already paid ${money(o.value.amount)}${o.value.reference ? `, ref ${o.value.reference}` : ""}`;
    case "disputeRaised":
      return `raised a dispute: ${o.value.reason}`;
    case "hardshipClaimed":
      return `claimed hardship: ${o.value.statement}`;
    case "refusedToPay":
      return `refused to pay: ${o.value.reason}`;
    case "leftMessage":
      return `left a message${o.value.leftWith ? ` with ${o.value.leftWith}` : ""}`;
    case "callbackRequested":
      return `asked for a callback at ${time(o.value.callbackTime)}`;
    case "referredToAgency":
      return `referred to ${o.value.agency}`;
    case "invoiceNotReceived":
      return `says invoices ${o.value.invoiceNumbers.join(", ")} never arrived`;
    case "planAgreed":
      return "agreed a payment plan";
    case "noAnswer":
      return "no answer";
    case "wrongParty":
      return "wrong party";
    default:
      return "recorded";
  }
}

export function Timeline({ account }: { account: Account }) {
  const zone = account.timeZone;
  const entries: Entry[] = [];
  for (const c of account.recentCalls) {
    entries.push({
      at: at(c.startTime),
      when: time(c.startTime, zone),
      kind: c.direction === CallDirection.INBOUND ? "Call in" : "Call out",
      text: `${c.agent || "agent"}: ${outcomeText(c)}`,
      detail: c.notes || undefined,
    });
  }
  for (const p of account.recentPayments) {
    entries.push({ at: dayOf(p.paymentDate), when: date(p.paymentDate), kind: "Payment", text: `${money(p.amount)} received${p.reference ? `, ref ${p.reference}` : ""}` });
  }
  if (account.openPromise) {
    const p = account.openPromise;
    entries.push({ at: dayOf(p.promiseDate), when: date(p.promiseDate), kind: "Promise", text: `${money(p.amount)} promised, ${money(p.paid)} paid (${label(PromiseStateSchema.value, p.state).toLowerCase()})` });
  }
  if (account.activePlan) {
    const p = account.activePlan;
    entries.push({
      at: at(p.createTime),
      when: time(p.createTime, zone),
      kind: "Plan",
      text: `${label(PlanStateSchema.value, p.state)}: ${money(p.total)} in ${p.schedule.length} payments; paid ${money(p.paid)}${p.nextInstalment ? `, next ${money(p.nextInstalment.amount)} on ${date(p.nextInstalment.dueDate)}` : ""}`,
    });
  }
  for (const l of account.recentLetters) {
    entries.push({ at: at(l.createTime), when: time(l.createTime, zone), kind: "Letter", text: l.subject });
  }
  for (const d of account.openDisputes) {
    entries.push({
      at: at(d.raiseTime),
      when: time(d.raiseTime, zone),
      kind: "Dispute",
      text: `${label(DisputeStateSchema.value, d.state)}: ${d.invoiceNumbers.join(", ")} — ${d.reason}`,
    });
  }
  entries.sort((a, b) => b.at - a.at);
  return (
    <Section title="History">
      {entries.length === 0 ? (
        <p>Nothing recorded yet.</p>
      ) : (
        <ol class="timeline">
          {entries.map((e) => (
            <li>
              <span class="when">{e.when}</span>
              <span class={`kind kind-${e.kind.toLowerCase().replace(/\s/g, "-")}`}>{e.kind}</span>
              <span class="what">{e.text}</span>
              {e.detail && <p class="detail">{e.detail}</p>}
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}
