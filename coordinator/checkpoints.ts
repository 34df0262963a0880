// Conservation at every checkpoint of a distributed run. Each CPU reports its counters at exactly
// each checkpoint time T (engine/checkpoints.ts, the in-process schedule); a CPU's counters at T
// cover exactly its events before T and in_flight = Σ packets_out − Σ packets_in, so the reports of
// one T from every CPU are a consistent cut, checked as engine/inprocess.ts checks its own.
//
// A crashed CPU's own counters exist only up to its last checkpoint report. The crash arithmetic
// (coordinator/crash.ts) needs what survivors sent it and got from it per virtual time, which the
// reports do not carry (and the death itself has no single virtual time: each survivor applies it
// at its own clock). So checkpoints it never reached are not checked, and the results say so
// (checker.unchecked); the end is still checked, with lost_on_crash, by engine/aggregate.ts.
import { conservationViolation, totalsOf } from "../engine/aggregate.ts";
import { checkpointCount } from "../engine/checkpoints.ts";
import { DROP_REASONS, type CpuCounters, type Totals, type UncheckedCheckpoints } from "../model/results.ts";

/** As engine/inprocess.ts: a broken law tends to stay broken; the first few say it all. */
const VIOLATIONS_MAX = 20;

interface Pending {
  cpus: Set<number>;
  /** Totals summed over the CPUs that have reported so far (only the counts the law needs). */
  sum: Totals;
  /** Each CPU's counters at this checkpoint, for the cut's reader (liveness, results so far). */
  counters: CpuCounters[];
}

/** A complete cut: every CPU's counters at `atNs`, in CPU order. */
export type OnCut = (atNs: number, counters: CpuCounters[]) => void;

export class CheckpointCollector {
  /** At most VIOLATIONS_MAX. */
  readonly violations: string[] = [];
  /** Checkpoints checked on a full cut. */
  checked = 0;
  /**
   * Checkpoints some CPU has reported and not every CPU yet. Bounded by the schedule: a report off
   * it is refused before it gets here (coordinator/seams.ts), so at most the run's checkpoints.
   */
  private readonly pending = new Map<number, Pending>();
  /** Per CPU, the last checkpoint it reported (reports of one CPU arrive in time order). */
  private readonly lastReported: number[];
  /** Dead CPUs: checkpoints after their last report can never be complete. */
  private readonly dead = new Set<number>();
  /** The first checkpoint not checked yet (they complete in time order: each CPU reports in order). */
  private firstUncheckedNs: number;

  constructor(
    private readonly cpus: number,
    readonly intervalNs: number,
    /** Called with each complete cut, in time order. */
    private readonly onCut?: OnCut,
  ) {
    this.lastReported = new Array<number>(cpus).fill(-1);
    this.firstUncheckedNs = intervalNs;
  }

  add(atNs: number, cpu: number, counters: CpuCounters): void {
    if (this.dead.has(cpu) || atNs <= this.lastReported[cpu]!) return; // late, or the final report at a checkpoint already given
    this.lastReported[cpu] = atNs;
    if (!this.reachable(atNs)) return;
    let p = this.pending.get(atNs);
    if (!p) this.pending.set(atNs, (p = { cpus: new Set(), sum: totalsOf([], 0), counters: [] }));
    p.cpus.add(cpu);
    addTotals(p.sum, totalsOf([counters], 0));
    p.counters.push(counters);
    if (p.cpus.size < this.cpus) return;
    this.pending.delete(atNs);
    this.checked++;
    if (atNs === this.firstUncheckedNs) this.firstUncheckedNs += this.intervalNs;
    const v = conservationViolation(p.sum, atNs);
    if (v && this.violations.length < VIOLATIONS_MAX) this.violations.push(v);
    this.onCut?.(atNs, p.counters.sort((a, b) => a.cpu - b.cpu));
  }

  /** `cpu` was declared dead: the checkpoints it did not report are dropped. */
  died(cpu: number): void {
    this.dead.add(cpu);
    for (const t of this.pending.keys()) if (!this.reachable(t)) this.pending.delete(t);
  }

  /** Checkpoints of a run to `endNs` that were not checked, and why (none: undefined). */
  unchecked(endNs: number): UncheckedCheckpoints | undefined {
    const missing = checkpointCount(this.intervalNs, endNs) - this.checked;
    if (missing <= 0) return undefined;
    const from = Math.min(this.firstUncheckedNs, endNs);
    const dead = [...this.dead].sort((a, b) => a - b);
    if (dead.length === 0) return { checkpoints: missing, from_ns: from, reason: "some CPU reports of these checkpoints never arrived (malformed)" };
    const last = dead.map((d) => `cpu ${d} ${this.lastReported[d]! < 0 ? "reported none" : `reported up to ${this.lastReported[d]} ns`}`).join(", ");
    return {
      checkpoints: missing,
      from_ns: from,
      reason:
        `CPU process${dead.length > 1 ? "es" : ""} ${dead.join(", ")} died (${last}): no consistent cut exists after that. ` +
        "The end is checked with lost_on_crash (the crash policy's accounting, proto/PROTOCOL.md)",
    };
  }

  private reachable(atNs: number): boolean {
    for (const d of this.dead) if (atNs > this.lastReported[d]!) return false;
    return true;
  }
}

function addTotals(into: Totals, t: Totals): void {
  into.injected += t.injected;
  into.processed += t.processed;
  into.dropped += t.dropped;
  for (const r of DROP_REASONS) into.dropped_by_reason[r] += t.dropped_by_reason[r];
  into.queued += t.queued;
  into.in_flight += t.in_flight;
  into.reordered += t.reordered;
}
