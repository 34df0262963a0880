// The engines `run` can drive, loaded on demand: the in-process engine (engine/live.ts around
// engine/inprocess.ts) and the multi-process one (coordinator/run-processes.ts). Loaded lazily so
// `--help` and bad flags never pay for zeromq or the model. Both take the same options: progress,
// pacing, an Observer to feed (/metrics, --procfs, the control API) and a signal that stops them.
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import type { Observer } from "./observe.ts";

export const ENGINES = ["inprocess", "processes"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface EngineRunOptions {
  onProgress?: (virtualNs: number, totalNs: number) => void;
  seriesIntervalNs?: number;
  /** Kernel-style lines, and the distributed engine's `[coordinator]` and `[cpu N]` lines. */
  log?: (line: string) => void;
  /** Virtual seconds per wall second (undefined: as fast as possible). */
  pace?: number;
  /** Under --pace: at each snapshot, how far the run is behind the paced clock, in wall ms (< 0: ahead). */
  onBehindMs?: (behindMs: number) => void;
  /** Fed at every snapshot; its control API is routed to the run. */
  observer?: Observer;
  /** Aborted with an Interrupted: the run stops, every process is torn down, the engine rejects. */
  signal?: AbortSignal;
  /** processes: a CPU silent this long is declared dead (default 3 s). */
  cpuTimeoutMs?: number;
  /** processes: tcp on 127.0.0.1 (default), or ipc sockets in a private temp dir. */
  transport?: "tcp" | "ipc";
}

export type EngineRun = (cfg: EmuConfig, opts: EngineRunOptions) => RunResults | Promise<RunResults>;

/** The reason a run was stopped by a signal. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";

  constructor(readonly signal: "SIGINT" | "SIGTERM") {
    super(`interrupted (${signal})`);
  }
}

const LOADERS: Record<EngineName, () => Promise<EngineRun>> = {
  inprocess: loadInProcess,
  processes: loadProcesses,
};

export function loadEngine(name: EngineName): Promise<EngineRun> {
  return LOADERS[name]();
}

async function loadInProcess(): Promise<EngineRun> {
  const [{ runInProcessLive }, { attribute }, { liveControlHandlers }] = await Promise.all([
    import("../engine/live.ts"),
    import("../engine/aggregate.ts"),
    import("./live-control.ts"),
  ]);
  return (cfg, o) => {
    const obs = o.observer;
    let startMs = 0;
    return runInProcessLive(cfg, {
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.seriesIntervalNs ? { seriesIntervalNs: o.seriesIntervalNs } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.pace !== undefined ? { pace: o.pace } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      onStart: (run) => {
        startMs = performance.now();
        obs?.attach(liveControlHandlers(run));
      },
      onSnapshot: (counters, s) => {
        if (o.pace !== undefined) o.onBehindMs?.(performance.now() - startMs - s.virtual_ns / (o.pace * 1e6));
        obs?.update(attribute(counters), {
          virtualNs: s.virtual_ns,
          ...(s.lag_ns !== undefined ? { lagSeconds: s.lag_ns / 1e9 } : {}),
          lostOnCrash: 0,
          checkerOk: s.checker_ok,
        });
      },
    });
  };
}

async function loadProcesses(): Promise<EngineRun> {
  const [{ runProcesses }, { controlHandlers, feedMetrics }] = await Promise.all([import("../coordinator/run-processes.ts"), import("../coordinator/control.ts")]);
  return async (cfg, o) => {
    const obs = o.observer;
    const feed = obs ? feedMetrics(obs.metrics, obs.scenario, cfg.profile.name) : undefined;
    let startMs = 0;
    let stop: ((why: string) => void) | undefined;
    const onAbort = (): void => stop?.((o.signal?.reason as Error | undefined)?.message ?? "interrupted");
    o.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      return await runProcesses(cfg, {
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        ...(o.seriesIntervalNs ? { seriesIntervalNs: o.seriesIntervalNs } : {}),
        ...(o.log ? { log: o.log } : {}),
        ...(o.pace !== undefined ? { pace: o.pace } : {}),
        ...(o.cpuTimeoutMs !== undefined ? { cpuTimeoutMs: o.cpuTimeoutMs } : {}),
        ...(o.transport ? { transport: o.transport } : {}),
        onStart: (coordinator) => {
          stop = (why) => coordinator.fail(why);
          if (o.signal?.aborted) onAbort();
          obs?.attach(controlHandlers(coordinator));
        },
        // The paced clock starts once every CPU has registered.
        onRunning: () => (startMs = performance.now()),
        onSnapshot: (counters, status) => {
          if (o.pace !== undefined && startMs > 0) o.onBehindMs?.(performance.now() - startMs - status.virtual_ns_min / (o.pace * 1e6));
          if (!feed) return;
          feed(counters, status);
          obs!.metricsUpdated();
        },
      });
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
    }
  };
}

/** The distributed engine gives up with a CoordinatorError (a timeout, a stuck run, an interrupt):
 *  the run failed, but it is not a bug in the CLI, so its message is shown without a stack. */
export function isRunFailure(err: unknown): err is Error {
  return err instanceof Error && (err.name === "CoordinatorError" || err.constructor.name === "CoordinatorError");
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
];

export function isRoutineLine(line: string): boolean {
  return ROUTINE_LINES.some((re) => re.test(line));
}
