// The two-phase chaos run (TigerBeetle's VOPR shape): a chaos phase with the nemeses' faults and
// the scenario's load, then the heal (chaos/heal.ts) and a drain bounded by the drain limit, all
// judged by the chaos checker. The in-process run ends at the first checkpoint after the heal at
// which nothing is queued or in flight (checkpoint times are fixed, so this is deterministic), or
// at chaos + drain limit; the distributed engine always runs to chaos + drain limit. In-process,
// runChaosInProcess() steps it in one synchronous loop (tests, benchmarks) and runChaosLive() through
// the live driver (engine/live.ts: /metrics, --procfs, --pace during the run): the same checkpoints,
// so the same results.
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { Fault, RunResults } from "../model/results.ts";
import { runInProcess, type RunOptions } from "../engine/inprocess.ts";
import { runInProcessLive, type LiveOptions } from "../engine/live.ts";
import { partialOf } from "../engine/partial.ts";
import { ChaosChecker } from "./checker.ts";
import { healCommands } from "./heal.ts";
import { scheduleFaults } from "./schedule.ts";
import { formatNemesis, resolveNemesis, type Nemesis, type NemesisSpec } from "./spec.ts";

// The same defaults as the liveness verdict of every run.
export { DEFAULT_DRAIN_LIMIT_NS, DEFAULT_STALL_AFTER_NS } from "./liveness.ts";
import { DEFAULT_DRAIN_LIMIT_NS, DEFAULT_STALL_AFTER_NS } from "./liveness.ts";

export interface ChaosSettings {
  drainLimitNs?: number;
  stallAfterNs?: number;
  engine?: "inprocess" | "processes";
}

/** Everything a chaos run needs, decided before it starts (a pure function of config and specs). */
export interface ChaosPlan {
  /** The scenario with duration = chaos + drain limit and load cut at the end of the chaos phase. */
  runCfg: EmuConfig;
  nemeses: Nemesis[];
  /** Nemesis faults, then the heal; in time order. */
  commands: CpuCommand[];
  faults: Fault[];
  chaosNs: number;
  drainLimitNs: number;
  stallAfterNs: number;
  checkIntervalNs: number;
}

/**
 * `cfg.duration_ns` is the chaos phase. Throws a UsageError for a bad spec (unknown key, a CPU the
 * host lacks, min_online > CPUs, kill/pause without --engine processes).
 */
export function planChaos(cfg: EmuConfig, specs: readonly NemesisSpec[], s: ChaosSettings = {}): ChaosPlan {
  const engine = s.engine ?? "inprocess";
  const nemeses = specs.map((spec) => resolveNemesis(spec, cfg, engine));
  const chaosNs = cfg.duration_ns;
  const drainLimitNs = s.drainLimitNs ?? DEFAULT_DRAIN_LIMIT_NS;
  const stallAfterNs = s.stallAfterNs ?? DEFAULT_STALL_AFTER_NS;
  const schedule = scheduleFaults(cfg, nemeses, cfg.seed);
  const heal = healCommands(cfg, schedule.commands, chaosNs);
  const runCfg: EmuConfig = {
    ...structuredClone(cfg),
    duration_ns: chaosNs + drainLimitNs,
    // Load stops at the heal.
    load: cfg.load.filter((p) => p.start_ns < chaosNs).map((p) => ({ ...p, end_ns: Math.min(p.end_ns, chaosNs) })),
  };
  return {
    runCfg,
    nemeses,
    commands: [...schedule.commands, ...heal.map((h) => h.command!)],
    faults: [...schedule.faults, ...heal.map((h) => h.fault)],
    chaosNs,
    drainLimitNs,
    stallAfterNs,
    // Five checkpoints per stall-after time: a stall is seen within 1.2 × stall-after.
    checkIntervalNs: Math.max(1_000, Math.floor(stallAfterNs / 5)),
  };
}

/** The checker for a plan; `consistentCuts` for the in-process engine. */
export function checkerFor(plan: ChaosPlan, consistentCuts: boolean): ChaosChecker {
  const events: CpuCommand[] = plan.runCfg.events.map((e) => ({ kind: e.action, cpu: e.cpu, at_ns: e.at_ns }));
  return new ChaosChecker({
    cpus: plan.runCfg.cpus,
    healNs: plan.chaosNs,
    drainLimitNs: plan.drainLimitNs,
    stallAfterNs: plan.stallAfterNs,
    commands: [...events, ...plan.commands],
    consistentCuts,
  });
}

export type EngineOptions = Pick<RunOptions, "onProgress" | "seriesIntervalNs" | "log">;

/** What a chaos run adds to an in-process run: the schedule, its checkpoints, the checker at each. */
function chaosRunOptions(plan: ChaosPlan, checker: ChaosChecker): Required<Pick<RunOptions, "commands" | "checkIntervalNs" | "onCheckpoint">> {
  return {
    commands: plan.commands,
    // The plan's interval even when paced: more checkpoints would change what the checker sees.
    checkIntervalNs: plan.checkIntervalNs,
    // Drained after the heal: nothing can happen any more, the run ends at this checkpoint.
    onCheckpoint: (at, counters) => {
      checker.onCheckpoint(at, counters);
      return checker.drainedAtNs !== null ? "stop" : undefined;
    },
  };
}

/** Run a plan on the in-process engine: deterministic, the same seed and specs give the same JSON. */
export function runChaosInProcess(plan: ChaosPlan, opts: EngineOptions = {}): RunResults {
  const checker = checkerFor(plan, true);
  const results = runInProcess(plan.runCfg, { ...opts, ...chaosRunOptions(plan, checker) });
  checker.finish(results, plan.faults, plan.nemeses.map(formatNemesis));
  return results;
}

/** The driver's options a chaos run leaves to its caller (the schedule and checkpoints are the plan's). */
export type ChaosLiveOptions = Omit<LiveOptions, "commands" | "checkIntervalNs" | "onCheckpoint">;

/**
 * runChaosInProcess() through the live driver: snapshots at every checkpoint, pacing, a signal that
 * stops it (rejecting with its reason); resolves with the same results, byte for byte.
 */
export async function runChaosLive(plan: ChaosPlan, opts: ChaosLiveOptions = {}): Promise<RunResults> {
  const checker = checkerFor(plan, true);
  let results: RunResults;
  try {
    results = await runInProcessLive(plan.runCfg, { ...opts, ...chaosRunOptions(plan, checker) });
  } catch (err) {
    // Stopped (a signal, a failure): its results so far are judged too, faults and verdict included.
    const partial = partialOf(err);
    if (partial) checker.finish(partial, plan.faults.filter((f) => f.at_ns <= partial.virtual_ns), plan.nemeses.map(formatNemesis));
    throw err;
  }
  checker.finish(results, plan.faults, plan.nemeses.map(formatNemesis));
  return results;
}
