// An in-process run that can stop early: the loop of engine/inprocess.ts runInProcess() with an
// abort check on a snapshot of the results at every checkpoint (series sample or conservation
// check). Without an abort check it is runInProcess() itself; with one that never fires it gives
// the same results byte for byte (test/experiments/checked-run.test.ts holds it to that).
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";
import type { CpuCounters, RunResults, TimeSeries } from "../model/results.ts";
import { aggregate, conservationViolation, totalsOf } from "../engine/aggregate.ts";
import { advanceAll, runInProcess, type RunOptions } from "../engine/inprocess.ts";
import { newSeries, sampleSeries } from "../engine/series.ts";

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

  // Same schedule of checkpoints as runInProcess, so the same samples land in the series.
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg));
  if (opts.log) for (const c of cpus) c.warnLog = opts.log;
  const end = cfg.duration_ns;
  const check = opts.checkIntervalNs ?? Math.max(100_000, Math.floor(end / 100));
  const seriesEvery = opts.seriesIntervalNs ?? 0;
  const series: TimeSeries | undefined = seriesEvery > 0 ? newSeries(cfg.cpus, seriesEvery) : undefined;
  const violations: string[] = [];
  let nextCheck = Math.min(check, end);
  let nextSample = seriesEvery > 0 ? Math.min(seriesEvery, end) : Infinity;
  let aborted: Aborted | undefined;
  for (;;) {
    const horizon = Math.min(nextCheck, nextSample, end);
    advanceAll(cpus, horizon);
    const counters = cpus.map((c) => c.counters());
    if (horizon === nextCheck || horizon === end) {
      const v = conservationViolation(totalsOf(counters, 0), horizon);
      if (v && violations.length < 20) violations.push(v);
      nextCheck = Math.min(nextCheck + check, end);
      opts.onProgress?.(horizon, end);
    }
    if (series && horizon === nextSample) {
      sampleSeries(series, horizon, counters);
      nextSample = nextSample + seriesEvery > end ? (nextSample < end ? end : Infinity) : nextSample + seriesEvery;
    }
    // The last checkpoint counts too: a condition that first holds at the end still fails the run.
    const why = abortIf(snapshotAt(cfg, counters, horizon, violations));
    if (why) {
      aborted = { at_ns: horizon, ...why };
      // The series ends where the run did, as it does at the end of a full run.
      if (series && series.t_ns.at(-1) !== horizon) sampleSeries(series, horizon, counters);
      break;
    }
    if (horizon >= end) break;
  }
  const atNs = aborted?.at_ns ?? end;
  const results: CheckedResults = snapshotAt(cfg, cpus.map((c) => c.counters()), atNs, violations);
  if (series) results.series = series;
  if (aborted) results.aborted = aborted;
  return results;
}
