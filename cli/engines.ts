// The engines `run` can drive, loaded on demand: the in-process engine (engine/live.ts around
// engine/inprocess.ts) and the multi-process one (coordinator/run-processes.ts). Loaded lazily so
// `--help` and bad flags never pay for zeromq or the model. Both take the same options: progress,
// pacing, an Observer to feed (/metrics, --procfs, the control API) and a signal that stops them
// (cli/inprocess-options.ts and cli/processes-options.ts turn them into each engine's own).
import type { RunResults } from "../model/results.ts";
import type { EngineName, EngineRun } from "../engine/contract.ts";
import { CoordinatorError } from "../coordinator/errors.ts";
export { ENGINES, Interrupted, type EngineName, type EngineRun, type EngineRunOptions } from "../engine/contract.ts";

const LOADERS: Record<EngineName, () => Promise<EngineRun>> = {
  inprocess: loadInProcess,
  processes: loadProcesses,
};

export function loadEngine(name: EngineName): Promise<EngineRun> {
  return LOADERS[name]();
}

// Every run is judged for liveness (chaos/liveness.ts) at its consistent checkpoints, the same ones
// in both engines; a run that stops early (a signal, a failure) is judged on its results so far.
async function loadInProcess(): Promise<EngineRun> {
  const [{ runInProcessLive }, { inProcessLiveOptions }, { judged }, { partialOf }] = await Promise.all([
    import("../engine/live.ts"),
    import("./inprocess-options.ts"),
    import("../chaos/liveness.ts"),
    import("../engine/partial.ts"),
  ]);
  return async (cfg, o) => {
    const { opts, judge } = judged(cfg, inProcessLiveOptions(o), o.liveness);
    return judgedRun(judge, partialOf, () => runInProcessLive(cfg, opts));
  };
}

/** The liveness judge sees the results, or the results so far of a run that failed or was stopped. */
async function judgedRun(
  judge: { finish(results: RunResults): void },
  partialOf: (err: unknown) => RunResults | undefined,
  run: () => Promise<RunResults>,
): Promise<RunResults> {
  try {
    const results = await run();
    judge.finish(results);
    return results;
  } catch (err) {
    const partial = partialOf(err);
    if (partial) judge.finish(partial);
    throw err;
  }
}

async function loadProcesses(): Promise<EngineRun> {
  const [{ runProcesses }, { processesRunOptions }, { judged }, { partialOf }] = await Promise.all([
    import("../coordinator/run-processes.ts"),
    import("./processes-options.ts"),
    import("../chaos/liveness.ts"),
    import("../engine/partial.ts"),
  ]);
  return async (cfg, o) => {
    const { options, dispose } = processesRunOptions(cfg, o);
    const { opts, judge } = judged(cfg, options, o.liveness);
    try {
      return await judgedRun(judge, partialOf, () => runProcesses(cfg, opts));
    } finally {
      dispose();
    }
  };
}

/** The distributed engine gives up with a CoordinatorError (a timeout, a stuck run, every CPU dead):
 *  the run failed, but it is not a bug in the CLI, so its message is shown without a stack. (A
 *  signal is an Interrupted.) The compiled bundle holds one copy of each class, so instanceof holds. */
export function isRunFailure(err: unknown): err is CoordinatorError {
  return err instanceof CoordinatorError;
}

/**
 * The distributed engine's routine lines — each CPU registering, the start, each CPU's closing
 * statistics — which `run` shows only with --verbose; warnings, faults and kernel-style lines
 * always pass.
 */
const ROUTINE_LINES = [
  /^\[coordinator\] cpu \d+ registered \(/,
  /^\[coordinator\] all \d+ cpus registered; running /,
  /^\[cpu \d+\] cpu \d+ of \d+ \(.*\), peers reach me at /,
  /^\[cpu \d+\] reached \d+ ns: \d+ steps; /,
  // The failure detector at work on a loaded machine: nobody is judged, the results do not change.
  /^\[coordinator\] the coordinator itself was stalled for \d+ ms/,
  /^\[coordinator\] cpu \d+ .*but its process has not exited: slow, not dead/,
  /^\[coordinator\] cpu \d+ is heard again$/,
  /^\[cpu \d+\] this process was stalled for \d+ ms/,
  /^\[cpu \d+\] coordinator silent for \d+ ms \(limit \d+ ms\): suspected; waiting/,
  /^\[cpu \d+\] the coordinator is heard again; going on$/,
];

export function isRoutineLine(line: string): boolean {
  return ROUTINE_LINES.some((re) => re.test(line));
}
