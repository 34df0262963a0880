// The chaos checker: fed the counters of every checkpoint, it judges a two-phase run.
// Safety (every checkpoint of the chaos phase and the drain):
//   - conservation: injected = processed + dropped + queued + in_flight + lost_on_crash, and with a
//     receiving task processed = consumed + queued on the socket + rcvbuf_errors + in flight to it. The engine
//     checks it at each checkpoint and reports breaks in checker.violations; here we count the
//     checkpoints it held at (in the in-process engine, whose checkpoints are consistent cuts);
//   - per-flow order where the kernel guarantees it (chaos/order.ts).
// Liveness:
//   - no stall (chaos/stall.ts), during either phase;
//   - after the heal, everything drains within the drain limit: at the end every CPU holds nothing
//     (backlog, NIC ring, re-injection queue) and nothing is in flight, else a violation naming the CPU.
import type { CpuCommand } from "../model/messages.ts";
import type { ChaosSummary, CpuCounters, Fault, RunResults } from "../model/results.ts";
import { conservationViolation, totalsOf } from "../engine/aggregate.ts";
import { breaksOrder, OrderChecker } from "./order.ts";
import { LivenessJudge } from "./liveness.ts";
import type { Excuse, StallDetector } from "./stall.ts";

export interface CheckerSetup {
  cpus: number;
  /** Heal time = end of the chaos phase. */
  healNs: number;
  drainLimitNs: number;
  stallAfterNs: number;
  /** Everything applied to the CPUs: scenario events as commands, nemesis faults, heal. */
  commands: readonly CpuCommand[];
  /** Checkpoints are consistent cuts (in-process engine): conservation and drain are checkable there. */
  consistentCuts: boolean;
}

/** irq_off sections and ipi_delay windows, per CPU: not counted towards a stall. */
export function stallExcuses(commands: readonly CpuCommand[]): Excuse[] {
  return commands.flatMap((c): Excuse[] => {
    if (c.kind === "irq_off") return [{ cpu: c.cpu, from: c.at_ns, to: c.at_ns + c.duration_ns }];
    // An IPI sent just before until_ns still arrives extra_ns late.
    if (c.kind === "ipi_delay") return [{ cpu: c.cpu, from: c.at_ns, to: c.until_ns + c.extra_ns }];
    return [];
  });
}

export class ChaosChecker {
  /** The liveness verdict every run gets (results.liveness), here on the chaos run's own checkpoints. */
  readonly judge: LivenessJudge;
  readonly stall: StallDetector;
  readonly order: OrderChecker;
  checkpoints = 0;
  conservationHeld = 0;
  drainedAtNs: number | null = null;

  constructor(private readonly s: CheckerSetup) {
    this.judge = new LivenessJudge(
      { cpus: s.cpus, duration_ns: s.healNs + s.drainLimitNs, load: [] },
      { stallAfterNs: s.stallAfterNs, drainLimitNs: s.drainLimitNs, gridNs: 0, excuses: stallExcuses(s.commands), loadEndNs: s.healNs },
    );
    this.stall = this.judge.detector;
    this.order = new OrderChecker(s.cpus, s.commands.filter(breaksOrder).map((c) => c.at_ns));
  }

  /** A consistent checkpoint (in-process engine). */
  onCheckpoint(atNs: number, counters: readonly CpuCounters[]): void {
    this.checkpoints++;
    const t = totalsOf(counters, 0);
    const empty = t.queued === 0 && t.in_flight === 0;
    // The backlog stage and, with a receiving task, the socket stage (engine/aggregate.ts).
    if (conservationViolation(t, atNs) === null) this.conservationHeld++;
    // After the heal's commands (applied just after the checkpoint at healNs) have taken effect.
    if (empty && atNs > this.s.healNs && this.drainedAtNs === null && counters.every((c) => c.online)) this.drainedAtNs = atNs;
    this.order.check(atNs, counters, empty);
    this.judge.observe(atNs, counters);
  }

  /** A snapshot of the distributed engine: each CPU at its own virtual time; crashed CPUs excused. */
  onSnapshot(counters: readonly CpuCounters[], dead: readonly number[]): void {
    this.checkpoints++;
    for (const c of counters) this.judge.observeCpu(c, c.now_ns, dead.includes(c.cpu));
    // Order, judged at the fastest CPU's time (a change any CPU may have seen counts) and never
    // cleared by a drain (not a consistent cut): no reordering before the first change.
    const fastestNs = Math.max(...counters.map((c) => c.now_ns));
    if (fastestNs > this.lastSnapshotNs) this.order.check(fastestNs, counters, false);
    this.lastSnapshotNs = Math.max(this.lastSnapshotNs, fastestNs);
  }

  private lastSnapshotNs = 0;

  /** Judge the finished run: adds faults, stalls, the chaos summary and violations to `r`. */
  finish(r: RunResults, faults: Fault[], nemeses: string[]): void {
    if (!this.s.consistentCuts && r.totals.queued === 0 && r.totals.in_flight === 0) this.drainedAtNs ??= r.virtual_ns;
    // First: it observes the end too, when no checkpoint did.
    this.judge.finish(r, { drainedAtNs: this.drainedAtNs });
    const violations = [...r.checker.violations, ...this.order.violations];
    for (const st of this.stall.stalls)
      violations.push(
        `stall: CPU ${st.cpu} held ${st.backlog_len} packet(s) in its ${st.state} backlog and processed nothing from ${st.since_ns} ns ` +
          `(detected at ${st.detected_ns} ns, ${st.until_ns === null ? "never recovered" : `recovered at ${st.until_ns} ns`})`,
      );
    const drainEnd = this.s.healNs + this.s.drainLimitNs;
    // A run stopped before its drain limit (a signal: its results so far) is not judged on the drain.
    const ended = this.drainedAtNs !== null || r.virtual_ns >= drainEnd;
    for (const c of r.cpus)
      if (ended && c.queued > 0)
        violations.push(`liveness: CPU ${c.cpu} still holds ${c.queued} packet(s) (backlog ${c.backlog_len}) at ${drainEnd} ns, ${this.s.drainLimitNs} ns after the heal`);
    if (ended && r.totals.in_flight > 0) violations.push(`liveness: ${r.totals.in_flight} packet(s) still in flight at ${drainEnd} ns`);
    const dead = new Set((r as { degraded?: { dead_cpus: number[] } }).degraded?.dead_cpus ?? []);
    for (const c of r.cpus) if (ended && !c.online && !dead.has(c.cpu)) violations.push(`liveness: CPU ${c.cpu} is still offline after the heal`);
    if (!this.s.consistentCuts && r.totals.queued === 0 && r.totals.in_flight === 0) this.drainedAtNs = r.virtual_ns;
    // Keeps what the engine said of its checkpoints (checkpoints, unchecked).
    r.checker = { ...r.checker, ok: violations.length === 0, violations, stalls: this.stall.stalls };
    r.faults = faults;
    const chaos: ChaosSummary = {
      nemeses,
      chaos_ns: this.s.healNs,
      drain_limit_ns: this.s.drainLimitNs,
      stall_after_ns: this.s.stallAfterNs,
      drained_at_ns: this.drainedAtNs,
      checkpoints: this.checkpoints,
      conservation_held: this.conservationHeld,
    };
    r.chaos = chaos;
  }
}
