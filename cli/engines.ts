// The engines `run` can drive, loaded on demand: the in-process engine (engine/inprocess.ts) and
// the multi-process one (coordinator/run-processes.ts). Loaded lazily so `--help` and bad flags
// never pay for zeromq or the model, and so a missing engine is a clean usage error.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { UsageError } from "./errors.ts";

export const ENGINES = ["inprocess", "processes"] as const;
export type EngineName = (typeof ENGINES)[number];

/** What `run` passes to either engine: the in-process engine's options (a type-only import). */
export type EngineRunOptions = Pick<import("../engine/inprocess.ts").RunOptions, "onProgress" | "seriesIntervalNs" | "log">;

export type EngineRun = (cfg: EmuConfig, opts: EngineRunOptions) => RunResults | Promise<RunResults>;

const MODULES: Record<EngineName, { path: string; exportName: string }> = {
  inprocess: { path: "../engine/inprocess.ts", exportName: "runInProcess" },
  processes: { path: "../coordinator/run-processes.ts", exportName: "runProcesses" },
};

export async function loadEngine(name: EngineName): Promise<EngineRun> {
  const { path, exportName } = MODULES[name];
  const url = new URL(path, import.meta.url);
  if (!existsSync(fileURLToPath(url))) throw new UsageError(`engine '${name}' is not available yet`);
  // A non-literal specifier: the module may not exist at type-check time.
  const mod = (await import(url.href)) as Record<string, unknown>;
  const run = mod[exportName];
  if (typeof run !== "function") throw new Error(`${path} does not export ${exportName}()`);
  return run as EngineRun;
}

/** The distributed engine gives up with a CoordinatorError (a CPU process died, a timeout): the
 *  run failed, but it is not a bug in the CLI, so its message is shown without a stack. */
export function isRunFailure(err: unknown): err is Error {
  return err instanceof Error && (err.name === "CoordinatorError" || err.constructor.name === "CoordinatorError");
}
