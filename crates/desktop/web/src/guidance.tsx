// The guidance the service composed for this call: the tone and why, what to say, the objections
// with their answers, the negotiation limits and the must-not list (drawn apart so it stays on
// screen while the agent scrolls).

import { DebtorCategorySchema } from "./gen/recoup/v1/account_pb";
import type { CallGuidance } from "./gen/recoup/v1/guidance_pb";
import { ToneSchema } from "./gen/recoup/v1/guidance_pb";
import type { PlanProposal } from "./gen/recoup/v1/plan_pb";
import { label, money } from "./format";
import { Section } from "./ui";

function Lines({ title, lines }: { title: string; lines: string[] }) {
  if (lines.length === 0) return null;
  return (
    <div class="lines">
      <h3>{title}</h3>
      <ul>
        {lines.map((l) => (
          <li>{l}</li>
        ))}
      </ul>
    </div>
  );
}

export function ToneBadge({ g }: { g: CallGuidance }) {
  return (
    <span class={`tone tone-${g.tone}`} data-testid="tone">
      {label(ToneSchema.value, g.tone)}
    </span>
  );
}

export function MustNot({ lines }: { lines: string[] }) {
  return (
    <aside class="card must-not" aria-labelledby="must-not-heading">
      <h2 id="must-not-heading">Must not</h2>
      {lines.length === 0 ? (
        <p>Nothing beyond the usual conduct rules.</p>
      ) : (
        <ul>
          {lines.map((l) => (
            <li>{l}</li>
          ))}
        </ul>
      )}
    </aside>
  );
}

export function Guidance({ g, onUseOption }: { g: CallGuidance; onUseOption: (p: PlanProposal) => void }) {
  const box = g.negotiation;
  return (
    <Section title="Guidance" id="guidance">
      <div class="tone-line" tabIndex={-1} id="guidance-start">
        <ToneBadge g={g} />
        {g.category && <span class="category">{label(DebtorCategorySchema.value, g.category.category)}</span>}
      </div>
      <Lines title="Why this tone" lines={g.toneReasons} />
      <Lines title="Before you dial" lines={g.beforeYouDial} />
      {g.opening && (
        <div class="lines">
          <h3>Opening</h3>
          <p class="say">{g.opening}</p>
        </div>
      )}
      <Lines title="Points to make" lines={g.talkingPoints} />
      <Lines title="Questions to ask" lines={g.questions} />
      {g.objections.length > 0 && (
        <div class="lines">
          <h3>If they say…</h3>
          {g.objections.map((o) => (
            <details class="objection">
              <summary>{o.objection}</summary>
              <p>{o.answer}</p>
            </details>
          ))}
        </div>
      )}
      {box && (box.checkedOptions.length > 0 || box.notes.length > 0) && (
        <div class="lines negotiation-box">
          <h3>Negotiation limits</h3>
          <dl class="figures">
            <div><dt>Smallest instalment</dt><dd>{money(box.instalmentFloor)}</dd></div>
            <div><dt>Longest plan</dt><dd>{box.maxPlanMonths} months</dd></div>
            <div><dt>Your discount authority</dt><dd>{box.discountAuthorityPercent || "0"}%</dd></div>
            {box.requiredDownPayment && <div><dt>Down payment needed</dt><dd>{money(box.requiredDownPayment)}</dd></div>}
          </dl>
          {box.notes.map((n) => (
            <p class="note">{n}</p>
          ))}
          {box.checkedOptions.length > 0 && (
            <ul class="options">
              {box.checkedOptions.map((o) => (
                <li>
                  <button type="button" class="link" onClick={() => o.proposal && onUseOption(o.proposal)}>
                    Offer: {o.description}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {g.closing && (
        <div class="lines">
          <h3>Closing</h3>
          <p class="say">{g.closing}</p>
        </div>
      )}
    </Section>
  );
}
