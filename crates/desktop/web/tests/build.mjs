// Bundles the browser tests for Node (they share the desktop's generated client code).
import * as esbuild from "esbuild";

await esbuild.build({
  entryPoints: ["tests/browser.ts"],
  bundle: true,
  platform: "node",
  format: "esm",
  target: ["node20"],
  packages: "external",
  outfile: ".build/browser.mjs",
  logLevel: "warning",
});
