// The agent's screen: take the next call (a claim), read the prepared call, negotiate, record the
// outcome, and see a payment that lands mid-call at once.

import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useRef, useState } from "preact/hooks";
import { accounts, events, floor, problem, type Problem } from "./api";
import { Balance, Header, Invoices, Timeline } from "./account";
import { GuidanceFormat, type PreparedCall } from "./gen/recoup/v1/floor_pb";
import { EventType } from "./gen/recoup/v1/event_pb";
import type { Plan } from "./gen/recoup/v1/plan_pb";
import type { CallRecord } from "./gen/recoup/v1/call_pb";
import { countdown, money } from "./format";
import { Guidance, MustNot } from "./guidance";
import { Letters } from "./letters";
import { OutcomeForm } from "./outcome";
import { EMPTY_DRAFT, PlanBuilder, draftOf, type Draft } from "./plan";
import { outcomeText } from "./account";
import { Key, ProblemBox } from "./ui";

export type Panel = "plan" | "outcome" | "letters";

export interface AgentActions {
  next?: () => void;
  find?: () => void;
  extend?: () => void;
  release?: () => void;
  panel?: (p: Panel) => void;
}

/** Keeps `now` ticking once a second, for countdowns and the debtor's clock. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return now;
}

export function AgentScreen({ actions }: { actions: AgentActions }) {
  const [prepared, setPrepared] = useState<PreparedCall>();
  const [empty, setEmpty] = useState(false);
  const [failure, setFailure] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const [panel, setPanel] = useState<Panel>("plan");
  const [draft, setDraft] = useState<Draft>(EMPTY_DRAFT);
  const [plan, setPlan] = useState<Plan>();
  const [recorded, setRecorded] = useState<CallRecord>();
  const [live, setLive] = useState<string[]>([]);
  const [startedAt, setStartedAt] = useState(new Date());
  const now = useNow();
  const account = prepared?.account;
  const claim = prepared?.claim;
  const left = countdown(claim?.expireTime, now);
  const ending = !!claim?.expireTime && timestampDate(claim.expireTime).getTime() - now < 60_000;
  const shownAt = useRef(0);
  const [findRef, setFindRef] = useState("");

  /** A newly claimed call (or none to be had), with the call's panels started afresh. */
  function show(call: PreparedCall | undefined) {
    setPrepared(call);
    setEmpty(!call);
    setDraft(EMPTY_DRAFT);
    setPlan(undefined);
    setRecorded(undefined);
    setLive([]);
    setPanel("plan");
    setStartedAt(new Date());
  }

  async function next() {
    if (busy) return;
    setBusy(true);
    setFailure(undefined);
    const asked = performance.now();
    try {
      const answer = await floor.claimNextAccount({ guidanceFormat: [GuidanceFormat.STRUCTURED] });
      show(answer.prepared);
      shownAt.current = asked;
    } catch (e) {
      setFailure(problem(e));
    } finally {
      setBusy(false);
    }
  }

  // The time from "Next call" to the painted call, for the README's measurement.
  useEffect(() => {
    if (!prepared || !shownAt.current) return;
    const asked = shownAt.current;
    shownAt.current = 0;
    requestAnimationFrame(() => {
      const ms = Math.round(performance.now() - asked);
      document.body.dataset.paintMs = String(ms);
    });
  }, [prepared]);

  /** Opens one account by its reference (a callback, a follow-up): claimed, then prepared. */
  async function open(e: Event) {
    e.preventDefault();
    const ref = findRef.trim();
    if (!ref || busy) return;
    setBusy(true);
    setFailure(undefined);
    try {
      const found = await accounts.getAccount({ account: { case: "externalRef", value: ref } });
      await floor.claimAccount({ account: found.name });
      const ready = await floor.prepareCall({ account: found.name, guidanceFormat: [GuidanceFormat.STRUCTURED] });
      show(ready);
      setFindRef("");
    } catch (err) {
      setFailure(problem(err));
    } finally {
      setBusy(false);
    }
  }

  // A new account takes the focus to its name, so the keys work at once and a screen reader
  // announces whom the call is to.
  useEffect(() => {
    if (account?.name) document.getElementById("debtor")?.focus();
  }, [account?.name]);

  async function refresh(name: string) {
    try {
      const fresh = await floor.prepareCall({ account: name, guidanceFormat: [GuidanceFormat.STRUCTURED] });
      setPrepared(fresh);
    } catch (e) {
      setFailure(problem(e));
    }
  }

  // While an account is open, watch its changes from now: a payment shows at once.
  useEffect(() => {
    if (!account) return;
    const stop = new AbortController();
    (async () => {
      try {
        for await (const ev of events.watchEvents({ fromNow: true, account: account.name }, { signal: stop.signal })) {
          if (ev.type === EventType.HEARTBEAT) continue;
          if (ev.type === EventType.PAYMENT_RECORDED && ev.data.case === "payment") {
            const p = ev.data.value;
            setLive((l) => [...l, `Payment received just now: ${money(p.amount)}${p.reference ? `, ref ${p.reference}` : ""}. The balance below is updated.`]);
          }
          await refresh(account.name);
        }
      } catch (e) {
        if (!stop.signal.aborted) setLive((l) => [...l, `Live updates stopped: ${problem(e).message}`]);
      }
    })();
    return () => stop.abort();
  }, [account?.name]);

  async function extend() {
    if (!claim) return;
    try {
      const c = await floor.extendClaim({ name: claim.name });
      setPrepared(prepared && { ...prepared, claim: c });
    } catch (e) {
      setFailure(problem(e));
    }
  }

  async function release() {
    if (!claim) return;
    try {
      await floor.releaseClaim({ name: claim.name });
      setPrepared(undefined);
    } catch (e) {
      setFailure(problem(e));
    }
  }

  actions.next = next;
  actions.find = () => document.getElementById("find-ref")?.focus();
  actions.extend = extend;
  actions.release = release;
  actions.panel = (p) => {
    setPanel(p);
    requestAnimationFrame(() => document.getElementById(`tab-${p}`)?.focus());
  };

  return (
    <main id="main" class="agent" aria-busy={busy}>
      <div class="toolbar">
        <button type="button" class="primary" onClick={next} disabled={busy} aria-keyshortcuts="n">
          Next call <Key k="N" />
        </button>
        <form class="find" onSubmit={open} role="search" aria-label="Open an account by reference">
          <label for="find-ref" class="sr-only">Account reference</label>
          <input id="find-ref" placeholder="Account reference, e.g. a callback" value={findRef} onInput={(e) => setFindRef((e.currentTarget as HTMLInputElement).value)} aria-keyshortcuts="f" />
          <button type="submit" disabled={busy || !findRef.trim()}>
            Open <Key k="F" />
          </button>
        </form>
        {claim && !recorded && (
          <div class={`claim ${ending ? "ending" : ""}`} role="timer" aria-live="off">
            {left ? (
              <>
                Held for you: <strong data-testid="countdown">{left}</strong>
              </>
            ) : (
              <strong>Your hold has expired: the account is back in the pool.</strong>
            )}
            <button type="button" onClick={extend} aria-keyshortcuts="e">
              Extend <Key k="E" />
            </button>
            <button type="button" onClick={release} aria-keyshortcuts="r">
              Release <Key k="R" />
            </button>
          </div>
        )}
      </div>
      {!account && <h1 class="sr-only">Calls</h1>}
      <ProblemBox problem={failure} />
      {empty && !prepared && (
        <p class="card empty" role="status">
          No account may be called now: every one is held, blocked by a contact rule, or not due. Try again shortly.
        </p>
      )}
      {!prepared && !empty && !failure && (
        <p class="card empty">
          Press <Key k="N" /> or "Next call" to take the highest-ranked account nobody holds.
        </p>
      )}
      {live.length > 0 && (
        <div class="live" role="status" aria-live="polite">
          {live.map((l) => (
            <p>{l}</p>
          ))}
        </div>
      )}
      {recorded && (
        <p class="card recorded" role="status">
          Recorded: {outcomeText(recorded)}
          {recorded.ruleBreaches.length > 0 ? ` — breaches noted for your supervisor: ${recorded.ruleBreaches.map((b) => b.detail).join("; ")}` : ""}. Press <Key k="N" /> for the next call.
        </p>
      )}
      {prepared && account && (
        <div class="workspace">
          <div class="area-head">
            <Header account={account} status={prepared.contactStatus} now={now} />
          </div>
          <div class="area-account">
            <Balance account={account} />
            <Invoices invoices={account.invoices} />
            <Timeline account={account} />
          </div>
          <div class="area-guide">
            {prepared.guidance && <MustNot lines={prepared.guidance.mustNot} />}
            {prepared.guidance && (
              <Guidance
                g={prepared.guidance}
                onUseOption={(p) => {
                  setDraft(draftOf(p));
                  actions.panel?.("plan");
                }}
              />
            )}
          </div>
          <div class="area-act">
            <div
              role="tablist"
              aria-label="During the call"
              class="tabs"
              onKeyDown={(e) => {
                const order: Panel[] = ["plan", "outcome", "letters"];
                const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
                if (!step) return;
                e.preventDefault();
                actions.panel?.(order[(order.indexOf(panel) + step + order.length) % order.length]);
              }}
            >
              {(
                [
                  ["plan", "Plan", "P"],
                  ["outcome", "Outcome", "O"],
                  ["letters", "Letters", "L"],
                ] as [Panel, string, string][]
              ).map(([id, name, k]) => (
                <button
                  type="button"
                  role="tab"
                  id={`tab-${id}`}
                  aria-selected={panel === id}
                  aria-controls={`panel-${id}`}
                  tabIndex={panel === id ? 0 : -1}
                  onClick={() => setPanel(id)}
                  aria-keyshortcuts={k.toLowerCase()}
                >
                  {name} <Key k={k} />
                </button>
              ))}
            </div>
            <div role="tabpanel" id={`panel-${panel}`} aria-labelledby={`tab-${panel}`}>
              {panel === "plan" && (
                <PlanBuilder
                  account={account}
                  draft={draft}
                  setDraft={setDraft}
                  onCreated={(p) => {
                    setPlan(p);
                  }}
                />
              )}
              {panel === "outcome" && !recorded && (
                <OutcomeForm
                  account={account}
                  claim={claim}
                  plan={plan}
                  startedAt={claim?.claimTime ? timestampDate(claim.claimTime) : startedAt}
                  initial={plan ? "planAgreed" : undefined}
                  onRecorded={(c) => {
                    setRecorded(c);
                    setPrepared(undefined);
                    setEmpty(false);
                  }}
                />
              )}
              {panel === "letters" && <Letters account={account} plan={plan} />}
            </div>
          </div>
        </div>
      )}
    </main>
  );
}
