// How `run` starts a CPU child. Through tsx, every child carries a second V8 isolate (Node 20 runs
// module hooks on a loader thread): measured 77 MB RSS for an empty tsx process against 41 MB for
// plain node, and ~0.4 s of transform per child. So children run the compiled cpu-node entry
// (scripts/build.mjs, found by bin/entries.ts: the running bundle's own, or a fresh build of the
// sources) with plain node. When no build can be had (e.g. dist/ is not writable and stale),
// children fall back to tsx.
import { fileURLToPath } from "node:url";
import { entryFile } from "../bin/entries.ts";

const CPU_MAIN = fileURLToPath(new URL("../cpu-node/main.ts", import.meta.url));

let cached: Promise<string[]> | null = null;

/** Node arguments that start a CPU process (before its own flags). */
export function cpuNodeCommand(): Promise<string[]> {
  cached ??= entryFile("cpu-node").then(
    (file) => [file],
    () => ["--import", import.meta.resolve("tsx"), CPU_MAIN],
  );
  return cached;
}
