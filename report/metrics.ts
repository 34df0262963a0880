// The figures a comparison puts side by side, derived from one run's results: rates per virtual
// second, sums over CPUs, and how evenly the CPUs shared the processing.
import { DROP_REASONS, type DropReason, type RunResults } from "../model/results.ts";

export interface RunMetrics {
  profile: string;
  virtual_ns: number;
  /** Packets injected per virtual second (what the sources managed to offer). */
  offered_pps: number;
  /** Packets processed per virtual second. */
  throughput_pps: number;
  processed: number;
  dropped: number;
  dropped_by_reason: Record<DropReason, number>;
  /** Still queued or in flight when the run ended. */
  queued_at_end: number;
  latency_p50_ns: number;
  latency_p99_ns: number;
  latency_max_ns: number;
  ipis_sent: number;
  received_rps: number;
  net_rx_softirqs: number;
  thread_wakeups: number;
  lost_wakeups: number;
  ksoftirqd_wakeups: number;
  rt_flush_warnings: number;
  time_squeeze: number;
  /** Each CPU's share of the processed packets (0..1). */
  processed_share: number[];
  /** Busiest CPU's processed over the mean (1 = perfectly even; N = all on one of N CPUs). */
  imbalance: number;
}

type SummedCounter = "ipis_sent" | "received_rps" | "net_rx_softirqs" | "thread_wakeups" | "lost_wakeups" | "ksoftirqd_wakeups" | "rt_flush_warnings" | "time_squeeze";

export function sumCpus(r: RunResults, key: SummedCounter | "processed" | "dropped"): number {
  return r.cpus.reduce((s, c) => s + c[key], 0);
}

export function runMetrics(r: RunResults): RunMetrics {
  const seconds = r.virtual_ns / 1e9;
  const processed = r.cpus.map((c) => c.processed);
  const total = processed.reduce((a, b) => a + b, 0);
  const mean = total / Math.max(1, processed.length);
  return {
    profile: r.profile,
    virtual_ns: r.virtual_ns,
    offered_pps: seconds > 0 ? r.totals.injected / seconds : 0,
    throughput_pps: seconds > 0 ? r.totals.processed / seconds : 0,
    processed: r.totals.processed,
    dropped: r.totals.dropped,
    dropped_by_reason: Object.fromEntries(DROP_REASONS.map((k) => [k, r.totals.dropped_by_reason[k]])) as Record<DropReason, number>,
    queued_at_end: r.totals.queued + r.totals.in_flight,
    latency_p50_ns: r.latency_ns.p50,
    latency_p99_ns: r.latency_ns.p99,
    latency_max_ns: r.latency_ns.max,
    ipis_sent: sumCpus(r, "ipis_sent"),
    received_rps: sumCpus(r, "received_rps"),
    net_rx_softirqs: sumCpus(r, "net_rx_softirqs"),
    thread_wakeups: sumCpus(r, "thread_wakeups"),
    lost_wakeups: sumCpus(r, "lost_wakeups"),
    ksoftirqd_wakeups: sumCpus(r, "ksoftirqd_wakeups"),
    rt_flush_warnings: sumCpus(r, "rt_flush_warnings"),
    time_squeeze: sumCpus(r, "time_squeeze"),
    processed_share: processed.map((p) => (total > 0 ? p / total : 0)),
    imbalance: mean > 0 ? Math.max(...processed) / mean : 0,
  };
}

/** 2380000 → `2.38M` */
export function si(n: number): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** Nanoseconds with a readable unit: `850ns`, `23.7µs`, `2.41ms`. */
export function formatDurationNs(ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)}ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(1)}µs`;
  return `${Math.round(ns)}ns`;
}
