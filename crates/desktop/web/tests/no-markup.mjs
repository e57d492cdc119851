// The desktop's own code never turns a string into markup: data from the server is always text.
// (Preact's and markdown-it's internals have such paths; our code must never reach them.)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const FORBIDDEN = /\b(innerHTML|outerHTML|insertAdjacentHTML|dangerouslySetInnerHTML|document\.write|createContextualFragment|\.render\(\s*(md|markdown))/;
const found = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "gen") continue;
    if (statSync(path).isDirectory()) walk(path);
    else if (/\.(ts|tsx)$/.test(name)) {
      readFileSync(path, "utf8").split("\n").forEach((line, i) => {
        if (FORBIDDEN.test(line)) found.push(`${path}:${i + 1}: ${line.trim()}`);
      });
    }
  }
}
walk("src");
if (found.length > 0) {
  console.error(`markup from strings in the desktop's code:\n${found.join("\n")}`);
  process.exit(1);
}
