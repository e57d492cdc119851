// Builds the desktop into ../dist: one minified script, one stylesheet and the page. The output
// depends only on the sources and package-lock.json (no dates, no absolute paths), so CI can check
// that a rebuild reproduces the committed bundle byte for byte.
import * as esbuild from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = new URL("../dist/", import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: "src/main.tsx" },
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  charset: "utf8",
  outdir: out,
  logLevel: "warning",
});
await esbuild.build({
  entryPoints: { app: "src/styles.css" },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
copyFileSync("src/index.html", `${out}index.html`);
