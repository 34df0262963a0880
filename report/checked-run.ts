// An in-process run that can stop early: runInProcess() with an abort check on a snapshot of the
// results at every checkpoint (series sample or conservation check). With a check that never fires
// it gives the same results byte for byte (test/experiments/checked-run.test.ts holds it to that).
import type { EmuConfig } from "../model/config.ts";
import type { CpuCounters, RunResults } from "../model/results.ts";
import { aggregate } from "../engine/aggregate.ts";
import { runInProcess, type RunOptions } from "../engine/inprocess.ts";

/** Why and when a run stopped before its end. */
export interface Aborted {
  at_ns: number;
  /** The abort condition as written in the scenario. */
  condition: string;
  /** Its operands at that checkpoint: `max(cpus.backlog_len) = 1001`. */
  measured: string;
}

export interface CheckedRunOptions extends RunOptions {
  /** Checked at every checkpoint; a non-null answer stops the run there. */
  abortIf?: (snapshot: RunResults) => Omit<Aborted, "at_ns"> | null;
}

export type CheckedResults = RunResults & { aborted?: Aborted };

/** Results as they stand at `atNs` (the run cut there). */
export function snapshotAt(cfg: EmuConfig, counters: readonly CpuCounters[], atNs: number, violations: string[]): RunResults {
  return aggregate({ ...cfg, duration_ns: atNs }, counters, { engine: "inprocess", lostOnCrash: 0, violations });
}

export function runChecked(cfg: EmuConfig, opts: CheckedRunOptions = {}): CheckedResults {
  const { abortIf, ...engineOpts } = opts;
  if (!abortIf) return runInProcess(cfg, engineOpts);
  const violations: string[] = [];
  let aborted: Aborted | undefined;
  const results: CheckedResults = runInProcess(cfg, {
    ...engineOpts,
    onCheckpoint: (atNs, counters) => {
      engineOpts.onCheckpoint?.(atNs, counters);
      // The last checkpoint counts too: a condition that first holds at the end still fails the run.
      const why = abortIf(snapshotAt(cfg, counters, atNs, violations));
      if (!why) return;
      aborted = { at_ns: atNs, ...why };
      return "stop";
    },
  });
  if (aborted) results.aborted = aborted;
  return results;
}
