// The stall detector: a CPU whose backlog is non-empty but whose `processed` counter stays flat
// for `stallAfterNs` of virtual time is stalled — the lost wake-up of backlog threads without
// patch 1 (docs/DESIGN.md §1.5) is the case it exists for. Fed at checkpoints, so times are checkpoint
// times: `since_ns` is the last checkpoint at which the CPU made progress or had nothing to do.
//
// Not a stall: an offline or crashed CPU (nothing runs there by design), and the time inside an
// injected irq_off section or ipi_delay window on that CPU — those are faults of their own kind,
// logged in faults[]; the stall clock restarts when such a window ends. The same for the scenario's
// own stalls (model/stall.ts: the CPU lost the processor), seen in busy_ns.stalled. `processed` counts every
// packet the CPU handles, so a backlog starved while the CPU polls a NIC is not seen (conservative).
import type { CpuCounters, Stall } from "../model/results.ts";

/** A stretch of virtual time [from, to) on one CPU that does not count towards a stall. */
export interface Excuse {
  cpu: number;
  from: number;
  to: number;
}

interface CpuState {
  processed: number;
  /** Last time it made progress or had nothing to do. */
  progressNs: number;
  /** Last observation time (the distributed engine repeats snapshots). */
  seenNs: number;
  open: Stall | null;
  excuses: Excuse[];
  nextExcuse: number;
  /** End of the latest excuse that has started. */
  excusedUntil: number;
  /** busy_ns.stalled at the last observation (the scenario's stalls, model/stall.ts). */
  stalledNs: number;
}

export class StallDetector {
  readonly stalls: Stall[] = [];
  private readonly cpus: CpuState[];

  constructor(
    cpuCount: number,
    readonly stallAfterNs: number,
    excuses: readonly Excuse[],
  ) {
    this.cpus = Array.from({ length: cpuCount }, (_, cpu) => ({
      processed: 0,
      progressNs: 0,
      seenNs: -1,
      open: null,
      excuses: excuses.filter((e) => e.cpu === cpu).sort((a, b) => a.from - b.from),
      nextExcuse: 0,
      excusedUntil: -1,
      stalledNs: 0,
    }));
  }

  /** One CPU's counters at virtual time `atNs` (times only grow per CPU). */
  observe(c: CpuCounters, atNs: number, dead = false): void {
    const st = this.cpus[c.cpu]!;
    if (atNs <= st.seenNs) return;
    st.seenNs = atNs;
    while (st.nextExcuse < st.excuses.length && st.excuses[st.nextExcuse]!.from <= atNs)
      st.excusedUntil = Math.max(st.excusedUntil, st.excuses[st.nextExcuse++]!.to);
    // A scenario stall (model/stall.ts) books its whole length when it starts, so one that grew
    // busy_ns.stalled since the last look started no later than now and ends within that much.
    const stalled = c.busy_ns?.stalled ?? 0;
    if (stalled > st.stalledNs) st.excusedUntil = Math.max(st.excusedUntil, atNs + (stalled - st.stalledNs));
    st.stalledNs = stalled;
    const backlog = c.input_qlen + c.process_qlen;
    if (!c.online || dead || backlog === 0 || c.processed !== st.processed) {
      st.processed = c.processed;
      st.progressNs = atNs;
      if (st.open) st.open.until_ns = atNs;
      st.open = null;
      return;
    }
    // Inside (or just after) an injected irqs-off section or IPI delay: the clock restarts at its end.
    st.progressNs = Math.max(st.progressNs, Math.min(st.excusedUntil, atNs));
    if (!st.open && atNs - st.progressNs >= this.stallAfterNs) {
      st.open = {
        cpu: c.cpu,
        since_ns: st.progressNs,
        backlog_len: backlog,
        detected_ns: atNs,
        until_ns: null,
        state: c.backlog_scheduled ? "scheduled" : "unscheduled",
      };
      this.stalls.push(st.open);
    }
  }
}
