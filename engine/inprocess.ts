// The in-process engine: every model CPU in one process, batches carried in memory, the same
// conservative synchronisation as the distributed engine (a CPU advances only up to the earliest
// time any peer could still affect it), so both engines compute the same thing.
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";
import type { CpuCommand, PeerBatch } from "../model/messages.ts";
import type { CpuCounters, RunResults, TimeSeries } from "../model/results.ts";
import { aggregate, conservationViolation, totalsOf } from "./aggregate.ts";
import { defaultCheckIntervalNs } from "./checkpoints.ts";
import { Schedule } from "./schedule.ts";
import { handOut, type PeerTransport } from "../transport/transport.ts";
import { newSeries, sampleSeries } from "./series.ts";

export interface RunOptions {
  /** Called at every checkpoint with the virtual time reached. */
  onProgress?: (virtualNs: number, totalNs: number) => void;
  /** Sample counters every this many virtual ns into results.series. */
  seriesIntervalNs?: number;
  /** Check conservation every this many virtual ns (default: 1/100 of the run, at least 100 µs). */
  checkIntervalNs?: number;
  /** Kernel-style log lines (the first do_softirq_post_smp_call_flush warning, …). */
  log?: (line: string) => void;
  /**
   * Called at every checkpoint (conservation check or series sample) with every CPU's counters, for
   * checkers, stall detectors and abort conditions; answering "stop" ends the run there.
   */
  onCheckpoint?: (atNs: number, counters: readonly CpuCounters[]) => void | "stop";
  /** Extra commands (a nemesis schedule), applied like the scenario's events. */
  commands?: readonly CpuCommand[];
}

/**
 * The in-process PeerTransport: a batch goes straight into the peer's Cpu object. The vouch needs no
 * carrying: every round of advanceAll() reads each peer's promise from its Cpu.
 */
export class DirectDelivery implements PeerTransport {
  constructor(private readonly cpus: readonly Cpu[]) {}

  send(batch: PeerBatch): boolean {
    this.cpus[batch.to]!.deliver(batch);
    return true;
  }
}

/** Advance every CPU to `horizonNs`, exchanging batches, never past a peer's promise. */
export function advanceAll(cpus: Cpu[], horizonNs: number): void {
  const n = cpus.length;
  const direct = new DirectDelivery(cpus);
  // Promises are per destination (model/lookahead.ts): the receiving task's CPU, if any, gets
  // the ones that count socket records; every other CPU those that need not.
  const socketCpu = cpus[0]?.cfg.receiver?.cpu ?? -1;
  for (;;) {
    let done = true;
    const toSocket = cpus.map((c) => c.promiseNs(c.clock));
    const toOthers = socketCpu < 0 ? toSocket : cpus.map((c) => c.promiseToOthersNs(c.clock));
    for (let i = 0; i < n; i++) {
      const promises = i === socketCpu ? toSocket : toOthers;
      let safe = horizonNs;
      for (let j = 0; j < n; j++) if (j !== i && promises[j]! < safe) safe = promises[j]!;
      const cpu = cpus[i]!;
      if (safe > cpu.clock) cpu.advance(safe);
      // Its promise at the round's start: a lower bound of the one it could give now.
      handOut(cpu, direct, (to) => (to === socketCpu ? toSocket[i]! : toOthers[i]!));
      if (cpu.clock < horizonNs) done = false;
    }
    if (done) return;
  }
}

/** A point where every CPU has reached the same virtual time: a conservation check or a series sample. */
export interface Checkpoint {
  atNs: number;
  counters: CpuCounters[];
}

/**
 * An in-process run, stepped checkpoint by checkpoint, so drivers can stop it early, yield to the
 * event loop (a live /metrics) or pace it; runInProcess() is the plain driver.
 */
export class InProcessRun {
  readonly cpus: Cpu[];
  private readonly end: number;
  private readonly series: TimeSeries | undefined;
  private readonly violations: string[] = [];
  /** Conservation checks done so far (results.checker.checkpoints). */
  private checked = 0;
  /** Checkpoints and samples: the same schedule as a CPU process follows (cpu-node/time.ts). */
  private readonly schedule: Schedule;
  /** Virtual time of the last checkpoint reached. */
  atNs = 0;
  /** Virtual time every CPU stands at: the last checkpoint, or a slice boundary after it (advance()). */
  nowNs = 0;

  constructor(
    readonly cfg: EmuConfig,
    private readonly opts: RunOptions = {},
  ) {
    this.cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg));
    if (opts.log) for (const c of this.cpus) c.warnLog = opts.log;
    for (const cmd of opts.commands ?? []) for (const c of this.cpus) c.command(cmd);
    this.end = cfg.duration_ns;
    const seriesEvery = opts.seriesIntervalNs ?? 0;
    this.series = seriesEvery > 0 ? newSeries(cfg.cpus, seriesEvery) : undefined;
    this.schedule = new Schedule(opts.checkIntervalNs ?? defaultCheckIntervalNs(this.end), seriesEvery, this.end);
  }

  get done(): boolean {
    return this.atNs >= this.end;
  }

  /** The next checkpoint: a conservation check, a series sample or the end. */
  get nextCheckpointNs(): number {
    return this.schedule.nextNs();
  }

  /** Advance every CPU to the next checkpoint. */
  step(): Checkpoint {
    const horizon = this.nextCheckpointNs;
    advanceAll(this.cpus, horizon);
    this.atNs = this.nowNs = horizon;
    const counters = this.cpus.map((c) => c.counters(false));
    const schedule = this.schedule;
    if (horizon === schedule.checkNs || horizon === this.end) {
      const v = conservationViolation(totalsOf(counters, 0), horizon);
      if (v && this.violations.length < 20) this.violations.push(v);
      this.checked++;
      schedule.checked();
      this.opts.onProgress?.(horizon, this.end);
    }
    if (this.series && horizon === schedule.sampleNs) {
      sampleSeries(this.series, horizon, counters);
      schedule.sampled();
    }
    return { atNs: horizon, counters };
  }

  /**
   * Advance every CPU towards the next checkpoint but not past `limitNs`: a slice of a step, so a
   * driver can yield to the event loop within a long one. Returns the checkpoint when it is
   * reached. Where the CPUs stop between two checkpoints changes nothing in the results: the
   * synchronisation is conservative (no CPU passes what a peer could still send it), as under the
   * distributed engine's leases, whose ends fall anywhere.
   */
  advance(limitNs: number): Checkpoint | undefined {
    if (limitNs >= this.nextCheckpointNs) return this.step();
    if (limitNs > this.nowNs) {
      advanceAll(this.cpus, limitNs);
      this.nowNs = limitNs;
    }
    return undefined;
  }

  /**
   * End the run where the CPUs stand (a stop between two checkpoints): that point becomes the
   * run's end, checked as every end is. Returns it.
   */
  endHere(): number {
    if (this.nowNs > this.atNs) {
      this.atNs = this.nowNs;
      const v = conservationViolation(totalsOf(this.cpus.map((c) => c.counters(false)), 0), this.atNs);
      if (v && this.violations.length < 20) this.violations.push(v);
      this.checked++;
    }
    return this.atNs;
  }

  /** The results of the run as far as it went (a run stopped early ends at its last checkpoint). */
  results(): RunResults {
    const counters = this.cpus.map((c) => c.counters());
    const cfg = this.done ? this.cfg : { ...this.cfg, duration_ns: this.atNs };
    const results = aggregate(cfg, counters, { engine: "inprocess", lostOnCrash: 0, violations: this.violations, checkpoints: this.checked });
    if (this.series) {
      // The series ends where the run did.
      if (this.series.t_ns.at(-1) !== this.atNs) sampleSeries(this.series, this.atNs, counters);
      results.series = this.series;
    }
    return results;
  }
}

/** Run to the end, or until onCheckpoint answers "stop". */
export function runInProcess(cfg: EmuConfig, opts: RunOptions = {}): RunResults {
  const run = new InProcessRun(cfg, opts);
  while (!run.done) {
    const { atNs, counters } = run.step();
    if (opts.onCheckpoint?.(atNs, counters) === "stop") break;
  }
  return run.results();
}
