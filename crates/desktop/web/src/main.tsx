// The desktop's shell: sign in, find out what the credential may do, the screens, and the keys.

import { render } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { accounts, Code, credential, floor, problem } from "./api";
import { AgentScreen, type AgentActions } from "./agent";
import { SupervisorScreen } from "./supervisor";
import { Key } from "./ui";

type Role = "agent" | "supervisor";
type Screen = "calls" | "supervisor";

/** What the credential may do, from the calls it may make (nothing is written). */
async function roleOf(): Promise<Role> {
  try {
    await floor.listRuleBreaches({ pageSize: 1 });
    return "supervisor";
  } catch (e) {
    if (problem(e).code !== Code.PermissionDenied) throw e;
  }
  try {
    await accounts.getWorklist({ pageSize: 1 });
    return "agent";
  } catch (e) {
    if (problem(e).code === Code.PermissionDenied) {
      throw new Error("This credential's role has no desktop screens: sign in with an agent's or a supervisor's key.");
    }
    throw e;
  }
}

function signInMessage(e: unknown): string {
  if (e instanceof Error && !("code" in e)) return e.message;
  const p = problem(e);
  if (p.code === Code.Unauthenticated) {
    return "That key or token was not accepted. Check it was copied whole (it starts rk_ for a key), and that it has not been revoked or expired.";
  }
  if (p.code === Code.Unavailable || p.code === Code.Unknown) return `The service cannot be reached: ${p.message}`;
  return p.message;
}

function SignIn({ onSignedIn }: { onSignedIn: (role: Role) => void }) {
  const [value, setValue] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function submit(e: Event) {
    e.preventDefault();
    setBusy(true);
    credential.set(value.trim());
    try {
      onSignedIn(await roleOf());
    } catch (err) {
      credential.clear();
      setError(signInMessage(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main id="main" class="sign-in">
      <form class="card" onSubmit={submit} aria-labelledby="sign-in-heading">
        <h1 id="sign-in-heading">Sign in to recoup</h1>
        <p>Paste your API key or bearer token. It is kept in this tab only and forgotten when the tab closes.</p>
        <div class={error ? "field invalid" : "field"}>
          <label for="credential">API key or JWT</label>
          <input
            id="credential"
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
            aria-describedby={error ? "credential-error" : undefined}
            aria-invalid={!!error}
            required
            autoFocus
          />
          {error && (
            <p id="credential-error" class="field-error" role="alert">
              {error}
            </p>
          )}
        </div>
        <button type="submit" class="primary" disabled={busy || !value.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}

const SHORTCUTS: [string, string][] = [
  ["N", "Next call"],
  ["F", "Open an account by reference"],
  ["E", "Extend the hold"],
  ["R", "Release the account"],
  ["G", "Go to the guidance"],
  ["P", "Plan panel"],
  ["O", "Outcome panel"],
  ["L", "Letters panel"],
  ["S", "Supervisor screen / back to calls"],
  ["?", "These keys"],
];

function App() {
  const [role, setRole] = useState<Role>();
  const [screen, setScreen] = useState<Screen>("calls");
  const [help, setHelp] = useState(false);
  const [checking, setChecking] = useState(!!credential.get());
  const agent = useRef<AgentActions>({});

  // A tab reloaded while signed in stays signed in.
  useEffect(() => {
    if (!credential.get()) return;
    roleOf()
      .then(setRole)
      .catch(() => credential.clear())
      .finally(() => setChecking(false));
  }, []);

  // The keys are listened for once, from the first paint, and read the screen as it is now: a key
  // pressed just after a screen changes is never lost to a listener of the screen before.
  const now = useRef({ role, screen });
  now.current = { role, screen };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const { role, screen } = now.current;
      const target = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || !role) return;
      if (target.closest("input, textarea, select, [contenteditable]")) {
        if (e.key === "Escape") target.blur();
        return;
      }
      const key = e.key.toLowerCase();
      const a = agent.current;
      const act: Record<string, () => void> = {
        n: () => a.next?.(),
        f: () => a.find?.(),
        e: () => a.extend?.(),
        r: () => a.release?.(),
        g: () => document.getElementById("guidance-start")?.focus(),
        p: () => a.panel?.("plan"),
        o: () => a.panel?.("outcome"),
        l: () => a.panel?.("letters"),
        s: () => role === "supervisor" && setScreen((s) => (s === "calls" ? "supervisor" : "calls")),
        "?": () => setHelp((h) => !h),
        escape: () => setHelp(false),
      };
      const run = act[key];
      if (run && (screen === "calls" || key === "s" || key === "?" || key === "escape")) {
        e.preventDefault();
        run();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  if (checking) return <main id="main" class="sign-in"><p>Signing in…</p></main>;
  if (!role) return <SignIn onSignedIn={setRole} />;
  return (
    <>
      <a class="skip" href="#main">Skip to the call</a>
      <nav class="top" aria-label="Screens">
        <span class="brand">recoup</span>
        <button type="button" aria-current={screen === "calls" ? "page" : undefined} onClick={() => setScreen("calls")}>
          Calls
        </button>
        {role === "supervisor" && (
          <button type="button" aria-current={screen === "supervisor" ? "page" : undefined} onClick={() => setScreen("supervisor")} aria-keyshortcuts="s">
            Supervisor <Key k="S" />
          </button>
        )}
        <span class="spacer" />
        <span class="who">Signed in as {role}</span>
        <button type="button" onClick={() => setHelp(true)} aria-keyshortcuts="?">
          Keys <Key k="?" />
        </button>
        <button
          type="button"
          onClick={() => {
            credential.clear();
            setRole(undefined);
          }}
        >
          Sign out
        </button>
      </nav>
      {screen === "calls" ? <AgentScreen actions={agent.current} /> : <SupervisorScreen />}
      {help && (
        <div class="help" role="dialog" aria-modal="true" aria-labelledby="help-heading">
          <div class="card">
            <h2 id="help-heading">Keys</h2>
            <dl>
              {SHORTCUTS.map(([k, what]) => (
                <div>
                  <dt><kbd>{k}</kbd></dt>
                  <dd>{what}</dd>
                </div>
              ))}
            </dl>
            <button type="button" onClick={() => setHelp(false)} autoFocus>
              Close
            </button>
          </div>
        </div>
      )}
    </>
  );
}

render(<App />, document.getElementById("app")!);
