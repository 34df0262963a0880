#!/usr/bin/env node
// Entry point. Runs the compiled CLI under dist/ (scripts/build.mjs; `npm ci` builds it through
// `prepare`), rebuilding it first when any source is newer than the build, so that what runs is
// always the sources as they are. SOFTNET_EMU_DEV=1 (`npm run dev -- ARGS`) runs the TypeScript
// sources through tsx instead, with no build.
import { join } from "node:path";
import { pathToFileURL } from "node:url";

let main;
if (process.env.SOFTNET_EMU_DEV === "1") {
  const { register } = await import("tsx/esm/api");
  register();
  ({ main } = await import("../cli/main.ts"));
} else {
  const { freshBuild, ensureBuilt } = await import("../scripts/build.mjs");
  let dir = freshBuild();
  if (dir === null) {
    try {
      dir = await ensureBuilt();
    } catch (e) {
      // e.g. a syntax error in a source: esbuild's message names the file and line.
      const why = (e instanceof Error ? e.message : String(e)).split("\n").filter(Boolean).join(" ");
      process.stderr.write(`softnet-emu: error: building the CLI (scripts/build.mjs) failed: ${why}\n`);
      process.exit(3);
    }
  }
  ({ main } = await import(pathToFileURL(join(dir, "cli.mjs")).href));
}
await main(process.argv);
