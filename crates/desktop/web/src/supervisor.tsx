// The supervisor's screen: plans awaiting approval, open disputes, calls that broke a rule, the
// live floor (who holds which account, calls today by outcome), and the team report. Plans, disputes and calls come from
// the change feed, replayed and then followed live, so the screen never needs a reload.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { accounts, events, floor, plans, problem, requestId, type Problem } from "./api";
import { outcomeName } from "./outcome";
import { DisputeState, type Dispute } from "./gen/recoup/v1/account_pb";
import type { CallRecord } from "./gen/recoup/v1/call_pb";
import { ContactBlockReasonSchema } from "./gen/recoup/v1/contact_pb";
import { EventType } from "./gen/recoup/v1/event_pb";
import { PlanKindSchema, PlanState, PlanStateSchema, type Plan } from "./gen/recoup/v1/plan_pb";
import type { WorklistEntry } from "./gen/recoup/v1/account_pb";
import { label, money, time } from "./format";
import { TeamReport } from "./report";
import { Field, ProblemBox, Section } from "./ui";

interface Keyed<T> {
  value: T;
  ref: string;
}


export function SupervisorScreen() {
  const [pending, setPending] = useState<Map<string, Keyed<Plan>>>(new Map());
  const [disputes, setDisputes] = useState<Map<string, Keyed<Dispute>>>(new Map());
  const [today, setToday] = useState<Map<string, number>>(new Map());
  const [breaches, setBreaches] = useState<CallRecord[]>([]);
  const [held, setHeld] = useState<WorklistEntry[]>([]);
  const [failure, setFailure] = useState<Problem>();
  const [notice, setNotice] = useState("");

  // The feed: every plan, dispute and call change, from the oldest kept, then live.
  useEffect(() => {
    const stop = new AbortController();
    const midnight = new Date();
    midnight.setHours(0, 0, 0, 0);
    (async () => {
      try {
        const types = [EventType.PLAN_CHANGED, EventType.DISPUTE_CHANGED, EventType.CALL_RECORDED];
        for await (const ev of events.watchEvents({ types }, { signal: stop.signal })) {
          const d = ev.data;
          if (d.case === "plan") {
            const plan = d.value;
            setPending((m) => {
              const next = new Map(m);
              if (plan.state === PlanState.AWAITING_APPROVAL) next.set(plan.name, { value: plan, ref: ev.externalRef });
              else next.delete(plan.name);
              return next;
            });
          } else if (d.case === "dispute") {
            const dispute = d.value;
            setDisputes((m) => {
              const next = new Map(m);
              if (dispute.state === DisputeState.OPEN) next.set(dispute.name, { value: dispute, ref: ev.externalRef });
              else next.delete(dispute.name);
              return next;
            });
          } else if (d.case === "call" && d.value.startTime && timestampDate(d.value.startTime) >= midnight) {
            const name = outcomeName(d.value);
            setToday((m) => new Map(m).set(name, (m.get(name) ?? 0) + 1));
          }
        }
      } catch (e) {
        if (!stop.signal.aborted) setFailure(problem(e));
      }
    })();
    return () => stop.abort();
  }, []);

  async function reload() {
    try {
      const [b, w] = await Promise.all([floor.listRuleBreaches({ pageSize: 50 }), accounts.getWorklist({ pageSize: 200 })]);
      setBreaches(b.calls);
      setHeld(w.entries.filter((e) => e.claim));
    } catch (e) {
      setFailure(problem(e));
    }
  }
  useEffect(() => {
    void reload();
    const t = setInterval(reload, 10_000);
    return () => clearInterval(t);
  }, []);

  async function approve(plan: Plan) {
    try {
      const done = await plans.approvePlan({ requestId: requestId(), name: plan.name });
      setNotice(`Approved ${plan.name}: now ${label(PlanStateSchema.value, done.state)}.`);
      setFailure(undefined);
    } catch (e) {
      setFailure(problem(e));
    }
  }

  return (
    <main id="main" class="supervisor">
      <h1 class="screen-title">Supervision</h1>
      <ProblemBox problem={failure} />
      {notice && <p class="card recorded" role="status">{notice}</p>}
      <div class="grid">
        <Section title="Plans awaiting approval" id="approvals">
          {pending.size === 0 ? (
            <p>None waiting.</p>
          ) : (
            <table>
              <thead><tr><th scope="col">Account</th><th scope="col">Plan</th><th scope="col">Proposed by</th><th scope="col"><span class="sr-only">Action</span></th></tr></thead>
              <tbody>
                {[...pending.values()].map(({ value: p, ref }) => (
                  <tr>
                    <td>{ref}</td>
                    <td>
                      {label(PlanKindSchema.value, p.proposal?.kind ?? 0)}: {money(p.total)} in {p.schedule.length} payment{p.schedule.length === 1 ? "" : "s"}
                      {p.discount && p.discount.units + BigInt(p.discount.nanos) !== 0n ? `, ${money(p.discount)} discount` : ""}
                    </td>
                    <td>{p.proposedBy}</td>
                    <td><button type="button" onClick={() => approve(p)} aria-label={`Approve the plan for ${ref}`}>Approve</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Disputes to resolve" id="disputes">
          {disputes.size === 0 ? <p>None open.</p> : [...disputes.values()].map(({ value, ref }) => <DisputeRow dispute={value} reference={ref} onDone={setNotice} onFail={setFailure} />)}
        </Section>
        <Section title="Live floor" id="floor">
          <h3>Held now</h3>
          {held.length === 0 ? (
            <p>Nobody holds an account.</p>
          ) : (
            <table>
              <thead><tr><th scope="col">Agent</th><th scope="col">Account</th><th scope="col">Until</th></tr></thead>
              <tbody>
                {held.map((e) => (
                  <tr><td>{e.claim?.agent}</td><td>{e.account?.externalRef} {e.account?.legalName}</td><td>{time(e.claim?.expireTime)}</td></tr>
                ))}
              </tbody>
            </table>
          )}
          <h3>Calls today by outcome</h3>
          {today.size === 0 ? (
            <p>No calls recorded today.</p>
          ) : (
            <table>
              <thead><tr><th scope="col">Outcome</th><th scope="col" class="num">Calls</th></tr></thead>
              <tbody>
                {[...today].sort((a, b) => b[1] - a[1]).map(([name, n]) => (
                  <tr><td>{name}</td><td class="num">{n}</td></tr>
                ))}
              </tbody>
            </table>
          )}
        </Section>
        <Section title="Rule breaches" id="breaches">
          {breaches.length === 0 ? (
            <p>No call has broken a contact rule.</p>
          ) : (
            <table>
              <thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col">Rule</th><th scope="col">Detail</th></tr></thead>
              <tbody>
                {breaches.flatMap((c) =>
                  c.ruleBreaches.map((b) => (
                    <tr><td>{time(b.time)}</td><td>{c.agent}</td><td>{label(ContactBlockReasonSchema.value, b.rule)}</td><td>{b.detail}</td></tr>
                  )),
                )}
              </tbody>
            </table>
          )}
        </Section>
      </div>
      <Section title="Team report" id="report">
        <TeamReport />
      </Section>
    </main>
  );
}

function DisputeRow(props: { dispute: Dispute; reference: string; onDone: (s: string) => void; onFail: (p: Problem) => void }) {
  const { dispute } = props;
  const [resolution, setResolution] = useState("");
  const [error, setError] = useState<string>();
  const id = dispute.name.replace(/\W/g, "-");
  async function resolve(outcome: DisputeState) {
    try {
      await accounts.resolveDispute({ requestId: requestId(), name: dispute.name, outcome, resolution });
      props.onDone(`Dispute on ${props.reference} ${outcome === DisputeState.UPHELD ? "upheld" : "rejected"}.`);
    } catch (e) {
      const p = problem(e);
      setError(p.fields.get("resolution"));
      props.onFail(p);
    }
  }
  return (
    <div class="dispute">
      <p>
        <strong>{props.reference}</strong>: {dispute.invoiceNumbers.join(", ")} — {dispute.reason} (raised by {dispute.raisedBy})
      </p>
      <Field id={`res-${id}`} label="Resolution" error={error}>
        <input id={`res-${id}`} value={resolution} onInput={(e) => setResolution((e.currentTarget as HTMLInputElement).value)} />
      </Field>
      <button type="button" onClick={() => resolve(DisputeState.UPHELD)}>Uphold</button>{" "}
      <button type="button" onClick={() => resolve(DisputeState.REJECTED)}>Reject</button>
    </div>
  );
}
