// From per-CPU counters to the results of a run: the counts a target measured for its enqueuers
// go onto the enqueuers' rows, totals and the conservation law are computed, softnet_stat rendered.
// Both engines end here, so their results can only differ if their counters differ.
import type { EmuConfig } from "../model/config.ts";
import { renderSoftnetStat } from "../model/softnet-stat.ts";
import {
  DROP_REASONS,
  LATENCY_BUCKETS_NS,
  type CpuCounters,
  type CpuResult,
  type DropReason,
  type RunResults,
  type SocketTotals,
  type Totals,
  type UncheckedCheckpoints,
} from "../model/results.ts";

/** Rows with the attributed counts moved onto the CPUs they belong to. */
export function attribute(counters: readonly CpuCounters[]): CpuResult[] {
  const n = counters.length;
  return counters.map((c) => {
    let ipis = 0;
    let flowLimit = 0;
    const flushes = new Set<number>();
    for (let t = 0; t < n; t++) {
      const a = counters[t]!.attributed;
      ipis += a.ipis_sent[c.cpu] ?? 0;
      flowLimit += a.flow_limit_count[c.cpu] ?? 0;
      for (const id of a.ipi_softirq_flushes[c.cpu] ?? []) flushes.add(id);
    }
    const { attributed: _omit, net_rx_ipi_flushes: landed, ...rest } = c;
    return {
      ...rest,
      attributed: { ipis_sent: [], flow_limit_count: [], ipi_softirq_flushes: [] },
      ipis_sent: ipis,
      flow_limit_count: flowLimit,
      // The NET_RX runs an enqueuer raised only to send IPIs (loopback from task context).
      net_rx_softirqs: c.net_rx_softirqs + (landed ?? 0) + flushes.size,
      backlog_len: c.input_qlen + c.process_qlen,
    };
  });
}

export function totalsOf(rows: readonly CpuCounters[], lostOnCrash: number): Totals {
  const byReason = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;
  let injected = 0, processed = 0, queued = 0, out = 0, inn = 0, reordered = 0;
  for (const c of rows) {
    injected += c.injected;
    processed += c.processed;
    queued += c.queued;
    out += c.packets_out;
    inn += c.packets_in;
    reordered += c.reordered;
    for (const r of DROP_REASONS) byReason[r] += c.drops_by_reason[r];
  }
  const dropped = DROP_REASONS.reduce((s, r) => s + byReason[r], 0);
  const totals: Totals = { injected, processed, dropped, dropped_by_reason: byReason, queued, in_flight: out - inn - lostOnCrash, lost_on_crash: lostOnCrash, reordered };
  const socket = socketTotalsOf(rows);
  if (socket) totals.socket = socket;
  return totals;
}

/** The socket stage (model/receiver.ts), when anything reached a socket. */
function socketTotalsOf(rows: readonly CpuCounters[]): SocketTotals | undefined {
  let delivered = 0, applied = 0, consumed = 0, queued = 0, rcvbuf_errors = 0;
  for (const c of rows) {
    delivered += c.sock_delivered;
    applied += c.sock_in;
    consumed += c.sock_consumed;
    queued += c.sock_queued;
    rcvbuf_errors += c.rcvbuf_errors;
  }
  if (delivered === 0 && applied === 0) return undefined;
  return { delivered, consumed, queued, rcvbuf_errors, in_flight: delivered - applied };
}

/** injected = processed + dropped + queued + in_flight + lost_on_crash (docs/DESIGN.md §2.4). */
export function conservationViolation(t: Totals, atNs: number): string | null {
  return backlogViolation(t, atNs) ?? socketViolation(t, atNs);
}

/**
 * With a receiving task every processed packet went to its socket:
 * processed = delivered = consumed + queued on the socket + rcvbuf_errors + in flight to it.
 */
function socketViolation(t: Totals, atNs: number): string | null {
  const s = t.socket;
  if (!s) return null;
  if (s.delivered === t.processed && s.delivered === s.consumed + s.queued + s.rcvbuf_errors + s.in_flight && s.in_flight >= 0 && s.queued >= 0) return null;
  return (
    `socket conservation broken at ${atNs} ns: processed ${t.processed}, delivered to the socket ${s.delivered} vs consumed ${s.consumed}` +
    ` + queued ${s.queued} + rcvbuf_errors ${s.rcvbuf_errors} + in_flight ${s.in_flight}`
  );
}

function backlogViolation(t: Totals, atNs: number): string | null {
  const accounted = t.processed + t.dropped + t.queued + t.in_flight + t.lost_on_crash;
  const negative = (["injected", "processed", "dropped", "queued", "in_flight", "lost_on_crash"] as const).filter((k) => t[k] < 0);
  if (accounted === t.injected && negative.length === 0 && t.processed <= t.injected) return null;
  const why = negative.length > 0 ? ` (negative: ${negative.join(", ")})` : t.processed > t.injected ? " (processed > injected)" : "";
  return (
    `conservation broken at ${atNs} ns${why}: injected ${t.injected} vs processed ${t.processed} + dropped ${t.dropped}` +
    ` + queued ${t.queued} + in_flight ${t.in_flight} + lost_on_crash ${t.lost_on_crash}`
  );
}

/** The q-quantile from the histogram, interpolated linearly inside its bucket (as histogram_quantile). */
function percentile(buckets: number[], count: number, q: number, max: number): number {
  if (count === 0) return 0;
  const rank = q * count;
  let cum = 0;
  for (let b = 0; b < buckets.length; b++) {
    const n = buckets[b]!;
    if (cum + n >= rank && n > 0) {
      const lower = b === 0 ? 0 : LATENCY_BUCKETS_NS[b - 1]!;
      const upper = Math.min(LATENCY_BUCKETS_NS[b] ?? max, max);
      return Math.round(lower + ((upper - lower) * (rank - cum)) / n);
    }
    cum += n;
  }
  return max;
}

export interface AggregateExtra {
  engine: RunResults["engine"];
  lostOnCrash: number;
  violations: string[];
  /** Checkpoints checked during the run (results.checker.checkpoints). */
  checkpoints?: number;
  unchecked?: UncheckedCheckpoints;
}

export function aggregate(cfg: EmuConfig, counters: readonly CpuCounters[], extra: AggregateExtra): RunResults {
  const cpus = attribute(counters);
  const totals = totalsOf(counters, extra.lostOnCrash);
  const violations = [...extra.violations];
  const v = conservationViolation(totals, cfg.duration_ns);
  if (v) violations.push(v);
  const late = counters.filter((c) => (c.late_records ?? 0) > 0);
  if (late.length > 0)
    violations.push(
      `not exact: ${late.map((c) => `CPU ${c.cpu} took ${c.late_records} record(s)`).join(", ")} from peers after its clock had passed them ` +
        "(a promise of the lookahead was broken, a bug: docs/DESIGN.md §2.2)",
    );
  const buckets = new Array<number>(LATENCY_BUCKETS_NS.length + 1).fill(0);
  let sum = 0, max = 0;
  for (const c of counters) {
    c.latency_buckets.forEach((n, i) => (buckets[i]! += n));
    sum += c.latency_sum_ns;
    max = Math.max(max, c.latency_max_ns);
  }
  const count = buckets.reduce((a, b) => a + b, 0);
  return {
    profile: cfg.profile.name,
    seed: cfg.seed,
    engine: extra.engine,
    virtual_ns: cfg.duration_ns,
    window_ns: cfg.window_ns,
    cpus,
    totals,
    latency_ns: {
      p50: percentile(buckets, count, 0.5, max),
      p99: percentile(buckets, count, 0.99, max),
      max,
      mean: count ? Math.round(sum / count) : 0,
    },
    checker: {
      ok: violations.length === 0,
      violations,
      ...(extra.checkpoints !== undefined ? { checkpoints: extra.checkpoints } : {}),
      ...(extra.unchecked ? { unchecked: extra.unchecked } : {}),
    },
    softnet_stat: renderSoftnetStat(cpus, cfg.softnet_stat_columns),
    events: cfg.events.map((e) => ({ at_ns: e.at_ns, cpu: e.cpu, action: e.action })),
  };
}
