// A real recoupd for the browser tests: the demo book on a fresh SQLite file, an ephemeral loopback
// port, calling hours open all week (so the tests do not depend on the hour they run at), and the
// keys it prints. Stopped by its process id.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Recoupd {
  url: string;
  keys: Record<"agent" | "supervisor" | "integration" | "admin", string>;
  stop: () => Promise<void>;
}

const OPEN_ALL_WEEK = `[policy.contact.calling_hours]
start = "00:00"
end = "23:59"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
`;

export async function startRecoupd(binary: string): Promise<Recoupd> {
  const dir = mkdtempSync(join(tmpdir(), "recoup-desktop-"));
  const config = join(dir, "policy.toml");
  writeFileSync(config, OPEN_ALL_WEEK);
  const child: ChildProcess = spawn(
    binary,
    ["--config", config, "--log", "warn", "serve", "--demo", "--database-url", `sqlite:${join(dir, "desk.db")}`, "--listen", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`recoupd did not start in 60 s:\n${out}\n${err}`)), 60_000);
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /recoupd listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`recoupd exited (${code}):\n${out}\n${err}`)));
  });
  const key = (role: string) => {
    const m = new RegExp(`^\\s+${role}\\s+(rk_\\S+)`, "m").exec(out);
    if (!m) throw new Error(`no ${role} key in:\n${out}`);
    return m[1];
  };
  return {
    url: `http://${ready}`,
    keys: { agent: key("agent"), supervisor: key("supervisor"), integration: key("integration"), admin: key("admin") },
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
