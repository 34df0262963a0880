// The host the vCPUs run on: fewer cores than vCPUs, shared slice by slice (docs/MODEL.md, "The
// host"). Under QEMU the guest's CPUs are host threads; when they want more than the host's
// cores, some wait — a vCPU in the middle of NET_RX, or holding the socket's lock (its peers then
// spin on it: lockSpinNs), or halted and just sent an IPI. Unlike the fixed-rate stalls
// (stall.ts), who waits depends on who is busy: a busy guest loses time, an idle one does not.
//
// Every CPU plays the host scheduler for every CPU, from the same inputs, so all agree without a
// referee. At each slice boundary k·S a CPU tells every peer its demand: the share of the slice it
// was busy while it had a core (HOST records, taking effect S/2 later). At
// k·S + S/2 every CPU has every CPU's word and shares slice k+1 as a fair scheduler does when the
// demands exceed the cores: max-min fair (water-filling) — a vCPU that wants less than an equal
// share gets what it wants, the rest split what is left. A vCPU given the fraction a of the slice
// while it wanted d waits (d − a)·S of it, at a place drawn from (seed, CPU, boundary) alone, so
// every CPU knows every CPU's waits. The slice of lag is what keeps the
// engines' synchronisation as it is: a promise never has to reach past the next boundary plus S/2.
import type { HostConfig } from "./config.ts";
import { flowHash, Rng, subSeed } from "./rng.ts";

/** Seed streams of the waking waits: one per CPU (apart from the stall and load streams). */
const HOST_STREAM = 0x4057_0000;
/** Where in a slice a vCPU waits, and whether it holds the socket's lock then: pure in (seed, CPU, boundary), so every CPU replays every CPU's. */
const WAIT_PLACE_STREAM = 0x4058_0000;
const LOCK_HELD_STREAM = 0x4059_0000;

/** A uniform number in [0, 1) for (seed, stream, cpu, boundary index): every CPU draws the same. */
function placeDraw(seed: number, stream: number, cpu: number, k: number): number {
  return flowHash(k, subSeed(seed, stream + cpu)) / 4294967296;
}

/** A vCPU's wait in a slice, as every CPU knows it: [fromNs, toNs), and whether it holds the socket's lock meanwhile. */
export interface HostWait {
  fromNs: number;
  toNs: number;
  holdsLock: boolean;
}

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
  /** Every CPU's wait in the current slice and the next (lockSpinNs). */
  waitsNow: HostWait[] = [];
  waitsNext: HostWait[] = [];

  constructor(
    readonly cfg: HostConfig,
    private readonly seed: number,
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
    // The host's own work competes as threads of its own: `others` cores' worth, a whole core each.
    const own = hostWork(this.cfg.others);
    const all = fairShares([...this.demands, ...own], this.cfg.cores);
    const shares = all.slice(0, this.demands.length);
    this.othersNext = all.filter((_, i) => i !== this.self);
    // A vCPU given less than it wants waits the difference, somewhere in the slice; every CPU
    // places every CPU's wait the same way, so a delivery can tell whose lock holder is away.
    const k = Math.round(this.boundaryNs / S);
    const start = this.boundaryNs + S;
    this.waitsNext = shares.map((share, c) => {
      const wait = Math.max(0, Math.round((this.demands[c]! - share) * S));
      const offset = wait > 0 ? Math.floor(placeDraw(this.seed, WAIT_PLACE_STREAM, c, k) * (S - wait + 1)) : 0;
      const holdsLock = wait > 0 && placeDraw(this.seed, LOCK_HELD_STREAM, c, k) < this.cfg.lock_hold;
      return { fromNs: start + offset, toNs: start + offset + wait, holdsLock };
    });
    this.demands.fill(0);
    this.boundaryNs += S;
  }

  /** At a boundary the slice decided last begins. */
  sliceBegins(): void {
    this.othersNow = this.othersNext;
    this.waitsNow = this.waitsNext;
    this.waitsNext = [];
  }

  /**
   * How long a delivery to the socket at atNs spins on its lock: until the end of the wait of a
   * CPU that delivers too (`delivers`) and was preempted holding the lock (lock-holder preemption).
   */
  lockSpinNs(atNs: number, delivers: Uint8Array): number {
    // Per delivered packet: no allocation, the two slices' waits in turn.
    return Math.max(this.spinIn(this.waitsNow, atNs, delivers), this.spinIn(this.waitsNext, atNs, delivers));
  }

  private spinIn(waits: readonly HostWait[], atNs: number, delivers: Uint8Array): number {
    let spin = 0;
    for (let c = 0; c < waits.length; c++) {
      const w = waits[c]!;
      if (c !== this.self && w.holdsLock && delivers[c] && w.fromNs <= atNs && atNs < w.toNs) spin = Math.max(spin, w.toNs - atNs);
    }
    return spin;
  }

  /**
   * How long a vCPU leaving idle now waits for a core: when every core runs another vCPU or host
   * work — drawn with the chance that at least `cores` of the others are busy at a random moment
   * of the slice, each busy for its share, independently — until one of them is preempted, uniform
   * up to wake_wait_ns (the host's wake-up granularity), or with the chance slice_wait uniform up
   * to a slice (until a running thread's slice ends); else 0.
   */
  wakeWaitNs(): number {
    if (this.cfg.wake_wait_ns === 0 && this.cfg.slice_wait === 0) return 0;
    const p = atLeast(this.othersNow, this.cfg.cores);
    if (p === 0 || this.rng.next() >= p) return 0;
    // Now and then the running vCPUs cannot be preempted (they woke as recently): the waker waits
    // for one of their slices to end.
    const upTo = this.cfg.slice_wait > 0 && this.rng.next() < this.cfg.slice_wait ? this.cfg.slice_ns : this.cfg.wake_wait_ns;
    return Math.floor(this.rng.next() * upTo) + 1;
  }
}

/** Host work besides the guest, `others` cores' worth, as threads: 1.5 → a busy thread and a half-busy one. */
export function hostWork(others: number): number[] {
  const whole = Math.floor(others);
  const part = others - whole;
  return [...new Array<number>(whole).fill(1), ...(part > 0 ? [part] : [])];
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
