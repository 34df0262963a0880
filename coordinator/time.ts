// Virtual time in a distributed run, as the coordinator drives it: the lease every CPU may run to
// (optionally paced to the wall clock), the end (the scenario's, or earlier after a stop), the
// progress it reports and the check that some CPU still advances. The CPUs' promises to each other
// are capped at the lease (proto/PROTOCOL.md), so the lease is the only clock the coordinator keeps.
import { performance } from "node:perf_hooks";
import { PacedClock } from "../engine/paced-clock.ts";
import { assert } from "../model/assert.ts";
import type { RunState } from "./run-state.ts";

export class Clock {
  private lease_ = 0;
  private end: number;
  /** Under --pace, from the welcome on. */
  private paced: PacedClock | undefined;
  private lastProgressNs = -1;
  private lastMoveMs = 0;
  private lastMovedNs = -1;

  constructor(private readonly run: RunState) {
    this.end = run.cfg.duration_ns;
  }

  get leaseNs(): number {
    return this.lease_;
  }

  get endNs(): number {
    return this.end;
  }

  /** Every CPU has been welcomed: the first lease (and the paced clock's start). */
  start(nowMs: number): number {
    if (this.run.opts.pace !== undefined) this.paced = new PacedClock(this.run.opts.pace, nowMs);
    this.setLease(this.target());
    return this.lease_;
  }

  /**
   * The lease the CPUs may run to now: a span ahead of the fastest (a command at the lease is then
   * never behind any CPU, and laggards never hold the leader back: peers' promises and the
   * transport's back-pressure bound how far it runs ahead), or the paced wall clock, which slips
   * when the slowest CPU has fallen behind it: no burst to catch up.
   */
  private target(): number {
    const { min, max } = this.run.members.progressNs();
    let target = max + this.run.opts.leaseSpanNs;
    if (this.paced) target = Math.min(target, this.paced.targetNs(performance.now(), min));
    return Math.min(this.end, Math.max(this.lease_, target));
  }

  private setLease(ns: number): void {
    assert(ns >= this.lease_ && ns <= this.end, `lease ${this.lease_} -> ${ns} ns (end ${this.end} ns): a lease never goes back nor past the end`);
    this.lease_ = ns;
  }

  extendLease(): void {
    if (this.run.phase !== "running") return;
    const target = this.target();
    // Extend in steps of at least half a span: every extension costs each CPU a promise to each
    // peer (promises are capped at the lease), so no trickle of small ones. The end and the paced
    // clock are taken as they come.
    const step = target - this.lease_;
    if (step > 0 && (step >= this.run.opts.leaseSpanNs / 2 || target === this.end || this.run.opts.pace !== undefined)) {
      this.setLease(target);
      this.run.broadcast({ kind: "lease", lease_ns: this.lease_, end_ns: this.end });
    }
  }

  /** End the run at the current lease instead of the scenario's duration; returns the end. */
  stop(): number {
    this.end = Math.min(this.end, this.lease_);
    this.run.broadcast({ kind: "lease", lease_ns: this.lease_, end_ns: this.end });
    this.run.log(`stop: the run ends at ${this.end} ns`);
    return this.end;
  }

  /** Tell onProgress when the slowest CPU has moved. */
  progressed(): void {
    const { min } = this.run.members.progressNs();
    if (min === this.lastProgressNs) return;
    this.lastProgressNs = min;
    this.run.opts.onProgress?.(min, this.end);
  }

  /** Under --pace: how far the slowest CPU is behind the wall clock, in virtual ns. */
  lagNs(minNs: number): number | undefined {
    return this.paced?.lagNs(performance.now(), minNs, this.end);
  }

  /**
   * Fail the run when no CPU's clock has moved for the stall timeout (a bug, never a slow machine:
   * our own stalls, up to `selfStallEndMs`, are nobody's lack of progress).
   */
  checkStall(now: number, selfStallEndMs: number): void {
    const { min, max } = this.run.members.progressNs();
    const moved = min + max;
    if (selfStallEndMs > this.lastMoveMs) this.lastMoveMs = selfStallEndMs;
    if (moved !== this.lastMovedNs) {
      this.lastMovedNs = moved;
      this.lastMoveMs = now;
      return;
    }
    const limit = this.run.opts.stallTimeoutMs ?? 60_000;
    if (now - this.lastMoveMs <= limit) return;
    const silent = this.run.members.live().filter((m) => m.suspected);
    const why =
      silent.length > 0
        ? `cpu ${silent.map((m) => m.cpu).join(", ")} silent (the process is alive: stopped or starved?)`
        : `the synchronisation is stuck (seed ${this.run.cfg.seed})`;
    this.run.fail(`no cpu advanced for ${Math.round((now - this.lastMoveMs) / 1000)} s (virtual ${min}-${max} ns, lease ${this.lease_} ns): ${why}`);
  }
}
