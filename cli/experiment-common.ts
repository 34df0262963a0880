// What compare, sweep and reproduce share: the `run` options (copied from the run command, so the
// experiments accept exactly what `run` does), flags → RunFlags, the scenario's assert:/abort:
// lists checked before any run, output files checked before any run, and the runner (worker
// threads for the in-process engine, one run at a time for the distributed one).
// The model, the engines and the worker pool are imported when a command runs, not before, so
// `--help` and bad flags stay as cheap as cli/engines.ts keeps them.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { InvalidArgumentError, type Command, type Option } from "commander";
import type { EmuConfig } from "../model/config.ts";
import { PROFILE_NAMES } from "../model/profiles.ts";
import type { RunResults } from "../model/results.ts";
import {
  checkAssertions,
  ConditionError,
  parseConditions,
  validateConditions,
  type AssertionOutcome,
  type Condition,
} from "../report/assertions.ts";
import type { CheckedResults } from "../report/checked-run.ts";
import { formatDurationNs } from "../report/metrics.ts";
import type { RunJob } from "../report/pool.ts";
import { loadEngine, type EngineName } from "./engines.ts";
import { fieldError, UsageError } from "../config/errors.ts";
import type { CliIo } from "./io.ts";
import { checkOutputFile as checkWritableOutput, writeOutputFile } from "../report/output-file.ts";
import type { Scenario } from "../config/scenario.ts";
import { loadScenario } from "../config/scenario.ts";
import { type RunFlags } from "../config/resolve.ts";
import { engineOption, RUN_ONLY_OPTIONS, runFlagsOf, type ScenarioCliOptions } from "./run-options.ts";

/** The `run` options as commander hands them over (camel-cased), minus --profile and --json. */
export interface RunLikeOptions extends Omit<ScenarioCliOptions, "profile"> {
  engine: EngineName;
  seriesInterval?: number;
  quiet?: boolean;
  jobs?: number;
}

/**
 * Add the run command's options to `cmd`, except those named in `skip` (long names) and those of a
 * single watched run (RUN_ONLY_OPTIONS). Experiments default to the in-process engine (worker
 * threads), whatever `run` defaults to.
 */
export function copyRunOptions(program: Command, cmd: Command, skip: readonly string[]): Command {
  for (const opt of runOptions(program)) if (!skip.includes(opt.long ?? "")) cmd.addOption(opt);
  return cmd;
}

/** Add only the run command's options named in `only` (long names) to `cmd`. */
export function copySomeRunOptions(program: Command, cmd: Command, only: readonly string[]): Command {
  for (const opt of runOptions(program)) if (only.includes(opt.long ?? "")) cmd.addOption(opt);
  return cmd;
}

function runOptions(program: Command): Option[] {
  const run = program.commands.find((c) => c.name() === "run");
  if (!run) throw new Error("the run command must be registered before the experiment commands");
  return run.options
    .filter((opt) => !RUN_ONLY_OPTIONS.includes(opt.long ?? ""))
    .map((opt) => (opt.long === "--engine" ? engineOption("inprocess") : opt));
}

export function flagsOf(o: RunLikeOptions, profile?: string): RunFlags {
  return runFlagsOf({ ...o, profile });
}

export function loadScenarioOption(o: { scenario?: string }): Scenario | undefined {
  return o.scenario !== undefined ? loadScenario(o.scenario) : undefined;
}

/** `--profiles a,b,c`: known names, each once. */
export function parseProfiles(text: string): string[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError("give at least one profile");
  for (const n of names) if (!PROFILE_NAMES.includes(n)) throw new InvalidArgumentError(`unknown profile '${n}' (known: ${PROFILE_NAMES.join(", ")})`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new InvalidArgumentError(`profile '${dup}' is given twice`);
  return names;
}

export function parseJobs(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError(`expected a whole number from 1 to 64, got '${text}'`);
  return n;
}

export interface ScenarioChecks {
  asserts: Condition[];
  aborts: Condition[];
}

/** The scenario's assert: and abort: lists, parsed (syntax only; cheap). */
export function parseScenarioChecks(scenario: Scenario | undefined, engine: EngineName): ScenarioChecks {
  if (!scenario) return { asserts: [], aborts: [] };
  try {
    const checks = { asserts: parseConditions("assert", scenario.spec.assert), aborts: parseConditions("abort", scenario.spec.abort) };
    if (checks.aborts.length > 0 && engine !== "inprocess")
      throw new UsageError(`${scenario.file}: abort: needs --engine inprocess (the ${engine} engine cannot stop a run at a checkpoint yet)`);
    return checks;
  } catch (err) {
    if (err instanceof ConditionError) throw fieldError(scenario, [err.list, err.index], err.message);
    throw err;
  }
}

/** Check every path and CPU index on results shaped like each of `cfgs`, before any run. */
export async function validateScenarioChecks(scenario: Scenario | undefined, checks: ScenarioChecks, cfgs: readonly EmuConfig[]): Promise<void> {
  if (!scenario || (checks.asserts.length === 0 && checks.aborts.length === 0)) return;
  const { templateResults } = await import("../report/template.ts");
  try {
    for (const cfg of cfgs) {
      const template = templateResults(cfg);
      validateConditions("assert", checks.asserts, template);
      // Abort conditions see snapshots during the run: no liveness verdict yet.
      const { liveness: _verdict, ...snapshot } = template;
      validateConditions("abort", checks.aborts, snapshot);
    }
  } catch (err) {
    if (err instanceof ConditionError) throw fieldError(scenario, [err.list, err.index], err.message);
    throw err;
  }
}

/** Both: a typo in either list is a usage error before any run. */
export async function scenarioChecks(scenario: Scenario | undefined, cfgs: readonly EmuConfig[], engine: EngineName): Promise<ScenarioChecks> {
  const checks = parseScenarioChecks(scenario, engine);
  await validateScenarioChecks(scenario, checks, cfgs);
  return checks;
}

export function assertionsOf(checks: ScenarioChecks, results: RunResults): AssertionOutcome[] {
  return checkAssertions(checks.asserts, results);
}

/** Charts need a series: one sample per 1/100 of the run, on a round figure (1, 2 or 5 × 10^k ns). */
export function defaultSeriesIntervalNs(durationNs: number): number {
  const raw = Math.max(1000, durationNs / 100);
  const decade = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].find((m) => m * decade >= raw) ?? 10;
  return step * decade;
}

/** Fail before the runs rather than after them (report/output-file.ts). */
export function checkOutputFile(flag: string, file: string): void {
  checkWritableOutput(flag, file);
}

export function prepareReportDir(flag: string, dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`${flag} ${dir}: exists and is not a directory`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new UsageError(`${flag} ${dir}: cannot create: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** JSON to FILE, or to stdout for '-'. */
export function writeOutput(io: CliIo, flag: string, file: string, text: string): void {
  if (file === "-") return io.out(text);
  writeOutputFile(flag, file, text);
}

/** Runs jobs on the chosen engine; one stderr line per finished run unless quiet. */
export async function runExperimentJobs(jobs: RunJob[], o: RunLikeOptions, io: CliIo): Promise<CheckedResults[]> {
  const engine = o.engine === "inprocess" ? undefined : await loadEngine(o.engine);
  const { runJobs } = await import("../report/pool.ts");
  // --stall-after (copied from run): the liveness verdict of every run.
  const stallAfterNs = (o as { stallAfter?: number }).stallAfter;
  if (stallAfterNs !== undefined) jobs = jobs.map((j) => ({ ...j, liveness: { ...j.liveness, stallAfterNs } }));
  return runJobs(jobs, {
    parallel: o.jobs,
    engine,
    log: (label, line) => {
      if (!o.quiet) io.err(`[${label}] ${line}\n`);
    },
    onDone: (label, r, wallMs) => {
      if (o.quiet) return;
      const stop = r.aborted ? ` (aborted at ${formatDurationNs(r.aborted.at_ns)})` : "";
      io.err(`softnet-emu: ${label}: ${r.totals.processed} processed, ${r.totals.dropped} dropped in ${formatDurationNs(r.virtual_ns)} virtual, ${(wallMs / 1000).toFixed(2)}s wall${stop}\n`);
    },
  });
}
