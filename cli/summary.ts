// The human-readable end of a run: header, per-CPU table, the accounting identity, latency,
// the checker's verdict (safety), the liveness verdict (stalls, drain) and /proc/net/softnet_stat
// as the kernel would print it. A run cut short (a signal, a failure) says so first: what follows
// is what ran.
import Table from "cli-table3";
import { DROP_REASONS, type RunResults } from "../model/results.ts";
import { formatNs } from "../config/units.ts";

export interface SummaryOptions {
  wallMs: number;
  /** Colour the table header (terminals only). */
  color: boolean;
}

const MAX_VIOLATIONS_SHOWN = 10;

const BORDERLESS = Object.fromEntries(
  ["top", "top-mid", "top-left", "top-right", "bottom", "bottom-mid", "bottom-left", "bottom-right", "left", "left-mid", "mid", "mid-mid", "right", "right-mid"].map((k) => [k, ""]),
) as Record<string, string>;
BORDERLESS.middle = "  ";

export function renderSummary(r: RunResults, opts: SummaryOptions): string {
  return [
    ...cutShortLine(r),
    ...degradedLine(r),
    header(r, opts.wallMs),
    cpuTable(r, opts.color),
    "",
    totalsLine(r),
    latencyLine(r),
    ...eventsLine(r),
    ...checkerLines(r),
    ...livenessLines(r),
    "",
    "/proc/net/softnet_stat:",
    r.softnet_stat.trimEnd(),
    "",
  ].join("\n");
}

/** A run stopped by a signal or a failure: the results below are those so far. */
function cutShortLine(r: RunResults): string[] {
  if (r.interrupted) return [`INTERRUPTED (${r.signal ?? "signal"}) at ${formatNs(r.virtual_ns)} of virtual time: the results so far`];
  if (r.failure !== undefined) return [`FAILED at ${formatNs(r.virtual_ns)} of virtual time: ${r.failure}; the results so far`];
  return [];
}

/** A run in which CPU processes died says so first, not only in the JSON's `degraded`. */
function degradedLine(r: RunResults): string[] {
  const d = (r as RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } }).degraded;
  if (!d) return [];
  const cpus = d.dead_cpus.length === 1 ? `cpu ${d.dead_cpus[0]}` : `cpus ${d.dead_cpus.join(", ")}`;
  return [`DEGRADED: ${cpus} died during the run (process crashed or declared dead); ${d.lost_on_crash} packets lost with ${d.dead_cpus.length === 1 ? "it" : "them"}`];
}

function header(r: RunResults, wallMs: number): string {
  const perWallSecond = wallMs > 0 ? r.totals.injected / (wallMs / 1000) : 0;
  return [
    `profile ${r.profile}`,
    `seed ${r.seed}`,
    `engine ${r.engine}`,
    `${r.cpus.length} CPUs`,
    `virtual ${formatNs(r.virtual_ns)}`,
    `wall ${(wallMs / 1000).toFixed(2)}s`,
    `${si(perWallSecond)} packets/wall-s`,
  ].join(" · ");
}

function cpuTable(r: RunResults, color: boolean): string {
  const head = ["cpu", "online", "processed", "dropped", "squeeze", "rcv_rps", "flow_lim", "backlog", "ipis_sent", "NET_RX", "wakeups", "lost_wk", "rt_warn"];
  // Borderless, like `column -t`: thirteen columns fit in ~110 characters.
  const table = new Table({
    head,
    chars: BORDERLESS,
    style: { head: color ? ["cyan"] : [], border: [], "padding-left": 0, "padding-right": 0 },
    colAligns: head.map((_, i) => (i === 1 ? "center" : "right")),
  });
  for (const c of r.cpus) {
    table.push([
      c.cpu,
      c.online ? "yes" : "no",
      c.processed,
      c.dropped,
      c.time_squeeze,
      c.received_rps,
      c.flow_limit_count,
      c.backlog_len,
      c.ipis_sent,
      c.net_rx_softirqs,
      c.thread_wakeups,
      c.lost_wakeups,
      c.rt_flush_warnings,
    ]);
  }
  return table.toString();
}

/** The accounting identity of docs/DESIGN.md §2.4, with the drop reasons that occurred. */
function totalsLine(r: RunResults): string {
  const t = r.totals;
  const reasons = DROP_REASONS.filter((k) => t.dropped_by_reason[k] > 0).map((k) => `${k} ${t.dropped_by_reason[k]}`);
  return (
    `injected ${t.injected} = processed ${t.processed} + dropped ${t.dropped}${reasons.length ? ` (${reasons.join(", ")})` : ""}` +
    ` + queued ${t.queued} + in_flight ${t.in_flight} + lost_on_crash ${t.lost_on_crash} · reordered ${t.reordered}` +
    (t.socket
      ? `\nsocket: processed ${t.processed} = consumed ${t.socket.consumed} + queued ${t.socket.queued} + rcvbuf_errors ${t.socket.rcvbuf_errors} + in_flight ${t.socket.in_flight}`
      : "")
  );
}

function latencyLine(r: RunResults): string {
  const l = r.latency_ns;
  // Nothing processed: no latency to show (0ns would read as instant).
  if (r.totals.processed === 0) return "latency injected→processed: n/a (nothing was processed)";
  return `latency injected→processed: p50 ${formatNs(l.p50)} · p99 ${formatNs(l.p99)} · max ${formatNs(l.max)} · mean ${formatNs(Math.round(l.mean))}`;
}

function eventsLine(r: RunResults): string[] {
  if (r.events.length === 0) return [];
  return [`hotplug: ${r.events.map((e) => `${e.action} CPU ${e.cpu} at ${formatNs(e.at_ns)}`).join(", ")}`];
}

function checkerLines(r: RunResults): string[] {
  const v = r.checker.violations;
  // A crashed CPU process leaves checkpoints unchecked: the verdict says what it covers.
  const u = r.checker.unchecked;
  const unchecked = u ? [`  ${u.checkpoints} checkpoint${u.checkpoints === 1 ? "" : "s"} from ${formatNs(u.from_ns)} on not checked: ${u.reason}`] : [];
  if (r.checker.ok) return ["checker: OK (every packet accounted for)", ...unchecked];
  const shown = v.slice(0, MAX_VIOLATIONS_SHOWN).map((s) => `  - ${s}`);
  const more = v.length > MAX_VIOLATIONS_SHOWN ? [`  ... and ${v.length - MAX_VIOLATIONS_SHOWN} more (see --json)`] : [];
  return [`checker: FAILED, ${v.length} violation${v.length === 1 ? "" : "s"}:`, ...shown, ...more, ...unchecked];
}

/** The liveness verdict: stalls (which CPU, since when, why) and the drain after the load stopped. */
function livenessLines(r: RunResults): string[] {
  const l = r.liveness;
  if (!l) return [];
  const drain =
    l.load_end_ns === null
      ? ""
      : l.drained_at_ns !== null
        ? `; drained at ${formatNs(l.drained_at_ns)} after the load stopped at ${formatNs(l.load_end_ns)}`
        : r.virtual_ns < l.load_end_ns + l.drain_limit_ns
          ? `; the load stopped at ${formatNs(l.load_end_ns)} (drain not judged: the run ended before ${formatNs(l.load_end_ns + l.drain_limit_ns)})`
          : "";
  if (l.ok) return [`liveness: OK (no backlog stalled for ${formatNs(l.stall_after_ns)}${drain})`];
  const shown = l.violations.slice(0, MAX_VIOLATIONS_SHOWN).map((s) => `  - ${s}`);
  const more = l.violations.length > MAX_VIOLATIONS_SHOWN ? [`  ... and ${l.violations.length - MAX_VIOLATIONS_SHOWN} more (see --json)`] : [];
  const stalled = l.stalls.length > 0 ? `${l.stalls.length} stalled backlog${l.stalls.length === 1 ? "" : "s"} (CPU ${[...new Set(l.stalls.map((s) => s.cpu))].join(", ")})` : "";
  const notDrained = l.violations.some((v) => v.startsWith("not drained")) ? "not drained" : "";
  return [`liveness: FAILED, ${[stalled, notDrained].filter(Boolean).join(", ")}:`, ...shown, ...more];
}

/** 2380000 → `2.38M` */
function si(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}
