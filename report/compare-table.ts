// The side-by-side table of `softnet-emu compare`: one column per profile, one row per figure.
import Table from "cli-table3";
import { DROP_REASONS, type RunResults } from "../model/results.ts";
import type { AssertionOutcome } from "./assertions.ts";
import type { CheckedResults } from "./checked-run.ts";
import { formatDurationNs, runMetrics, si, type RunMetrics } from "./metrics.ts";

export interface ComparedRun {
  results: CheckedResults;
  assertions: AssertionOutcome[];
}

type Row = [label: string, cell: (m: RunMetrics, run: ComparedRun) => string];

const ROWS: Row[] = [
  ["offered (pkt/s)", (m) => si(m.offered_pps)],
  ["throughput (pkt/s)", (m) => si(m.throughput_pps)],
  ["processed", (m) => String(m.processed)],
  ["dropped", (m) => String(m.dropped)],
  ...DROP_REASONS.map((k): Row => [`  ${k}`, (m) => String(m.dropped_by_reason[k])]),
  ["queued at end", (m) => String(m.queued_at_end)],
  // Nothing processed: no latency (0ns would read as instant).
  ["latency p50", (m) => (m.processed > 0 ? formatDurationNs(m.latency_p50_ns) : "n/a")],
  ["latency p99", (m) => (m.processed > 0 ? formatDurationNs(m.latency_p99_ns) : "n/a")],
  ["latency max", (m) => (m.processed > 0 ? formatDurationNs(m.latency_max_ns) : "n/a")],
  ["RPS IPIs sent", (m) => String(m.ipis_sent)],
  ["received_rps", (m) => String(m.received_rps)],
  ["NET_RX softirqs", (m) => String(m.net_rx_softirqs)],
  ["thread wake-ups", (m) => String(m.thread_wakeups)],
  ["lost wake-ups", (m) => String(m.lost_wakeups)],
  ["ksoftirqd wake-ups", (m) => String(m.ksoftirqd_wakeups)],
  ["RT flush warnings", (m) => String(m.rt_flush_warnings)],
  ["time_squeeze", (m) => String(m.time_squeeze)],
  ["processed % per CPU", (m) => m.processed_share.map((s) => Math.round(s * 100)).join("/")],
  ["imbalance (max/mean)", (m) => m.imbalance.toFixed(2)],
  ["checker", (_, r) => (r.results.checker.ok ? "ok" : `${r.results.checker.violations.length} violation(s)`)],
  ["liveness", (_, r) => livenessCell(r.results)],
];

/** `ok`, `STALLED cpu 1,2,3`, `NOT drained`: the liveness verdict in a cell. */
export function livenessCell(r: RunResults): string {
  const l = r.liveness;
  if (!l) return "-";
  if (l.ok) return "ok";
  const cpus = [...new Set(l.stalls.map((s) => s.cpu))];
  const parts = [...(cpus.length ? [`STALLED cpu ${cpus.join(",")}`] : []), ...(l.violations.some((v) => v.startsWith("not drained")) ? ["NOT drained"] : [])];
  return parts.join(", ");
}

const BORDERLESS = Object.fromEntries(
  ["top", "top-mid", "top-left", "top-right", "bottom", "bottom-mid", "bottom-left", "bottom-right", "left", "left-mid", "mid", "mid-mid", "right", "right-mid"].map((k) => [k, ""]),
) as Record<string, string>;
BORDERLESS.middle = "  ";

/** Header (the profiles) and rows (a label, then one cell per profile). */
export interface Matrix {
  head: string[];
  rows: string[][];
}

export function compareMatrix(runs: readonly ComparedRun[]): Matrix {
  const metrics = runs.map((r) => runMetrics(r.results));
  const rows = [...ROWS];
  if (runs.some((r) => r.assertions.length > 0))
    rows.push(["assertions", (_, r) => {
      const failed = r.assertions.filter((a) => !a.pass).length;
      return failed ? `${failed} FAILED` : `${r.assertions.length} ok`;
    }]);
  if (runs.some((r) => r.results.aborted)) rows.push(["aborted at", (_, r) => (r.results.aborted ? formatDurationNs(r.results.aborted.at_ns) : "-")]);
  return { head: metrics.map((m) => m.profile), rows: rows.map(([label, cell]) => [label, ...metrics.map((m, i) => cell(m, runs[i]!))]) };
}

/** Borderless, like `column -t`, as the run summary. */
export function renderMatrix(m: Matrix, color: boolean): string {
  const table = new Table({
    head: ["", ...m.head],
    chars: BORDERLESS,
    style: { head: color ? ["cyan"] : [], border: [], "padding-left": 0, "padding-right": 0 },
    colAligns: ["left", ...m.head.map(() => "right" as const)],
  });
  for (const row of m.rows) table.push(row);
  return table.toString();
}
