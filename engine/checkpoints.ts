// The schedule of conservation checkpoints, shared by both engines: every interval of virtual time
// and the end. The distributed engine checks at the same times as the in-process one, so both
// report the same violations (and the same number of checkpoints). The walk through them: schedule.ts.

/** 1/100 of the run, at least 100 µs. */
export function defaultCheckIntervalNs(durationNs: number): number {
  return Math.max(100_000, Math.floor(durationNs / 100));
}

export { nextCheckpointNs } from "./schedule.ts";

/** Checkpoints of a run to `endNs`: every multiple of the interval before the end, and the end. */
export function checkpointCount(intervalNs: number, endNs: number): number {
  return endNs > 0 ? Math.ceil(endNs / intervalNs) : 0;
}
