// Time series: counters sampled at fixed virtual times, kept per CPU (cumulative values).
import type { CpuCounters, TimeSeries } from "../model/results.ts";

export function newSeries(cpus: number, intervalNs: number): TimeSeries {
  return {
    interval_ns: intervalNs,
    t_ns: [],
    cpus: Array.from({ length: cpus }, (_, cpu) => ({
      cpu,
      online: [],
      processed: [],
      dropped: [],
      time_squeeze: [],
      received_rps: [],
      backlog_len: [],
      latency_sum_ns: [],
      latency_count: [],
    })),
  };
}

export function sampleSeries(s: TimeSeries, atNs: number, counters: readonly CpuCounters[]): void {
  s.t_ns.push(atNs);
  for (const c of counters) {
    const row = s.cpus[c.cpu]!;
    row.online.push(c.online ? 1 : 0);
    row.processed.push(c.processed);
    row.dropped.push(c.dropped);
    row.time_squeeze.push(c.time_squeeze);
    row.received_rps.push(c.received_rps);
    row.backlog_len.push(c.input_qlen + c.process_qlen);
    row.latency_sum_ns.push(c.latency_sum_ns);
    row.latency_count.push(c.latency_buckets.reduce((a, b) => a + b, 0));
  }
}
