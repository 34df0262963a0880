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

export function sweepMatrix(knob: Knob, runs: readonly SweepRun[]): Matrix {
  return {
    head: ["profile", "offered (pkt/s)", "throughput (pkt/s)", "dropped", "dropped %", "latency p50", "latency p99", "latency max", "time_squeeze"],
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
        formatDurationNs(m.latency_p50_ns),
        formatDurationNs(m.latency_p99_ns),
        formatDurationNs(m.latency_max_ns),
        String(m.time_squeeze),
      ];
    }),
  };
}

export function sweepCharts(knob: Knob, runs: readonly SweepRun[]): ChartSpec[] {
  const profiles = [...new Set(runs.map((r) => r.results.profile))];
  const points = (y: (r: RunResults) => number): SweepPoint[] => runs.map((r) => ({ profile: r.results.profile, value: r.value, y: y(r.results) }));
  const x = KNOB_TITLES[knob];
  return [
    sweepChart("sweep-throughput", points((r) => runMetrics(r).throughput_pps), profiles, x, `Throughput against ${knob}`, "processed (packets/s)", "packets processed per virtual second, all CPUs"),
    sweepChart("sweep-latency-p99", points((r) => r.latency_ns.p99 / 1e3), profiles, x, `p99 latency against ${knob}`, "p99 latency (µs)", "enqueue → processed, 99th percentile over the run"),
    sweepChart("sweep-dropped", points((r) => r.totals.dropped), profiles, x, `Drops against ${knob}`, "dropped (packets)", "every drop reason, whole run"),
  ];
}
