// What `compare --report DIR` draws: time series per profile (processed rate, drops, backlog
// length, latency) and per-CPU bars, plus the side-by-side table, on one page.
import type { RunResults } from "../model/results.ts";
import { cpuPoints, seriesPoints } from "./chart-data.ts";
import { perCpuChart, timeSeriesChart, type ChartSpec, type Marker } from "./charts.ts";
import { formatDurationNs } from "./metrics.ts";

export function compareCharts(runs: readonly RunResults[]): (ChartSpec & { note?: string })[] {
  const profiles = runs.map((r) => r.profile);
  const points = runs.flatMap(seriesPoints);
  const every = runs[0]?.series ? `sampled every ${formatDurationNs(runs[0].series.interval_ns)} of virtual time` : "";
  const charts: (ChartSpec & { note?: string })[] = [];
  const marks = markers(runs);
  if (points.length > 0) {
    charts.push(
      timeSeriesChart("processed-rate", points, profiles, "processed_pps", "Processed packets per second", "processed (packets/s)", `all CPUs, ${every}`, marks),
      timeSeriesChart("drops", points, profiles, "dropped_total", "Dropped packets since the start", "dropped (packets)", "softnet_stat dropped (backlog full or flow limit), all CPUs", marks),
      timeSeriesChart("backlog", points, profiles, "backlog_packets", "Backlog length", "queued (packets)", "input_pkt_queue + process_queue, all CPUs, at each sample", marks),
      timeSeriesChart("latency", points, profiles, "latency_us", "Latency of the packets processed in each interval", "mean latency (µs)", "enqueue → processed, mean per sampling interval", marks),
    );
  }
  const cpus = runs.flatMap(cpuPoints);
  charts.push(
    perCpuChart("per-cpu-processed", cpus, profiles, "processed", "Packets processed per CPU", "processed (packets)", "softnet_stat processed, whole run"),
    perCpuChart("per-cpu-dropped", cpus, profiles, "dropped", "Packets dropped per CPU", "dropped (packets)", "softnet_stat dropped (backlog full or flow limit), on the target CPU"),
  );
  return charts;
}

/**
 * The hotplug events and injected faults of the compared runs, once each: every profile runs the
 * same scenario and seed, so they share them (a profile-dependent one still gets its own line).
 */
export function markers(runs: readonly RunResults[]): Marker[] {
  const seen = new Map<string, Marker>();
  const add = (at_ns: number, label: string): void => void seen.set(`${at_ns} ${label}`, { t_ms: at_ns / 1e6, label });
  for (const r of runs) {
    for (const e of r.events) add(e.at_ns, `cpu ${e.cpu} ${e.action}`);
    for (const f of r.faults ?? []) add(f.at_ns, `${f.kind} ${f.target}`);
  }
  return [...seen.values()].sort((a, b) => a.t_ms - b.t_ms || a.label.localeCompare(b.label));
}
