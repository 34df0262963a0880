// Real emulator runs for the observability tests: the in-process engine's results, plus the same
// run stepped checkpoint by checkpoint so a live /metrics can replay it while Prometheus scrapes;
// and a chaos run, with the snapshots its live driver took and its faults as /metrics shows them.
import { faultTimeline } from "../../chaos/fault-timeline.ts";
import { planChaos, runChaosLive } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import { resolveConfig, type RunFlags } from "../../config/resolve.ts";
import type { FaultTimeline } from "../../observe/metrics.ts";
import { attribute } from "../../engine/aggregate.ts";
import { advanceAll, runInProcess } from "../../engine/inprocess.ts";
import type { EmuConfig } from "../../model/config.ts";
import { Cpu } from "../../model/cpu.ts";
import type { CpuResult, RunResults } from "../../model/results.ts";

export interface ObservedRun {
  scenario: string;
  cfg: EmuConfig;
  results: RunResults;
  /** Rows (attributed, as in results.cpus) at each checkpoint; the last one is the end of the run. */
  snapshots: CpuResult[][];
  /** Virtual time of each snapshot. */
  times_ns: number[];
  /** A chaos run's faults, for SoftnetMetrics.setFaults(). */
  faults?: FaultTimeline;
}

const MS = 1_000_000;

/**
 * Two runs of one flood that between them trip every softnet alert a real run can trip:
 * - "rt-ipi": PREEMPT_RT in IPI mode (do_softirq_post_smp_call_flush warnings), netdev_budget 8
 *   (time squeeze everywhere), CPU 2 offline from 5 ms to 12 ms;
 * - "lost-wakeup": backlog threads without patch 1 (stalled backlogs, drops), CPU 3 offline
 *   from 15 ms to the end, so the final softnet_stat has no row for it.
 */
export const RUN_FLAGS: Record<string, RunFlags> = {
  "rt-ipi": {
    profile: "rt-6.6",
    cpus: 4,
    // 40 ms: CPU 0 squeezes ~700 times, so the replay's increase clears SoftnetTimeSqueezeSustained's
    // 1/s over 5m (300) with room; at 20 ms it was ~280, and the alert flickered.
    duration_ns: 40 * MS,
    rate_pps: 1_500_000,
    sysctls: [{ name: "net.core.netdev_budget", patch: { netdev_budget: 8 } }],
    offline: [{ cpu: 2, at_ns: 5 * MS }],
    online: [{ cpu: 2, at_ns: 12 * MS }],
  },
  "lost-wakeup": {
    profile: "threads-without-patch1",
    cpus: 4,
    duration_ns: 20 * MS,
    rate_pps: 1_500_000,
    offline: [{ cpu: 3, at_ns: 15 * MS }],
  },
};

const cache = new Map<string, ObservedRun>();

/** The run named in RUN_FLAGS, in `steps` checkpoints (cached per process). */
export function observedRun(scenario: string, steps = 6): ObservedRun {
  const key = `${scenario}/${steps}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const flags = RUN_FLAGS[scenario];
  if (!flags) throw new Error(`no such test run ${scenario}`);
  const cfg = resolveConfig(undefined, flags);
  const results = runInProcess(cfg);
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg));
  const snapshots: CpuResult[][] = [];
  const times_ns: number[] = [];
  for (let k = 1; k <= steps; k++) {
    const horizon = Math.round((cfg.duration_ns * k) / steps);
    advanceAll(cpus, horizon);
    // counters() hands out one object per CPU that it keeps updating: keep copies.
    snapshots.push(structuredClone(attribute(cpus.map((c) => c.counters()))));
    times_ns.push(horizon);
  }
  const run = { scenario, cfg, results, snapshots, times_ns };
  cache.set(key, run);
  return run;
}

/**
 * A chaos run that exercises every fault panel: hotplug and sysctl dwells long enough to be in
 * effect at some replayed checkpoints, irq-off sections, a burst; then the heal and the drain.
 */
export const CHAOS_RUN = {
  scenario: "chaos",
  flags: { profile: "6.6-patched-threads", cpus: 4, duration_ns: 20 * MS, rate_pps: 400_000, seed: 4 } satisfies RunFlags,
  nemeses: ["hotplug:interval=3ms,dwell=4ms", "sysctl:interval=5ms,dwell=4ms,min=4,max=64", "irq-off:interval=4ms,duration=1ms", "burst:interval=6ms,duration=2ms"],
};

/** CHAOS_RUN through the live driver, `steps` of its checkpoints kept, evenly spread, the last one its end. */
export async function observedChaosRun(steps = 6): Promise<ObservedRun> {
  const plan = planChaos(resolveConfig(undefined, CHAOS_RUN.flags), CHAOS_RUN.nemeses.map((n) => parseNemesis(n)));
  const all: { at: number; rows: CpuResult[] }[] = [];
  const results = await runChaosLive(plan, {
    // The driver's rows are live objects: keep copies.
    onSnapshot: (counters, s) => all.push({ at: s.virtual_ns, rows: structuredClone(attribute(counters)) }),
  });
  const picked = Array.from({ length: steps }, (_, k) => all[Math.round(((all.length - 1) * (k + 1)) / steps)]!);
  return {
    scenario: CHAOS_RUN.scenario,
    cfg: plan.runCfg,
    results,
    snapshots: picked.map((p) => p.rows),
    times_ns: picked.map((p) => p.at),
    faults: faultTimeline(results.faults!, plan.nemeses, plan.chaosNs),
  };
}
