// A scenario's assert: and abort: lists applied to `softnet-emu run`: checked before the run
// starts (a typo is a usage error, exit 2), abort conditions watched at every checkpoint (the in-process
// run stops at the first that holds), assertions checked on the results. Both outcomes go into
// the results (JSON) and fail the run (exit 1) with a line naming the condition and its numbers.
// A scenario without either list leaves the run and its JSON exactly as they were.
// The liveness verdict (chaos/liveness.ts, results.liveness) fails the run the same way, one line
// per stall or undrained end — unless the scenario's assertions speak of `liveness` themselves
// (a scenario that expects a stall says so, and its assertions decide).
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { checkAssertions, failureLines, firstAbort, type AssertionOutcome } from "../report/assertions.ts";
import type { CheckedResults, CheckedRunOptions } from "../report/checked-run.ts";
import { shortLines } from "../chaos/liveness.ts";
import { formatDurationNs } from "../report/metrics.ts";
import type { EngineName, EngineRun } from "./engines.ts";
import { parseScenarioChecks, validateScenarioChecks } from "./experiment-common.ts";
import type { Scenario } from "../config/scenario.ts";

export interface RunChecks {
  /** The engine to run: `engine` itself, or the in-process run that can stop at an abort condition. */
  engine(engine: EngineRun): EngineRun;
  /** Record the outcomes in `results`; the lines to print, one per failure (none: all good). */
  finish(results: RunResults): string[];
}

export function runChecks(scenario: Scenario | undefined, cfg: EmuConfig, engineName: EngineName): RunChecks {
  const checks = parseScenarioChecks(scenario, engineName);
  const { asserts, aborts } = checks;
  return {
    // Paths are checked on a template result first (it needs the model, loaded with the engine).
    engine: (engine) => async (c, opts) => {
      await validateScenarioChecks(scenario, checks, [cfg]);
      if (aborts.length === 0) return engine(c, opts);
      const [{ runChecked }, { judged }] = await Promise.all([import("../report/checked-run.ts"), import("../chaos/liveness.ts")]);
      const checked: CheckedRunOptions = { ...opts, abortIf: (snapshot) => firstAbort(aborts, snapshot) };
      const j = judged(c, checked, opts.liveness);
      const results = runChecked(c, j.opts);
      j.judge.finish(results);
      return results;
    },
    finish(results) {
      const lines: string[] = [];
      const aborted = (results as CheckedResults).aborted;
      if (aborted) lines.push(`aborted at ${formatDurationNs(aborted.at_ns)} (virtual): abort condition holds: ${aborted.condition} (${aborted.measured})`);
      lines.push(...livenessFailures(results, asserts));
      if (asserts.length === 0) return lines;
      const outcomes: AssertionOutcome[] = checkAssertions(asserts, results);
      (results as RunResults & { assertions?: AssertionOutcome[] }).assertions = outcomes;
      return [...lines, ...failureLines(outcomes)];
    },
  };
}

/** Assertions that speak of `liveness`: the scenario states what it expects of it. */
export function assertsLiveness(asserts: readonly { text: string }[]): boolean {
  return asserts.some((a) => /\bliveness\b/.test(a.text));
}

/**
 * A failed liveness verdict, one line per problem; none when the scenario's assertions judge it, or
 * in a chaos run (whose checker lists its stalls and drain already).
 */
export function livenessFailures(results: RunResults, asserts: readonly { text: string }[]): string[] {
  const l = results.liveness;
  if (!l || l.ok || results.chaos || assertsLiveness(asserts)) return [];
  return shortLines(l).map((v) => `liveness: ${v}`);
}
