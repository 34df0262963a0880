// Where the compiled entry points lie (scripts/build.mjs), for the code that starts one as a process
// (a CPU) or a thread (a run worker): beside the bundle this code runs from, so a run's children are
// always of its own build, or, when it runs from the sources (tsx: tests, SOFTNET_EMU_DEV=1), in the
// current build of those sources, built first if any of them is newer.
import { fileURLToPath } from "node:url";
import { join } from "node:path";

// Loaded by a computed URL, so that esbuild leaves the build script out of the bundles.
const BUILD_SCRIPT = new URL("../scripts/build.mjs", import.meta.url).href;

declare global {
  /** Set by each bundle's entry (scripts/build.mjs): the file URL of its folder. */
  var __softnetEmuBundle: string | undefined;
}

export type EntryName = "cpu-node" | "coordinator" | "run-worker";

/** The folder (file URL) of the bundle this code runs from; undefined when it runs from the sources. */
export function runningBundle(): string | undefined {
  return globalThis.__softnetEmuBundle;
}

/** The path of a compiled entry point: the running bundle's, or a fresh build's. */
export async function entryFile(name: EntryName): Promise<string> {
  const here = runningBundle();
  if (here !== undefined) return fileURLToPath(new URL(`${name}.mjs`, here));
  const { ensureBuilt } = (await import(BUILD_SCRIPT)) as typeof import("../scripts/build.mjs");
  return join(await ensureBuilt(), `${name}.mjs`);
}
