// Seeded load: when packets arrive at a source (NIC queue or loopback sender) and of which flow.
// A generator is a pure function of (phases, seed) plus the commands applied to it, and its state
// can be saved and restored, so a source can move between CPUs mid-run without changing results.
import type { LoadPhaseConfig } from "./config.ts";
import { Rng, subSeed } from "./rng.ts";

/**
 * How far behind its schedule a paced sender may fall and still send the overdue packets at once:
 * Linux's default timer slack, the jitter a task sleeping to absolute deadlines sees anyway. What
 * it fell behind beyond that (a stall, a migration, a CPU too busy) is skipped, not sent in a burst:
 * a token bucket this deep.
 */
export const SENDER_SLACK_NS = 50_000;

/** Flow ids are global: each source owns a block of 2^20 ids. */
export const FLOWS_PER_SOURCE = 1 << 20;

export class LoadGenerator {
  private readonly rng: Rng;
  private phase = 0;
  /** Arrivals emitted in the current phase (constant-rate schedules count from the phase start). */
  private k = 0;
  private nextNs = Infinity;
  private overridePps = -1;
  private overrideFromNs = 0;
  /** How late the sender's schedule runs (constant/on-off): lateness it did not catch up on. */
  private shiftNs = 0;
  private readonly seqs: Uint32Array;
  private readonly cdfs: (Float64Array | null)[];
  /** Share of packets that go to the hot flow (flow 0 of the source), from the `hot_flow` fault. */
  hotShare = 0;
  /** The flow and sequence of the packet last returned by take(). */
  flow = 0;
  seq = 0;

  constructor(
    readonly source: number,
    private readonly phases: readonly LoadPhaseConfig[],
    seed: number,
  ) {
    this.rng = new Rng(subSeed(seed, source));
    this.seqs = new Uint32Array(Math.max(1, ...phases.map((p) => p.flows)));
    this.cdfs = phases.map((p) => (p.popularity.kind === "zipf" ? zipfCdf(p.flows, p.popularity.s) : null));
    this.nextNs = this.firstArrival(0);
  }

  /** Virtual time of the next arrival, Infinity when the load is over. */
  peekNs(): number {
    return this.nextNs;
  }

  /**
   * Consume the next arrival: sets `flow` and `seq`, returns its time. A sender task passes the
   * time it actually sends (`sentNs`): a closed-loop phase may send again from then on, and an
   * open-loop one that fell more than SENDER_SLACK_NS behind skips what is beyond that (no burst
   * of missed packets) unless the phase says `catch_up`. NIC arrivals pass nothing: the wire does
   * not wait for the CPU.
   */
  take(sentNs?: number): number {
    const at = this.nextNs;
    const p = this.phases[this.phase]!;
    const cdf = this.cdfs[this.phase];
    const hot = this.hotShare > 0 && this.rng.next() < this.hotShare;
    const f = hot ? 0 : cdf ? sampleCdf(cdf, this.rng.next()) : Math.floor(this.rng.next() * p.flows);
    this.flow = this.source * FLOWS_PER_SOURCE + f;
    this.seq = this.seqs[f]!;
    this.seqs[f] = this.seq + 1;
    this.k++;
    if (sentNs === undefined) {
      this.nextNs = this.scheduleNext(at);
      return at;
    }
    const phase = this.phase;
    if (this.closedLoop(p)) {
      this.nextNs = this.clip(p, Math.max(at, sentNs));
      return at;
    }
    let next = this.scheduleNext(at);
    const late = sentNs - at;
    if (late > SENDER_SLACK_NS && next <= sentNs && this.phase === phase && !p.catch_up) {
      // The next packet is due already: a paced sender that woke this late sends at most the
      // slack's worth of missed packets back to back; its schedule moves by the rest.
      const skip = late - SENDER_SLACK_NS;
      this.shiftNs += skip;
      next = this.clip(p, next + skip);
    }
    this.nextNs = next;
    return at;
  }

  /** Change the offered rate from atNs on (the control API's `rate`). */
  setRate(pps: number, atNs: number): void {
    this.overridePps = pps;
    this.overrideFromNs = atNs;
    this.k = 0;
    this.shiftNs = 0;
    // The phase that holds atNs: a rate of 0 (or one too low for its phase) ran the generator past
    // its phases, and a later rate must resume the source, not leave it stopped for good.
    let phase = 0;
    while (phase < this.phases.length && this.phases[phase]!.end_ns <= atNs) phase++;
    this.phase = phase;
    this.nextNs = this.scheduleFrom(atNs);
  }

  /** setRate(pps, atNs) is the rate change in force (a replayed command must not apply twice). */
  hasRate(pps: number, atNs: number): boolean {
    return this.overridePps === pps && this.overrideFromNs === atNs;
  }

  save(): number[] {
    return [this.rng.save(), this.phase, this.k, this.nextNs, this.overridePps, this.overrideFromNs, this.hotShare, this.shiftNs, ...this.seqs];
  }

  static restore(source: number, phases: readonly LoadPhaseConfig[], seed: number, state: readonly number[]): LoadGenerator {
    const g = new LoadGenerator(source, phases, seed);
    (g as unknown as { rng: Rng }).rng = new Rng(state[0]!);
    g.phase = state[1]!;
    g.k = state[2]!;
    g.nextNs = state[3] === null ? Infinity : state[3]!;
    g.overridePps = state[4]!;
    g.overrideFromNs = state[5]!;
    g.hotShare = state[6]!;
    g.shiftNs = state[7]!;
    for (let i = 0; i < g.seqs.length; i++) g.seqs[i] = state[8 + i] ?? 0;
    return g;
  }

  private ppsOf(p: LoadPhaseConfig): number {
    if (this.overridePps >= 0) return this.overridePps;
    // A closed loop has no rate; the schedules below never ask for one (closedLoop() first).
    return p.rate.kind === "max" ? 0 : p.rate.pps;
  }

  /** A `max` phase, unless the control API set a rate (then it is paced at that rate). */
  private closedLoop(p: LoadPhaseConfig): boolean {
    return p.rate.kind === "max" && this.overridePps < 0;
  }

  private firstArrival(phase: number): number {
    this.phase = phase;
    this.k = 0;
    this.shiftNs = 0;
    const p = this.phases[phase];
    if (!p) return Infinity;
    return this.scheduleFrom(p.start_ns);
  }

  /** The first arrival at or after fromNs in the current phase (or a later one). */
  private scheduleFrom(fromNs: number): number {
    const p = this.phases[this.phase];
    if (!p) return Infinity;
    const start = Math.max(fromNs, p.start_ns);
    if (this.closedLoop(p)) return this.clip(p, start);
    const pps = this.ppsOf(p);
    if (pps <= 0 || start >= p.end_ns) return this.firstArrival(this.phase + 1);
    if (p.rate.kind === "poisson") return this.clip(p, this.onWindow(p, start + Math.round(this.rng.exponential(1e9 / pps))));
    return this.clip(p, this.onWindow(p, start));
  }

  private scheduleNext(prevNs: number): number {
    const p = this.phases[this.phase]!;
    const pps = this.ppsOf(p);
    if (pps <= 0) return this.firstArrival(this.phase + 1);
    if (p.rate.kind === "poisson")
      return this.clip(p, this.onWindow(p, prevNs + Math.max(1, Math.round(this.rng.exponential(1e9 / pps)))));
    // Constant and on-off: the k-th arrival is k intervals of sending time after the origin.
    const origin = (this.overridePps >= 0 ? Math.max(p.start_ns, this.overrideFromNs) : p.start_ns) + this.shiftNs;
    const sendingNs = Math.floor((this.k * 1e9) / pps);
    let t = origin + sendingNs;
    if (p.rate.kind === "onoff") {
      const periods = Math.floor(sendingNs / p.rate.on_ns);
      t = origin + periods * (p.rate.on_ns + p.rate.off_ns) + (sendingNs % p.rate.on_ns);
    }
    return this.clip(p, Math.max(t, prevNs));
  }

  /** Poisson on-off sources: an arrival in the off part moves to the next on part. */
  private onWindow(p: LoadPhaseConfig, t: number): number {
    if (p.rate.kind !== "onoff") return t;
    const period = p.rate.on_ns + p.rate.off_ns;
    const into = (t - p.start_ns) % period;
    return into < p.rate.on_ns ? t : t + (period - into);
  }

  private clip(p: LoadPhaseConfig, t: number): number {
    return t < p.end_ns ? t : this.firstArrival(this.phase + 1);
  }
}

function zipfCdf(n: number, s: number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += 1 / Math.pow(i + 1, s);
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  return cdf;
}

function sampleCdf(cdf: Float64Array, u: number): number {
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
