// Letters: render one for the account (RenderLetter keeps it as the copy sent and announces it),
// then read it as the debtor will, Markdown drawn safely or as plain text.

import { useRef, useState } from "preact/hooks";
import { guidance, problem, requestId, type Problem } from "./api";
import type { Account } from "./gen/recoup/v1/account_pb";
import { LetterKind, LetterKindSchema, type Letter } from "./gen/recoup/v1/letter_pb";
import type { Plan } from "./gen/recoup/v1/plan_pb";
import { label } from "./format";
import { Markdown } from "./markdown";
import { Field, ProblemBox, Section } from "./ui";

const KINDS = [
  LetterKind.PRE_CALL_STATEMENT,
  LetterKind.FIRST_REMINDER,
  LetterKind.SECOND_REMINDER,
  LetterKind.FINAL_NOTICE,
  LetterKind.PLAN_AGREEMENT,
  LetterKind.AGENCY_REFERRAL_NOTICE,
  LetterKind.DISPUTE_ACKNOWLEDGEMENT,
];

export function Letters({ account, plan }: { account: Account; plan?: Plan }) {
  const [kind, setKind] = useState(LetterKind.PRE_CALL_STATEMENT);
  const [letter, setLetter] = useState<Letter>();
  const [plain, setPlain] = useState(false);
  const [failure, setFailure] = useState<Problem>();
  const [busy, setBusy] = useState(false);
  const attempt = useRef(requestId());
  const planName = plan?.name ?? account.activePlan?.name ?? "";

  async function render(e: Event) {
    e.preventDefault();
    setBusy(true);
    try {
      const l = await guidance.renderLetter({
        requestId: attempt.current,
        parent: account.name,
        kind,
        plan: kind === LetterKind.PLAN_AGREEMENT ? planName : "",
      });
      setLetter(l);
      setFailure(undefined);
      attempt.current = requestId();
    } catch (err) {
      setFailure(problem(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="Letters" id="letters">
      <form class="letter-form" onSubmit={render}>
        <Field id="letter-kind" label="Letter" error={failure?.fields.get("kind") ?? failure?.fields.get("plan")}>
          <select
            id="letter-kind"
            value={kind}
            onChange={(e) => {
              setKind(Number((e.currentTarget as HTMLSelectElement).value));
              attempt.current = requestId();
            }}
          >
            {KINDS.filter((k) => k !== LetterKind.PLAN_AGREEMENT || planName).map((k) => (
              <option value={k}>{label(LetterKindSchema.value, k)}</option>
            ))}
          </select>
        </Field>
        <ProblemBox problem={failure} shown={["kind", "plan"]} />
        <button type="submit" disabled={busy}>
          Render and keep as sent
        </button>
      </form>
      {letter && (
        <article class="letter" aria-label="Letter preview">
          <p class="subject">
            <strong>{letter.subject}</strong>
          </p>
          <label class="check">
            <input type="checkbox" checked={plain} onChange={(e) => setPlain((e.currentTarget as HTMLInputElement).checked)} />
            Plain text
          </label>
          {plain ? <pre class="letter-text">{letter.bodyText}</pre> : <Markdown source={letter.bodyMarkdown} />}
          <p class="note">Kept as {letter.name}; it is on the account's history and the change feed.</p>
        </article>
      )}
    </Section>
  );
}
