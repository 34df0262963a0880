// Accounting for CPU processes that died without an orderly offline (proto/PROTOCOL.md, "After a
// crash"). A dead CPU is a box whose contents were last seen in its last report R (counters at
// R.now_ns). After R, packets went in (every packet its peers sent it beyond what it had taken in
// by R) and came out (every packet its peers received from it beyond what it had sent by R), and
// it injected some itself: those its peers received are counted by the crash stamps on its
// batches (cpu-node/receipts.ts, "fresh"); those it kept were never counted anywhere. What is
// left in the box is lost_on_crash:
//
//   lost = queued(R) + (in − packets_in(R)) − (out − packets_out(R)) + fresh
//
// with `in` and `out` the per-link packet totals of the peers that saw the end of the link (a
// survivor's final report, or a dead peer's last report when it had already learnt of this death
// and stopped talking to it). The counts are exact; where they cannot be — two dead CPUs that
// traded packets and neither outlived the other, a report that never arrived, packets from a
// hotplug passing through — the account says why and the checker fails.
import type { CpuCounters } from "../model/results.ts";
import type { DeadPeerReceipts, Report } from "../transport/codec.ts";
import { CoordinatorError } from "./errors.ts";

/** One CPU as the crash policy sees it at the end. */
export interface Member {
  cpu: number;
  dead: boolean;
  /** Its last full report (for a live CPU, its final one); undefined if it never reported. */
  report?: Report;
  counters?: CpuCounters;
}

export interface CrashAccount {
  /** The dead CPU's row as aggregate() must see it (see rewriteRow). */
  row: CpuCounters;
  lost: number;
  fresh: number;
  /** Why the figure is not exact (empty: it is). */
  inexact: string[];
}

/** Did `m`'s last report come after it had learnt of `dead`'s death (and so stopped talking to it)? */
function saw(m: Member, dead: number): boolean {
  return m.report?.dead_receipts.some((d) => d.cpu === dead) ?? false;
}

const tx = (m: Member, to: number): number => m.report?.tx_packets[to] ?? 0;
const rx = (m: Member, from: number): number => m.report?.rx_packets[from] ?? 0;

/**
 * Account for `dead` given every member (live ones with their final reports). `zero` gives a
 * counters row of zeros for a CPU that died before its first report.
 */
export function accountCrash(dead: Member, members: readonly Member[], zero: (cpu: number) => CpuCounters): CrashAccount {
  const d = dead.cpu;
  const last = dead.counters ?? zero(d);
  const seq = dead.report?.seq ?? 0;
  const inexact: string[] = [];
  let into = 0;
  let outOf = 0;
  let fresh = 0;
  for (const m of members) {
    if (m.cpu === d) continue;
    if (!m.dead || saw(m, d)) {
      // m outlived the link: its totals are final, and it counted what d injected after R.
      into += tx(m, d);
      outOf += rx(m, d);
      const r: DeadPeerReceipts | undefined = m.report?.dead_receipts.find((x) => x.cpu === d);
      if (r) {
        fresh += r.fresh;
        if (r.report_seq !== seq) inexact.push(`cpu ${m.cpu} counted cpu ${d}'s packets against report ${r.report_seq}, the coordinator has ${seq}`);
        if (r.later) inexact.push(`cpu ${d}'s last report never reached the coordinator, but batches sent after it reached cpu ${m.cpu}`);
        if (r.unsure) inexact.push(`cpu ${d} died while a hotplug was settling: packets injected elsewhere may have passed through it to cpu ${m.cpu}`);
      } else if (rx(m, d) > 0 && m.report !== undefined) {
        inexact.push(`cpu ${m.cpu} gave no receipts for dead cpu ${d}`);
      }
    } else if (saw(dead, m.cpu)) {
      // m died first and d had stopped talking to it: d's own totals for the link are final.
      into += rx(dead, m.cpu);
      outOf += tx(dead, m.cpu);
    } else {
      // Both died and neither outlived the other: what crossed between them after their reports
      // is known to nobody.
      const traded = tx(m, d) + rx(m, d) + tx(dead, m.cpu) + rx(dead, m.cpu);
      if (traded > 0) inexact.push(`cpus ${d} and ${m.cpu} died together and had traded ${traded} packets: what crossed between them after their last reports is unknown`);
      into += rx(dead, m.cpu);
      outOf += tx(dead, m.cpu);
    }
  }
  const lost = last.queued + (into - last.packets_in) - (outOf - last.packets_out) + fresh;
  // The same figure from the row's own balance: a report whose counters do not balance is a bug.
  const dropped = Object.values(last.drops_by_reason).reduce((a, b) => a + b, 0);
  const balance = last.injected + last.packets_in - last.packets_out - last.processed - dropped;
  if (balance !== last.queued) inexact.push(`cpu ${d}'s last report does not balance (injected + in − out − processed − dropped = ${balance}, queued ${last.queued})`);
  if (lost < 0) inexact.push(`cpu ${d}: lost_on_crash came out negative (${lost})`);
  return { row: rewriteRow(last, into, outOf + lost, fresh), lost, fresh, inexact };
}

/**
 * engine/aggregate.ts computes in_flight = Σ packets_out − Σ packets_in − lost_on_crash, and every
 * row must balance (injected + in − out = processed + dropped + queued). So the dead row takes the
 * link totals: everything sent to it counts as taken in, everything received from it — and what
 * was lost with it — as sent out, its fresh packets as injected; nothing stays queued. Per live
 * CPU nothing changes.
 */
function rewriteRow(last: CpuCounters, into: number, outOf: number, fresh: number): CpuCounters {
  return {
    ...structuredClone(last),
    online: false,
    queued: 0,
    input_qlen: 0,
    process_qlen: 0,
    injected: last.injected + fresh,
    packets_in: into,
    packets_out: outOf,
  };
}

/**
 * lost_on_crash as far as it is known while the run goes on, for /metrics: the dead CPUs that every
 * CPU still alive has answered for (the receipts of its latest report). Until then what a dead CPU
 * held is not known and counts nothing; the end of the run computes the figure again (exactly, or
 * the checker says why not).
 */
export function knownLoss(members: readonly Member[], zero: (cpu: number) => CpuCounters): number {
  let lost = 0;
  for (const d of members) {
    if (!d.dead || !members.every((m) => m.cpu === d.cpu || m.dead || saw(m, d.cpu))) continue;
    try {
      lost += Math.max(0, accountCrash(d, members, zero).lost);
    } catch {
      // A CPU that died before any CPU reported: nothing was known to be lost.
    }
  }
  return lost;
}

/** A CPU that died before its first report: zero counters of the same shape as `like`. */
export function emptyCountersLike(cpu: number, like: CpuCounters | undefined): CpuCounters {
  if (!like) throw new CoordinatorError(`cpu ${cpu} died before any cpu reported`);
  const zero = (v: unknown): unknown =>
    typeof v === "number" ? 0 : Array.isArray(v) ? v.map(zero) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zero(x)])) : v;
  return { ...(zero(like) as CpuCounters), cpu, online: false };
}
