// What `softnet-emu sweep` shows: one row per (knob value, profile) and charts of throughput, p99
// latency and drops against the knob, one line per profile.
import type { RunResults } from "../model/results.ts";
import { sweepChart, type ChartSpec, type SweepPoint } from "./charts.ts";
import type { Matrix } from "./compare-table.ts";
import { formatDurationNs, runMetrics, si } from "./metrics.ts";

export const KNOBS = ["rate", "netdev_max_backlog", "netdev_budget", "cpus"] as const;
export type Knob = (typeof KNOBS)[number];

/** Axis titles, with units. */
export const KNOB_TITLES: Record<Knob, string> = {
  rate: "offered rate (packets/s)",
  netdev_max_backlog: "net.core.netdev_max_backlog (packets)",
  netdev_budget: "net.core.netdev_budget (packets)",
  cpus: "CPUs",
};

export interface SweepRun {
  value: number;
  results: RunResults;
}

/**
 * One row per run. Short headers: ten columns must fit the report page (1180 px) beside a
 * profile name as long as `threads-without-local-shortcut`.
 */
export function sweepMatrix(knob: Knob, runs: readonly SweepRun[]): Matrix {
  return {
    head: ["profile", "offered/s", "processed/s", "dropped", "drop %", "queued", "p50", "p99", "max", "squeeze", "live"],
    rows: runs.map(({ value, results }) => {
      const m = runMetrics(results);
      const injected = results.totals.injected;
      return [
        `${knob}=${knob === "rate" ? si(value) : value}`,
        m.profile,
        si(m.offered_pps),
        si(m.throughput_pps),
        String(m.dropped),
        injected > 0 ? `${((100 * m.dropped) / injected).toFixed(1)}%` : "-",
        // Still in a backlog or on the wire at the end: a run that keeps up leaves a few.
        String(m.queued_at_end),
        m.processed > 0 ? formatDurationNs(m.latency_p50_ns) : "n/a",
        m.processed > 0 ? formatDurationNs(m.latency_p99_ns) : "n/a",
        m.processed > 0 ? formatDurationNs(m.latency_max_ns) : "n/a",
        String(m.time_squeeze),
        // The liveness verdict, short: `ok`, `stall` (a backlog stalled), `undrained`.
        !results.liveness ? "-" : results.liveness.ok ? "ok" : results.liveness.stalls.length > 0 ? "stall" : "undrained",
      ];
    }),
  };
}

export function sweepCharts(knob: Knob, runs: readonly SweepRun[]): ChartSpec[] {
  const profiles = [...new Set(runs.map((r) => r.results.profile))];
  const points = (y: (r: RunResults) => number): SweepPoint[] => runs.map((r) => ({ profile: r.results.profile, value: r.value, y: y(r.results) }));
  const x = KNOB_TITLES[knob];
  // Rates are swept by factors (1e5, 2e5, 5e5 …): a log axis spaces them evenly. Sysctls and CPU
  // counts get one when they span 10× or more.
  const log = knob === "rate" ? "always" : "wide";
  return [
    sweepChart("sweep-throughput", points((r) => runMetrics(r).throughput_pps), profiles, x, `Throughput against ${knob}`, "processed (packets/s)", "packets processed per virtual second, all CPUs", log),
    sweepChart("sweep-latency-p99", points((r) => r.latency_ns.p99 / 1e3), profiles, x, `p99 latency against ${knob}`, "p99 latency (µs)", "enqueue → processed, 99th percentile over the run", log),
    sweepChart("sweep-dropped", points((r) => r.totals.dropped), profiles, x, `Drops against ${knob}`, "dropped (packets)", "every drop reason, whole run", log),
  ];
}
