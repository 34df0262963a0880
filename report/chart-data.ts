// Chart rows from results: the time series as per-interval rates and levels summed over CPUs,
// and per-CPU counters. One row per (profile, point), as Vega-Lite wants its data.
import type { RunResults } from "../model/results.ts";

export interface SeriesPoint {
  profile: string;
  /** End of the sampling interval, virtual ms. */
  t_ms: number;
  /** Packets processed per virtual second during the interval, all CPUs. */
  processed_pps: number;
  /** Packets dropped per virtual second during the interval, all CPUs. */
  dropped_pps: number;
  /** Dropped since the start, all CPUs. */
  dropped_total: number;
  /** Packets in the backlogs (input + process queues) at the sample, all CPUs. */
  backlog_packets: number;
  /** Mean enqueue → processed latency of the packets processed during the interval (null: none). */
  latency_us: number | null;
}

export interface CpuPoint {
  profile: string;
  cpu: string;
  processed: number;
  dropped: number;
}

/** Rates are differences of cumulative counters between samples (the first against zero at t=0). */
export function seriesPoints(r: RunResults): SeriesPoint[] {
  const s = r.series;
  if (!s) return [];
  type Row = NonNullable<RunResults["series"]>["cpus"][number];
  const rows = s.cpus;
  const total = (pick: (row: Row) => number[], k: number) => rows.reduce((sum, row) => sum + (pick(row)[k] ?? 0), 0);
  const out: SeriesPoint[] = [];
  let prevT = 0, prevProcessed = 0, prevDropped = 0, prevLatSum = 0, prevLatCount = 0;
  s.t_ns.forEach((t, k) => {
    const dt = (t - prevT) / 1e9;
    if (dt <= 0) return;
    const processed = total((row) => row.processed, k);
    const dropped = total((row) => row.dropped, k);
    const latSum = total((row) => row.latency_sum_ns, k);
    const latCount = total((row) => row.latency_count, k);
    out.push({
      profile: r.profile,
      t_ms: t / 1e6,
      processed_pps: (processed - prevProcessed) / dt,
      dropped_pps: (dropped - prevDropped) / dt,
      dropped_total: dropped,
      backlog_packets: total((row) => row.backlog_len, k),
      latency_us: latCount > prevLatCount ? (latSum - prevLatSum) / (latCount - prevLatCount) / 1e3 : null,
    });
    [prevT, prevProcessed, prevDropped, prevLatSum, prevLatCount] = [t, processed, dropped, latSum, latCount];
  });
  return out;
}

export function cpuPoints(r: RunResults): CpuPoint[] {
  return r.cpus.map((c) => ({ profile: r.profile, cpu: `CPU ${c.cpu}`, processed: c.processed, dropped: c.dropped }));
}
