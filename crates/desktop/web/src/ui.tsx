// Small shared pieces: labelled fields that show the server's problem beside them, and notices.

import type { ComponentChildren } from "preact";
import type { Problem } from "./api";

/** A labelled control; `error` is the server's word on this field, shown beside it. */
export function Field(props: { id: string; label: string; error?: string; hint?: string; children: ComponentChildren }) {
  const described = [props.error ? `${props.id}-error` : "", props.hint ? `${props.id}-hint` : ""].filter(Boolean).join(" ");
  return (
    <div class={props.error ? "field invalid" : "field"} data-described={described || undefined}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <p class="hint" id={`${props.id}-hint`}>{props.hint}</p>}
      {props.error && (
        <p class="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </p>
      )}
    </div>
  );
}

/** The error of a whole action: the message, its conditions, and field problems no field showed. */
export function ProblemBox({ problem, shown = [] }: { problem?: Problem; shown?: string[] }) {
  if (!problem) return null;
  const rest = [...problem.fields].filter(([f]) => !shown.includes(f));
  // Bad input whose every problem is shown on its field needs no second word.
  if (problem.fields.size > 0 && rest.length === 0 && problem.conditions.length === 0) return null;
  return (
    <div class="problem" role="alert">
      <p>{problem.message}</p>
      {problem.conditions.length > 0 && (
        <ul>
          {problem.conditions.map((c) => (
            <li>{c}</li>
          ))}
        </ul>
      )}
      {rest.length > 0 && (
        <ul>
          {rest.map(([f, d]) => (
            <li>
              <code>{f}</code> {d}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The key that triggers an action, shown on its button. */
export function Key({ k }: { k: string }) {
  return <kbd aria-hidden="true">{k}</kbd>;
}

export function Section(props: { title: string; id?: string; children: ComponentChildren; class?: string }) {
  const heading = `${props.id ?? props.title.replace(/\W+/g, "-").toLowerCase()}-heading`;
  return (
    <section class={`card ${props.class ?? ""}`} aria-labelledby={heading} id={props.id}>
      <h2 id={heading}>{props.title}</h2>
      {props.children}
    </section>
  );
}
