// The liveness verdict of every run, both engines: fed the consistent checkpoints of a run (every
// CPU's counters at one virtual time), it finds stalled backlogs (chaos/stall.ts), says why each
// stalled from what the counters did meanwhile, and, when the load stops before the end of the run,
// whether everything drained. Separate from the checker, which judges safety (conservation).
//
// Deterministic: it looks only at the checkpoints of the run's default schedule (every 1/100 of the
// run and the end, engine/checkpoints.ts), whatever extra ones a paced run or a series sample adds,
// so the verdict of a run does not depend on how it was paced or sampled. Chaos runs give their own
// schedule (gridNs 0: every checkpoint they are fed) and excuses (chaos/checker.ts).
import type { EmuConfig } from "../model/config.ts";
import type { CpuCounters, DiagnosedStall, ExecContext, Liveness, RunResults, Stall, StallCause } from "../model/results.ts";
import { defaultCheckIntervalNs } from "../engine/checkpoints.ts";
import { StallDetector, type Excuse } from "./stall.ts";

/** A non-empty backlog that processes nothing this long (virtual) is stalled. */
export const DEFAULT_STALL_AFTER_NS = 5_000_000;
/** How long after the load stops every queue must be empty. */
export const DEFAULT_DRAIN_LIMIT_NS = 20_000_000;

export interface LivenessSettings {
  stallAfterNs?: number;
  drainLimitNs?: number;
  /** Observe only checkpoints at multiples of this (and the end); 0: every one. Default: the run's check interval. */
  gridNs?: number;
  /** Stretches of time per CPU that do not count towards a stall (injected faults). */
  excuses?: readonly Excuse[];
  /** When the load stops (default: from the configuration's load phases). */
  loadEndNs?: number | null;
}

/** When every load phase has ended, if that is before the end of the run; else null. */
export function loadEndOf(cfg: EmuConfig): number | null {
  const end = cfg.load.reduce((m, p) => Math.max(m, p.end_ns), 0);
  return end < cfg.duration_ns ? end : null;
}

/** What the diagnosis needs of a CPU at a checkpoint. */
interface Seen {
  atNs: number;
  lost_wakeups: number;
  busy: Record<ExecContext, number>;
}

const seen = (c: CpuCounters, atNs: number): Seen => ({ atNs, lost_wakeups: c.lost_wakeups, busy: { ...c.busy_ns } });

export class LivenessJudge {
  readonly detector: StallDetector;
  private readonly endNs: number;
  private readonly gridNs: number;
  private readonly drainLimitNs: number;
  private readonly loadEndNs: number | null;
  /** Per CPU: the counters at its last progress (or empty backlog), to say what happened since. */
  private readonly progress: (Seen | undefined)[];
  private readonly diagnosed = new Map<Stall, { why: StallCause; reason: string }>();
  /** Per CPU: `processed` at its last observation. */
  private readonly processedAt: number[] = [];
  private drainedAtNs: number | null = null;
  private lastNs = -1;

  constructor(cfg: Pick<EmuConfig, "cpus" | "duration_ns" | "load">, s: LivenessSettings = {}) {
    this.endNs = cfg.duration_ns;
    this.gridNs = s.gridNs ?? defaultCheckIntervalNs(cfg.duration_ns);
    this.drainLimitNs = s.drainLimitNs ?? DEFAULT_DRAIN_LIMIT_NS;
    this.loadEndNs = s.loadEndNs !== undefined ? s.loadEndNs : loadEndOf(cfg as EmuConfig);
    this.detector = new StallDetector(cfg.cpus, s.stallAfterNs ?? DEFAULT_STALL_AFTER_NS, s.excuses ?? []);
    this.progress = new Array<Seen | undefined>(cfg.cpus).fill(undefined);
  }

  /** For an engine's onCheckpoint: every CPU's counters at `atNs` (a consistent cut). */
  readonly onCheckpoint = (atNs: number, counters: readonly CpuCounters[]): void => {
    if (this.gridNs > 0 && atNs % this.gridNs !== 0 && atNs !== this.endNs) return;
    this.observe(atNs, counters);
  };

  /** A consistent cut: stalls, and the drain once the load has stopped. */
  observe(atNs: number, counters: readonly CpuCounters[], dead: ReadonlySet<number> = new Set()): void {
    if (atNs <= this.lastNs) return;
    this.lastNs = atNs;
    for (const c of counters) this.observeCpu(c, atNs, dead.has(c.cpu));
    if (this.loadEndNs !== null && atNs >= this.loadEndNs && this.drainedAtNs === null) {
      let queued = 0;
      let out = 0;
      for (const c of counters) {
        queued += c.queued;
        out += c.packets_out - c.packets_in;
      }
      if (queued === 0 && out === 0) this.drainedAtNs = atNs;
    }
  }

  /** One CPU at its own time (the distributed engine's snapshots in chaos runs). */
  observeCpu(c: CpuCounters, atNs: number, dead = false): void {
    const before = this.detector.stalls.length;
    const backlog = c.input_qlen + c.process_qlen;
    const prev = this.progress[c.cpu];
    this.detector.observe(c, atNs, dead);
    // A stall just detected: diagnose it from what the CPU did since its last progress.
    for (const st of this.detector.stalls.slice(before)) this.diagnosed.set(st, diagnose(st, c, prev));
    if (!c.online || dead || backlog === 0 || prev === undefined || c.processed !== this.processedAt[c.cpu])
      this.progress[c.cpu] = seen(c, atNs);
    this.processedAt[c.cpu] = c.processed;
  }

  /** The verdict on `r` (its end observed too); sets r.liveness and returns it. */
  finish(r: RunResults, o: { drainedAtNs?: number | null } = {}): Liveness {
    const dead = new Set((r as { degraded?: { dead_cpus: number[] } }).degraded?.dead_cpus ?? []);
    // The end, when no checkpoint fed it (a stop between checkpoints, a crashed CPU, an interrupt).
    if (r.virtual_ns > this.lastNs) this.observe(r.virtual_ns, r.cpus, dead);
    if (o.drainedAtNs !== undefined && o.drainedAtNs !== null) this.drainedAtNs ??= o.drainedAtNs;
    const stalls: DiagnosedStall[] = this.detector.stalls.map((st) => ({ ...st, ...(this.diagnosed.get(st) ?? { why: "not_polled", reason: "" }) }));
    const violations = stalls.map(stallLine);
    const judgedDrain = this.loadEndNs !== null && r.virtual_ns >= this.loadEndNs + this.drainLimitNs;
    if (judgedDrain && this.drainedAtNs === null) {
      const held = r.cpus.filter((c) => c.queued > 0).map((c) => `CPU ${c.cpu} ${c.queued}`);
      const parts = [...(held.length ? [`queued: ${held.join(", ")}`] : []), ...(r.totals.in_flight > 0 ? [`${r.totals.in_flight} in flight`] : [])];
      violations.push(
        `not drained: the load stopped at ${ms(this.loadEndNs!)} and ${ms(r.virtual_ns - this.loadEndNs!)} later (at the end, ${ms(r.virtual_ns)}) ` +
          `packets are still held (${parts.join("; ") || "somewhere"})`,
      );
    }
    const liveness: Liveness = {
      ok: violations.length === 0,
      stall_after_ns: this.detector.stallAfterNs,
      stalls,
      load_end_ns: this.loadEndNs,
      drain_limit_ns: this.drainLimitNs,
      drained_at_ns: this.drainedAtNs,
      violations,
    };
    r.liveness = liveness;
    return liveness;
  }
}

/** Why `st` stalled, from the CPU's counters at detection (`now`) and at its last progress (`prev`). */
export function diagnose(st: Stall, now: CpuCounters, prev: Seen | undefined): { why: StallCause; reason: string } {
  const n = `${st.backlog_len} packet(s)`;
  if (now.lost_wakeups > 0 && st.state === "scheduled")
    return {
      why: "lost_wakeup",
      reason:
        `lost wake-up: backlog_napi/${st.cpu} was woken without SCHED_THREADED (conditional wake-up: backlog threads without patch 1) ` +
        `and sleeps with ${n} queued; SCHED stays set, so no later enqueue wakes it (lost_wakeups ${now.lost_wakeups})`,
    };
  const span = Math.max(1, st.detected_ns - (prev?.atNs ?? st.since_ns));
  const delta = (k: ExecContext) => now.busy_ns[k] - (prev?.busy[k] ?? 0);
  if (delta("irqs_off") >= span / 2) return { why: "irqs_off", reason: `irqs off for ${ms(delta("irqs_off"))} of the ${ms(span)} without progress: nothing could run` };
  if (st.state === "unscheduled")
    return { why: "unscheduled", reason: `${n} queued but its backlog NAPI is not scheduled: no IPI, wake-up or softirq will ever poll it` };
  const contexts = (["hardirq", "softirq", "task", "idle_flush"] as const).map((k) => [k, delta(k)] as const).sort((a, b) => b[1] - a[1]);
  const busy = contexts.reduce((s, [, v]) => s + v, 0);
  if (busy >= span * 0.9) return { why: "busy", reason: `the CPU was busy (mostly ${contexts[0]![0]}) for the whole ${ms(span)} and never polled its backlog of ${n}` };
  return {
    why: "not_polled",
    reason: `${n} queued, its backlog NAPI scheduled, yet nothing polled it for ${ms(span)} (the CPU was idle ${ms(span - busy)}): the IPI, softirq or thread wake-up never came`,
  };
}

const SHORT_CAUSE: Record<StallCause, (cpu: number) => string> = {
  lost_wakeup: (cpu) => `lost wake-up of backlog_napi/${cpu} (backlog threads without patch 1)`,
  irqs_off: () => "irqs off",
  unscheduled: () => "its backlog NAPI is not scheduled",
  busy: () => "the CPU was busy elsewhere",
  not_polled: () => "scheduled but never polled",
};

/** One short line per problem, for stderr: which CPU, since when, why. */
export function shortLines(l: Liveness): string[] {
  return [
    ...l.stalls.map(
      (s) => `CPU ${s.cpu} stalled from ${ms(s.since_ns)} (virtual) with ${s.backlog_len} packet(s) in its backlog${s.until_ns === null ? "" : ` until ${ms(s.until_ns)}`}: ${SHORT_CAUSE[s.why](s.cpu)}`,
    ),
    ...l.violations.filter((v) => !v.startsWith("stall: ")),
  ];
}

function stallLine(s: DiagnosedStall): string {
  return (
    `stall: CPU ${s.cpu} processed nothing from ${ms(s.since_ns)} (virtual) with ${s.backlog_len} packet(s) in its backlog ` +
    `(detected at ${ms(s.detected_ns)}, ${s.until_ns === null ? "never recovered" : `recovered at ${ms(s.until_ns)}`}): ${s.reason}`
  );
}

/** Virtual nanoseconds for a line: `2.5ms`, `850us`. */
export function ms(ns: number): string {
  if (ns >= 1e6 || ns === 0) return `${+(ns / 1e6).toFixed(3)}ms`;
  return `${+(ns / 1e3).toFixed(3)}us`;
}

/** An empty verdict for results of the right shape (assertion templates). */
export function emptyLiveness(cfg: Pick<EmuConfig, "duration_ns" | "load">): Liveness {
  return {
    ok: true,
    stall_after_ns: DEFAULT_STALL_AFTER_NS,
    stalls: [],
    load_end_ns: loadEndOf(cfg as EmuConfig),
    drain_limit_ns: DEFAULT_DRAIN_LIMIT_NS,
    drained_at_ns: null,
    violations: [],
  };
}

/** `judged(cfg, opts)`: `opts` with the judge's onCheckpoint chained after theirs, and the judge. */
export function judged<O extends { onCheckpoint?: ((atNs: number, counters: readonly CpuCounters[]) => void | "stop") | undefined }>(
  cfg: Pick<EmuConfig, "cpus" | "duration_ns" | "load">,
  opts: O,
  s: LivenessSettings = {},
): { opts: O; judge: LivenessJudge } {
  const judge = new LivenessJudge(cfg, s);
  const theirs = opts.onCheckpoint;
  return {
    judge,
    opts: {
      ...opts,
      onCheckpoint: (atNs: number, counters: readonly CpuCounters[]) => {
        judge.onCheckpoint(atNs, counters);
        return theirs?.(atNs, counters);
      },
    },
  };
}
