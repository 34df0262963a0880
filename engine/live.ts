// The in-process engine driven asynchronously, for `softnet-emu run --engine inprocess` with a live
// /metrics, a control API, --procfs or --pace: the same InProcessRun stepped checkpoint by checkpoint,
// each step in slices of bounded virtual and wall time, with a macrotask between two checkpoints and
// every few ms within a step, so that an HTTP server and signal handlers in this process answer
// during the run, optionally paced so that virtual time follows the wall clock. The steps are those
// of runInProcess(), so the results are too; a command given at run time is checked
// (engine/validate-command.ts, as the coordinator checks its own), applied to every CPU where they
// all stand between two slices and recorded in results.events, as the coordinator records its
// runtime commands, so the run can be replayed.
import { setImmediate as nextMacrotask, setTimeout as sleep } from "node:timers/promises";
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters, RunResults } from "../model/results.ts";
import { conservationViolation, totalsOf } from "./aggregate.ts";
import { InProcessRun, type RunOptions } from "./inprocess.ts";
import { PacedClock } from "./paced-clock.ts";
import { defaultCheckIntervalNs } from "./checkpoints.ts";
import { attachPartial } from "./partial.ts";
import { validateCommand, type CommandContext } from "./validate-command.ts";

export interface LiveOptions extends RunOptions {
  /** Virtual seconds per wall second (1 = real time); undefined: as fast as possible. */
  pace?: number;
  /** Called once set up, before the first step: the handle for a control API. */
  onStart?: (run: LiveRun) => void;
  /** Called at every checkpoint with every CPU's counters (not attributed) and the run's status. */
  onSnapshot?: (counters: readonly CpuCounters[], status: LiveStatus) => void;
  /** Aborting stops the run at the next checkpoint; runInProcessLive() then rejects with the reason. */
  signal?: AbortSignal;
  /** Wall clock in ms; pacing, lag and slicing only (the results never depend on it). */
  nowMs?: () => number;
  /** Advance in slices of exactly this much virtual time (tests); default: adapted to the wall time a slice takes. */
  sliceNs?: number;
}

export interface LiveStatus {
  phase: "running" | "done";
  cpus: number;
  /** The virtual time every CPU has reached (a checkpoint, or a slice boundary after it). */
  virtual_ns: number;
  end_ns: number;
  /**
   * Under --pace: how far virtual time is behind the wall clock since the start, in virtual ns. A run
   * that fell behind slips its clock rather than catch up (engine/paced-clock.ts): this keeps what
   * it gave up.
   */
  lag_ns?: number;
  /** Conservation held at every checkpoint so far. */
  checker_ok: boolean;
  /** Commands given at run time, at the virtual time they took effect. */
  commands: CpuCommand[];
}

/** A run-time command; the engine picks its time (where every CPU stands). */
export type LiveCommand = { kind: "offline" | "online"; cpu: number } | { kind: "rate"; source: number; pps: number };

/** Wall time aimed for between two checkpoints of a paced run: how fresh /metrics is, how soon a command lands. */
const PACED_CHECKPOINT_WALL_MS = 50;

/**
 * Between two checkpoints the CPUs advance in slices of at most this much virtual time, and the
 * driver yields to the event loop once a slice ends YIELD_WALL_MS or more after the last yield:
 * however long a step between two checkpoints takes (1/100 of a 100 s run is 1 virtual s, seconds
 * of wall time at 10⁷ pps), a signal, /control/stop or a scrape waits at most about one slice. At
 * the highest rate a command or a scenario may set (engine/validate-command.ts MAX_COMMAND_PPS,
 * 10⁸ pps) a 1 ms slice is 10⁵ packets per load source, a few ms of wall time; slices shrink when
 * one takes longer than SLICE_WALL_MS. Where a slice ends changes no result (InProcessRun.advance()).
 */
const MAX_SLICE_NS = 1_000_000;
const MIN_SLICE_NS = 1_000;
const SLICE_WALL_MS = 50;
const YIELD_WALL_MS = 10;

export class LiveRun {
  private readonly run: InProcessRun;
  private readonly runtime: CpuCommand[] = [];
  private phase: LiveStatus["phase"] = "running";
  private stopRequested = false;
  private checkerOk = true;
  private lagNs: number | undefined;

  constructor(
    readonly cfg: EmuConfig,
    private readonly opts: LiveOptions = {},
  ) {
    if (opts.pace !== undefined && !(opts.pace > 0)) throw new RangeError(`pace must be > 0, got ${opts.pace}`);
    // Paced: a checkpoint every ~50 ms of wall time, so the dashboards move smoothly; never fewer than
    // runInProcess() takes (more checkpoints change when conservation is checked, not the results).
    const pacedNs = opts.pace !== undefined ? Math.max(1000, Math.round(opts.pace * PACED_CHECKPOINT_WALL_MS * 1e6)) : Infinity;
    const checkIntervalNs = opts.checkIntervalNs ?? dividing(defaultCheckIntervalNs(cfg.duration_ns), pacedNs);
    this.run = new InProcessRun(cfg, { ...opts, checkIntervalNs });
  }

  /**
   * Step to the end (or to a stop), yielding to the event loop between checkpoints and within long
   * steps. Stopped by the signal or by a failure, it rejects with the reason, the results so far
   * hung on it (engine/partial.ts): the run ends where the CPUs stand, as a /control/stop ends it.
   */
  async drive(): Promise<RunResults> {
    try {
      return await this.driveToEnd();
    } catch (err) {
      throw attachPartial(err, this.resultsSoFar());
    }
  }

  private resultsSoFar(): RunResults | undefined {
    try {
      this.run.endHere();
      this.phase = "done";
      return this.results();
    } catch {
      return undefined; // the failure left nothing we can count
    }
  }

  private async driveToEnd(): Promise<RunResults> {
    const now = this.opts.nowMs ?? (() => performance.now());
    const startMs = now();
    const pace = this.opts.pace;
    const clock = pace !== undefined ? new PacedClock(pace, startMs) : undefined;
    let sliceNs = this.opts.sliceNs ?? MAX_SLICE_NS;
    let yieldedMs = now();
    while (!this.run.done && !this.stopRequested) {
      if (this.opts.signal?.aborted) throw this.opts.signal.reason;
      const sliceStartMs = now();
      const checkpoint = this.run.advance(this.run.nowNs + sliceNs);
      const tookMs = now() - sliceStartMs;
      if (this.opts.sliceNs === undefined) {
        // Slow slice: shorter ones from now on; fast ones: back up to the cap.
        if (tookMs > SLICE_WALL_MS) sliceNs = Math.max(MIN_SLICE_NS, Math.floor((sliceNs * SLICE_WALL_MS) / tookMs / 2));
        else if (tookMs < SLICE_WALL_MS / 4) sliceNs = Math.min(MAX_SLICE_NS, sliceNs * 2);
      }
      if (checkpoint === undefined) {
        // Within a step: let signals, requests and timers in now and then.
        if (now() - yieldedMs >= YIELD_WALL_MS) {
          await nextMacrotask();
          yieldedMs = now();
        }
        continue;
      }
      const { atNs, counters } = checkpoint;
      this.checkerOk &&= conservationViolation(totalsOf(counters, 0), atNs) === null;
      const stop = this.opts.onCheckpoint?.(atNs, counters) === "stop";
      // As the coordinator reports it: the paced clock stops at the end of the run.
      if (clock) this.lagNs = clock.lagNs(now(), atNs, this.cfg.duration_ns);
      if (stop || this.run.done) this.phase = "done";
      this.opts.onSnapshot?.(counters, this.status());
      if (stop) break;
      // Ahead of the wall clock: wait for it (timers and HTTP requests run meanwhile); else just let them run.
      // Behind it by more than the slack: the clock slips (no burst to catch up).
      const aheadMs = clock ? clock.aheadMs(now(), atNs) : 0;
      if (aheadMs > 0) await sleep(aheadMs);
      else await nextMacrotask();
      yieldedMs = now();
    }
    if (this.opts.signal?.aborted && !this.run.done) throw this.opts.signal.reason;
    // Stopped between two checkpoints: the run ends where the CPUs stand.
    if (this.stopRequested) this.run.endHere();
    this.phase = "done";
    return this.results();
  }

  private results(): RunResults {
    const results = this.run.results();
    const hotplug = this.runtime.flatMap((c) => (c.kind === "offline" || c.kind === "online" ? [{ at_ns: c.at_ns, cpu: c.cpu, action: c.kind }] : []));
    if (hotplug.length > 0) results.events = [...results.events, ...hotplug].sort((a, b) => a.at_ns - b.at_ns);
    return results;
  }

  /** Apply a command to every CPU where they all stand; refused with a CommandRefused (engine/validate-command.ts). */
  command(req: LiveCommand): CpuCommand {
    const atNs = this.run.nowNs;
    validateCommand(req, this.commandContext(atNs));
    const cmd = { ...req, at_ns: atNs } as CpuCommand;
    for (const cpu of this.run.cpus) cpu.command(cmd);
    this.runtime.push(cmd);
    return cmd;
  }

  private commandContext(atNs: number): CommandContext {
    const closed =
      this.phase !== "running" ? "the run is done; commands are taken while it runs" : this.stopRequested ? "the run is stopping (/control/stop); it takes no more commands" : undefined;
    return {
      cpus: this.cfg.cpus,
      sources: this.cfg.queues.length + this.cfg.senders.length,
      atNs,
      online: (cpu) => this.onlineAt(cpu, atNs),
      ...(closed !== undefined ? { closed } : {}),
    };
  }

  /** Online state of `cpu` at `atNs` after the scenario's events, the planned commands and the runtime ones. */
  private onlineAt(cpu: number, atNs: number): boolean {
    const changes = [
      ...this.cfg.events.map((e) => ({ at_ns: e.at_ns, cpu: e.cpu, kind: e.action })),
      ...(this.opts.commands ?? []),
      ...this.runtime,
    ].filter((e): e is { at_ns: number; cpu: number; kind: "offline" | "online" } => (e.kind === "offline" || e.kind === "online") && e.cpu === cpu && e.at_ns <= atNs);
    // Stable sort: changes at one time keep the order the engine applies them in.
    changes.sort((a, b) => a.at_ns - b.at_ns);
    return changes.length === 0 || changes[changes.length - 1]!.kind === "online";
  }

  /** End the run where the CPUs stand (orderly: results as far as it went); returns that time. */
  stop(): number {
    validateCommand({ kind: "stop" }, this.commandContext(this.run.nowNs));
    this.stopRequested = true;
    return this.run.nowNs;
  }

  status(): LiveStatus {
    return {
      phase: this.phase,
      cpus: this.cfg.cpus,
      virtual_ns: this.run.nowNs,
      end_ns: this.stopRequested ? this.run.nowNs : this.cfg.duration_ns,
      ...(this.lagNs !== undefined ? { lag_ns: this.lagNs } : {}),
      checker_ok: this.checkerOk,
      commands: this.runtime.map((c) => ({ ...c })),
    };
  }
}

/**
 * The check interval of a paced run: at most `maxNs` and a divisor of the run's default interval
 * `defaultNs` when one is near, so that every checkpoint of the default schedule is still one (what
 * the liveness verdict looks at: chaos/liveness.ts), paced or not.
 */
function dividing(defaultNs: number, maxNs: number): number {
  if (maxNs >= defaultNs) return defaultNs;
  const k0 = Math.ceil(defaultNs / maxNs);
  for (let k = k0; k <= 4 * k0; k++) if (defaultNs % k === 0) return defaultNs / k;
  return Math.max(1000, Math.floor(defaultNs / k0));
}

/** runInProcess(), asynchronously: same results, with a live status, pacing and run-time commands. */
export async function runInProcessLive(cfg: EmuConfig, opts: LiveOptions = {}): Promise<RunResults> {
  const run = new LiveRun(cfg, opts);
  opts.onStart?.(run);
  return run.drive();
}
