// Was this process itself stalled? A process frozen (SIGSTOP, a paused container), starved of CPU
// (many processes on few cores) or stuck in a long synchronous step cannot hear anyone, and on
// waking it finds every peer silent. Whoever checks for silence calls check() from its periodic
// work: a gap between two checks far longer than their period is a stall of our own, and silence
// is then measured from its end — and only after the sockets had a turn to deliver what waited.

export class SelfStall {
  private lastCheckMs: number;
  /** End of our latest stall (-Infinity: none yet). */
  endMs = -Infinity;
  /** Stalls seen, and the longest, for the log. */
  count = 0;
  longestMs = 0;

  /** `thresholdMs`: a gap between checks longer than this is a stall of ours. */
  constructor(
    private readonly thresholdMs: number,
    nowMs: number,
  ) {
    this.lastCheckMs = nowMs;
  }

  /** Call from the periodic check; returns the stall that just ended (ms), or 0. */
  check(nowMs: number): number {
    const gap = nowMs - this.lastCheckMs;
    this.lastCheckMs = nowMs;
    if (gap <= this.thresholdMs) return 0;
    this.endMs = nowMs;
    this.count++;
    this.longestMs = Math.max(this.longestMs, gap);
    return gap;
  }
}
