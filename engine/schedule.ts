// The points of virtual time where a CPU stops for the run's bookkeeping, one schedule for both
// engines: conservation checkpoints (every check interval, and the end: engine/checkpoints.ts) and
// series samples (every series interval, and the end). The in-process engine stops every CPU there
// together (engine/inprocess.ts); a CPU process stops there on its own and reports (cpu-node/time.ts),
// so the coordinator gets the same cuts at the same times and both engines give the same results.
import { InvariantError } from "../model/assert.ts";

/** The checkpoint after `atNs`: the next multiple of the interval, or the end (the last one). */
export function nextCheckpointNs(atNs: number, intervalNs: number, endNs: number): number {
  return Math.min(atNs + intervalNs, endNs);
}

/** The sample after `atNs`: one interval on, the end if that is past it, none (Infinity) after the end. */
export function followingSampleNs(atNs: number, intervalNs: number, endNs: number): number {
  const next = atNs + intervalNs;
  return next > endNs ? (atNs < endNs ? endNs : Infinity) : next;
}

/** The coordinator's check of a report (coordinator/seams.ts): is `atNs` a stop of a schedule every `everyNs` to `endNs`: a multiple before the end, or the end? */
export function onSchedule(atNs: number, everyNs: number, endNs: number): boolean {
  return everyNs > 0 && (atNs === endNs || (atNs < endNs && atNs > 0 && atNs % everyNs === 0));
}

export class Schedule {
  /** The next conservation checkpoint (Infinity: checks are off). */
  checkNs: number;
  /** The next series sample (Infinity: sampling is off, or the last one is taken). */
  sampleNs: number;
  private end: number;

  /** An interval of 0 turns that kind of stop off. */
  constructor(
    readonly checkEveryNs: number,
    readonly sampleEveryNs: number,
    endNs: number,
  ) {
    this.end = endNs;
    this.checkNs = checkEveryNs > 0 ? Math.min(checkEveryNs, endNs) : Infinity;
    this.sampleNs = sampleEveryNs > 0 ? Math.min(sampleEveryNs, endNs) : Infinity;
  }

  get endNs(): number {
    return this.end;
  }

  /** The next stop: a checkpoint, a sample or the end. */
  nextNs(): number {
    return Math.min(this.checkNs, this.sampleNs, this.end);
  }

  /** The checkpoint at checkNs was taken: on to the next one (the end stays the last). */
  checked(): void {
    if (this.checkNs === Infinity) return;
    const next = nextCheckpointNs(this.checkNs, this.checkEveryNs, this.end);
    if (!(next > this.checkNs || next === this.end)) throw new InvariantError(`checkpoint schedule went back: ${this.checkNs} -> ${next} ns (end ${this.end})`);
    this.checkNs = next;
  }

  /** The sample at sampleNs was taken: on to the next one. */
  sampled(): void {
    if (this.sampleNs === Infinity) return;
    this.sampleNs = followingSampleNs(this.sampleNs, this.sampleEveryNs, this.end);
  }

  /** The run's end moved (a stop from the control API): nothing scheduled lies beyond it. */
  endAt(endNs: number): void {
    this.end = endNs;
    if (this.sampleNs > endNs && this.sampleNs !== Infinity) this.sampleNs = endNs;
    if (this.checkNs > endNs && this.checkNs !== Infinity) this.checkNs = endNs;
  }
}
