// Seeded pseudo-random numbers: the only randomness the model uses (mulberry32, 32-bit state).
// The state is a plain number so it can be saved and handed to another CPU (source hand-over).

export class Rng {
  constructor(private state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Exponentially distributed with the given mean (Poisson inter-arrival times). */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  save(): number {
    return this.state;
  }
}

/** A 32-bit mix (murmur3 fmix32): flow → skb->hash, seeded per boot like the kernel's hashrnd. */
export function flowHash(flow: number, seed: number): number {
  let h = (flow ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Derive an independent seed for a sub-stream (one per load source). */
export function subSeed(seed: number, stream: number): number {
  return flowHash(stream + 0x51ed27, seed);
}

/** reciprocal_scale(): map a 32-bit hash onto [0, n) without a division. */
export function reciprocalScale(hash: number, n: number): number {
  return Math.floor((hash * n) / 4294967296);
}
