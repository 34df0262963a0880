// The wall clock a paced run follows (--pace P: P virtual seconds per wall second), for both engines
// (coordinator/time.ts leases, engine/live.ts sleeps). A run that falls behind it (a stalled
// process, a starved machine, a slow stretch of the model) slips: the clock restarts from where
// the run stands and keeps the paced rate from there, rather than letting the run burst to catch
// up, which would show as a spike in every rate() panel. What was given up is the lag, reported
// (status lag_ns, softnet_emu_lag_seconds). Wall time decides only when things run, never what
// they compute: results are the same paced or not.

/**
 * Behind the clock by more than this much wall time, the run has fallen behind and the clock slips
 * to where it stands; less is jitter (a late report or timer), caught up at once. So a burst is at
 * most this much of paced time.
 */
export const PACE_SLACK_MS = 100;

export class PacedClock {
  /** Wall time (ms) at which virtual time 0 was, as the clock stands after its slips. */
  private originMs: number;

  constructor(
    readonly pace: number,
    private readonly startMs: number,
    private readonly slackMs = PACE_SLACK_MS,
  ) {
    if (!(pace > 0)) throw new RangeError(`pace must be > 0, got ${pace}`);
    this.originMs = startMs;
  }

  /**
   * The virtual time the run may have reached at `nowMs`, standing at `atNs`: the paced clock, after
   * slipping it to `atNs` if the run is more than the slack behind it.
   */
  targetNs(nowMs: number, atNs: number): number {
    this.slip(nowMs, atNs);
    return Math.floor((nowMs - this.originMs) * 1e6 * this.pace);
  }

  /** Wall ms until the clock reaches `atNs` (≤ 0: due), after slipping as targetNs() does. */
  aheadMs(nowMs: number, atNs: number): number {
    this.slip(nowMs, atNs);
    return this.originMs + atNs / (this.pace * 1e6) - nowMs;
  }

  /** Virtual time given up to slips so far. */
  get slippedNs(): number {
    return Math.round((this.originMs - this.startMs) * 1e6 * this.pace);
  }

  /**
   * How far a run at `atNs` is behind the wall clock since the start, in virtual ns: what the slips
   * gave up, plus how far it is behind the clock now (which stops at `endNs`). At the end, the slips.
   */
  lagNs(nowMs: number, atNs: number, endNs: number): number {
    const clockNs = Math.min(Math.round((nowMs - this.originMs) * 1e6 * this.pace), endNs);
    return this.slippedNs + Math.max(0, clockNs - atNs);
  }

  private slip(nowMs: number, atNs: number): void {
    const dueMs = this.originMs + atNs / (this.pace * 1e6);
    if (nowMs - dueMs > this.slackMs) this.originMs += nowMs - dueMs;
  }
}
