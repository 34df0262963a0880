// `softnet-emu compare --profiles a,b,c`: the same seeded scenario under several kernel profiles,
// side by side (table on stdout, --json with every run and its series, --report DIR with charts).
// Exit status: 0, or 1 when a run broke conservation, stalled (liveness, unless the scenario's
// assertions judge liveness themselves), failed an assertion or was aborted.
import type { Command } from "commander";
import { DEFAULT_SYSCTLS } from "../model/defaults.ts";
import { failureLines } from "../report/assertions.ts";
import { compareMatrix, renderMatrix, type ComparedRun } from "../report/compare-table.ts";
import { compareCharts } from "../report/compare-report.ts";
import { describeEvents, describeLoad, describeSysctls } from "../report/describe.ts";
import { formatDurationNs } from "../report/metrics.ts";
import { writeReport } from "../report/write-report.ts";
import {
  assertionsOf,
  checkOutputFile,
  copyRunOptions,
  defaultSeriesIntervalNs,
  flagsOf,
  loadScenarioOption,
  parseJobs,
  parseProfiles,
  prepareReportDir,
  runExperimentJobs,
  scenarioChecks,
  writeOutput,
  type RunLikeOptions,
} from "./experiment-common.ts";
import type { CliIo } from "./io.ts";
import { resolveConfig } from "../config/resolve.ts";
import { livenessFailures } from "./run-checks.ts";

interface CompareOptions extends RunLikeOptions {
  profiles: string[];
  json?: string;
  report?: string;
}

const HELP = `
Every profile runs the same scenario with the same seed: the same packets arrive at the same
virtual times, so the differences are the kernel's. Runs go to worker threads, at most one per
core (--jobs). Series are always sampled (every 1/100 of the run unless --series-interval).

Examples:
  $ softnet-emu compare --profiles 6.6,6.6-patched-threads,rt-6.6,rt-6.6-patched --report out/
  $ softnet-emu compare --scenario examples/rt-ipi-warning.yaml --profiles rt-6.6,rt-6.6-patched
  $ softnet-emu compare --load loopback --rps-cpus 0 --rate 5e6 --duration 10ms \\
      --profiles 6.6-patched,6.6-patched-threads,threads-without-local-shortcut --json runs.json

Exit status: 0 ok, 1 a run failed the checker or its liveness (a stalled backlog), an assertion or
hit an abort condition, 2 bad input.`;

export function registerCompare(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const cmd = program
    .command("compare")
    .description("run one seeded scenario under several kernel profiles and show them side by side")
    .requiredOption("--profiles <LIST>", "comma-separated kernel profiles, e.g. 6.6,rt-6.6,rt-6.6-patched", parseProfiles);
  copyRunOptions(program, cmd, ["--profile", "--json"])
    .option("--json <FILE>", "write every run (profile, cpus, totals, series, assertions) as JSON to FILE ('-' = stdout)")
    .option("--report <DIR>", "write a report page (index.html) with SVG charts to DIR")
    .option("--jobs <N>", "runs at once (default: the cores available)", parseJobs)
    .addHelpText("after", HELP)
    .action(async (opts: CompareOptions) => setExit(await compare(opts, io)));
}

async function compare(o: CompareOptions, io: CliIo): Promise<number> {
  const scenario = loadScenarioOption(o);
  const cfgs = o.profiles.map((p) => resolveConfig(scenario, flagsOf(o, p)));
  const first = cfgs[0]!;
  const checks = await scenarioChecks(scenario, cfgs, o.engine);
  if (o.json !== undefined) checkOutputFile("--json", o.json);
  if (o.report !== undefined) prepareReportDir("--report", o.report);
  const seriesIntervalNs = o.seriesInterval ?? defaultSeriesIntervalNs(first.duration_ns);

  const results = await runExperimentJobs(
    cfgs.map((cfg) => ({ label: cfg.profile.name, cfg, seriesIntervalNs, abort: checks.aborts.map((a) => a.text) })),
    o,
    io,
  );
  const runs: ComparedRun[] = results.map((r) => ({ results: r, assertions: assertionsOf(checks, r) }));
  const matrix = compareMatrix(runs);
  const problems = runs.flatMap((r) => problemLines(r, checks.asserts));

  if (o.json !== undefined) {
    const doc = {
      command: "compare",
      scenario: scenario?.file ?? null,
      seed: first.seed,
      profiles: results.map((r) => r.profile),
      series_interval_ns: seriesIntervalNs,
      runs: runs.map((r) => ({ ...r.results, assertions: r.assertions })),
    };
    writeOutput(io, "--json", o.json, `${JSON.stringify(doc, null, 2)}\n`);
  }
  if (o.report !== undefined) {
    const written = await writeReport(
      o.report,
      {
        title: `softnet-emu compare: ${results.map((r) => r.profile).join(" vs ")}`,
        intro: [
          "The same seeded scenario under each kernel profile: the same packets arrive at the same virtual times, so every difference comes from the kernel's receive path.",
        ],
        meta: [
          ["scenario", scenario?.file ?? "default (flags only)"],
          ["seed", String(first.seed)],
          ["CPUs", String(first.cpus)],
          ["virtual time", formatDurationNs(first.duration_ns)],
          ["load", describeLoad(first)],
          ["sysctls", describeSysctls(first, DEFAULT_SYSCTLS)],
          ["hotplug", describeEvents(first)],
          ["engine", o.engine],
        ],
        tables: [{ title: "Side by side", matrix }],
        notes: [
          { title: "Problems", lines: problems },
          {
            title: "Notes",
            lines: results.some((r) => !r.series) ? [`the ${o.engine} engine samples no time series yet: only the per-CPU charts are drawn`] : [],
          },
        ],
      },
      compareCharts(results),
    );
    if (!o.quiet) io.err(`softnet-emu: report written to ${written.index}\n`);
  }
  if (!o.quiet && o.json !== "-") io.out(`${renderMatrix(matrix, io.outIsTTY)}\n`);
  for (const line of problems) io.err(`softnet-emu: ${line}\n`);
  return problems.length > 0 ? 1 : 0;
}

/**
 * Failed assertions, abort conditions that held, checker violations, a failed liveness verdict (not
 * when the scenario's assertions judge liveness: they expect it): each names its profile.
 */
export function problemLines(r: ComparedRun, asserts: readonly { text: string }[] = []): string[] {
  const p = r.results.profile;
  const lines = failureLines(r.assertions, `${p}: `);
  const a = r.results.aborted;
  if (a) lines.push(`${p}: aborted at ${formatDurationNs(a.at_ns)}: abort condition holds: ${a.condition} (${a.measured})`);
  if (!r.results.checker.ok)
    lines.push(`${p}: checker: ${r.results.checker.violations.length} violation(s), first: ${r.results.checker.violations[0]} (seed ${r.results.seed})`);
  lines.push(...livenessFailures(r.results, asserts).map((l) => `${p}: ${l}`));
  return lines;
}
