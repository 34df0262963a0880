// The host the vCPUs run on: fewer cores than vCPUs, shared slice by slice (docs/MODEL.md, "The
// host"). Under QEMU the guest's CPUs are host threads; when they want more than the host's
// cores, some wait — a vCPU in the middle of NET_RX, or holding the socket's lock, or halted and
// just sent an IPI. Unlike the fixed-rate stalls (stall.ts), who waits depends on who is busy: a
// busy guest loses time, an idle one does not.
//
// Every CPU plays the host scheduler for every CPU, from the same inputs, so all agree without a
// referee. At each slice boundary k·S a CPU tells every peer its demand: the share of the slice it
// was busy while it had a core (HOST records, taking effect S/2 later). At
// k·S + S/2 every CPU has every CPU's word and shares slice k+1 as a fair scheduler does when the
// demands exceed the cores: max-min fair (water-filling) — a vCPU that wants less than an equal
// share gets what it wants, the rest split what is left. A vCPU given the fraction a of the slice
// waits (1 − a)·S of it, at a seeded place in the slice. The slice of lag is what keeps the
// engines' synchronisation as it is: a promise never has to reach past the next boundary plus S/2.
import type { HostConfig } from "./config.ts";
import { Rng, subSeed } from "./rng.ts";

/** Seed streams of where in a slice a vCPU waits: one per CPU (apart from the stall and load streams). */
const HOST_STREAM = 0x4057_0000;

/**
 * Max-min fair shares of `cores` among `demands` (each 0..1): every demand is met when they fit;
 * else the smallest are met and the rest split what is left equally (each capped at 1).
 */
export function fairShares(demands: readonly number[], cores: number): number[] {
  const share = demands.map(() => 0);
  const order = demands.map((_, i) => i).sort((a, b) => demands[a]! - demands[b]! || a - b);
  let left = cores;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    const equal = left / (order.length - k);
    share[i] = Math.min(demands[i]!, equal, 1);
    left -= share[i]!;
  }
  return share;
}

export class HostShare {
  /** Each CPU's demand at the boundary being gathered (boundaryNs). */
  private readonly demands: number[];
  private readonly rng: Rng;
  /** The boundary whose words are being gathered (its decision at boundaryNs + S/2); the first is at S. */
  boundaryNs: number;
  /** The shares other CPUs are given in the current slice and the next (wake_wait). */
  othersNow: number[] = [];
  othersNext: number[] = [];
  /** Where this CPU waits in the slice decided last: from its start, for this long (0: not at all). */
  waitOffsetNs = 0;
  waitNs = 0;

  constructor(
    readonly cfg: HostConfig,
    seed: number,
    cpus: number,
    private readonly self: number,
  ) {
    this.demands = new Array<number>(cpus).fill(0);
    this.rng = new Rng(subSeed(seed, HOST_STREAM + self));
    this.boundaryNs = cfg.slice_ns;
  }

  /** Latency of a HOST record: half a slice, so every word of boundary k is in before its decision. */
  static latencyNs(cfg: HostConfig): number {
    return Math.floor(cfg.slice_ns / 2);
  }

  /**
   * A CPU's demand for the next slices: the share of the slice it was busy while it had a core
   * (a vCPU that waited half the slice and worked the other half wants all of it; one that waited
   * for a core to leave idle wants what it worked).
   */
  demandAt(busyNs: number, waitedNs: number): number {
    const had = this.cfg.slice_ns - Math.min(waitedNs, this.cfg.slice_ns);
    const used = had > 0 ? Math.min(1, busyNs / had) : 1;
    return used > this.cfg.busy_share ? used : 0;
  }

  /** A CPU's word for a boundary (this CPU's own or a peer's HOST record). */
  word(cpu: number, atNs: number, demand: number): void {
    // A word for another boundary (a forged record) changes nothing.
    if (atNs === this.boundaryNs && cpu >= 0 && cpu < this.demands.length && demand >= 0 && demand <= 1) this.demands[cpu] = demand;
  }

  /**
   * The decision for the slice after the boundary's. Every CPU reaches the same shares (same
   * words); words that did not come (a crashed peer) count as no demand.
   */
  decide(): void {
    const S = this.cfg.slice_ns;
    const shares = fairShares(this.demands, this.cfg.cores);
    const mine = shares[this.self]!;
    this.othersNext = shares.filter((_, i) => i !== this.self);
    // A vCPU given less than it wants waits the difference, somewhere in the slice.
    this.waitNs = Math.max(0, Math.round((this.demands[this.self]! - mine) * S));
    this.waitOffsetNs = this.waitNs > 0 ? Math.floor(this.rng.next() * (S - this.waitNs + 1)) : 0;
    this.demands.fill(0);
    this.boundaryNs += S;
  }

  /** At a boundary the slice decided last begins. */
  sliceBegins(): void {
    this.othersNow = this.othersNext;
  }

  /**
   * How long a vCPU leaving idle now waits for a core: when every core runs another vCPU — drawn
   * with the chance that at least `cores` of the others are busy at a random moment of the slice,
   * each busy for its share, independently — until one of them is preempted, uniform up to
   * wake_wait_ns (the host's next tick or the running thread's slice end); else 0.
   */
  wakeWaitNs(): number {
    if (this.cfg.wake_wait_ns === 0) return 0;
    const p = atLeast(this.othersNow, this.cfg.cores);
    if (p === 0 || this.rng.next() >= p) return 0;
    return Math.floor(this.rng.next() * this.cfg.wake_wait_ns) + 1;
  }
}

/** P(at least k of independent events with probabilities ps happen) (Poisson-binomial tail). */
export function atLeast(ps: readonly number[], k: number): number {
  // dist[j]: P(exactly j so far), j capped at k (k or more).
  const dist = new Array<number>(k + 1).fill(0);
  dist[0] = 1;
  for (const p of ps) {
    for (let j = k; j >= 0; j--) {
      const stay = j === k ? dist[j]! : dist[j]! * (1 - p);
      dist[j] = stay + (j > 0 ? dist[j - 1]! * p : 0);
    }
  }
  return dist[k]!;
}
