// When is a silent peer dead? A phi-accrual failure detector (Hayashibara et al., as Cassandra and
// Akka use it): the gaps between a peer's messages are learnt, and silence is suspicious when it
// is improbably long *for that peer on this machine*, never merely longer than a constant. A floor
// keeps it from accusing anyone sooner than the operator allows. Silence is measured from the
// later of the last message and the end of our own last stall (SelfStall): a process that was
// frozen or starved suspects itself first.

/** Gaps kept per peer: enough for a stable mean, short enough to follow a machine getting busier. */
const WINDOW = 200;
/** phi = -log10(P(a gap this long)); 8 is one false suspicion in 10^8 gaps, as Akka uses. */
export const PHI_THRESHOLD = 8;

export class FailureDetector {
  private readonly gaps = new Float64Array(WINDOW);
  private count = 0;
  private next = 0;
  private sum = 0;
  private sumSq = 0;
  private lastMs: number;

  /** `floorMs`: never suspect before this much silence; `firstMs`: when we started listening. */
  constructor(
    readonly floorMs: number,
    firstMs: number,
  ) {
    this.lastMs = firstMs;
  }

  /** A message arrived at `nowMs`. */
  heard(nowMs: number): void {
    const gap = nowMs - this.lastMs;
    this.lastMs = nowMs;
    if (gap <= 0) return;
    if (this.count === WINDOW) {
      const old = this.gaps[this.next]!;
      this.sum -= old;
      this.sumSq -= old * old;
    } else this.count++;
    this.gaps[this.next] = gap;
    this.next = (this.next + 1) % WINDOW;
    this.sum += gap;
    this.sumSq += gap * gap;
  }

  get lastHeardMs(): number {
    return this.lastMs;
  }

  /** Silence at `nowMs`, not counting time we ourselves were stalled (see SelfStall). */
  silenceMs(nowMs: number, stallEndMs = -Infinity): number {
    return nowMs - Math.max(this.lastMs, stallEndMs);
  }

  /**
   * Suspicion for a silence: -log10 of the probability that a gap is at least this long, with the
   * gaps taken as normal (mean and deviation learnt; the deviation at least a quarter of the mean
   * and 10 ms, so a peer that beat like a metronome is not condemned by its first hiccup).
   */
  phi(silenceMs: number): number {
    if (this.count < 3) return silenceMs > this.floorMs ? Infinity : 0;
    const mean = this.sum / this.count;
    const variance = Math.max(0, this.sumSq / this.count - mean * mean);
    const sd = Math.max(Math.sqrt(variance), mean / 4, 10);
    const y = (silenceMs - mean) / sd;
    // Logistic approximation of the normal tail (Akka's PhiAccrualFailureDetector).
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y));
    const p = silenceMs > mean ? e / (1 + e) : 1 - 1 / (1 + e);
    return p <= 0 ? Infinity : -Math.log10(p);
  }

  /** The silence after which the peer is suspected: the floor, or longer if its gaps say so. */
  limitMs(): number {
    if (this.count < 3) return this.floorMs;
    // phi is monotonic in the silence: bisect for the threshold (cheap; called a few times a second).
    let lo = this.floorMs;
    if (this.phi(lo) >= PHI_THRESHOLD) return lo;
    let hi = lo * 2;
    while (this.phi(hi) < PHI_THRESHOLD && hi < 3_600_000) hi *= 2;
    for (let i = 0; i < 30; i++) {
      const mid = (lo + hi) / 2;
      if (this.phi(mid) >= PHI_THRESHOLD) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  suspect(nowMs: number, stallEndMs = -Infinity): boolean {
    const silence = this.silenceMs(nowMs, stallEndMs);
    return silence > this.floorMs && this.phi(silence) >= PHI_THRESHOLD;
  }
}
