// `softnet-emu sweep --knob K --values a,b,c [--profiles ...]`: one run per (value, profile) of the
// same seeded scenario, a table and charts of throughput, p99 latency and drops against the knob.
// Exit status as compare: 1 when a run broke conservation, failed an assertion or was aborted.
import { InvalidArgumentError, Option, type Command } from "commander";
import { DEFAULT_SYSCTLS } from "../model/defaults.ts";
import type { EmuConfig } from "../model/config.ts";
import { describeEvents, describeLoad, describeSysctls } from "../report/describe.ts";
import { formatDurationNs } from "../report/metrics.ts";
import { KNOBS, sweepCharts, sweepMatrix, type Knob } from "../report/sweep-report.ts";
import { renderMatrix } from "../report/compare-table.ts";
import { writeReport } from "../report/write-report.ts";
import { problemLines } from "./compare.ts";
import { UsageError } from "../config/errors.ts";
import {
  assertionsOf,
  checkOutputFile,
  copyRunOptions,
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
import { resolveConfig, type RunFlags } from "../config/resolve.ts";
import { MAX_CPUS, parseCount, parsePps, parseSysctlValue } from "../config/units.ts";

interface SweepOptions extends RunLikeOptions {
  knob: Knob;
  values: string[];
  profiles?: string[];
  json?: string;
  report?: string;
}

const HELP = `
Each value of the knob is applied on top of the scenario and flags (rate: every load phase;
netdev_max_backlog, netdev_budget: the sysctl; cpus: the CPU count, and the default topology's
RPS map with it). Without --profiles the scenario's profile (default 6.6-patched) is swept.

Examples:
  $ softnet-emu sweep --knob rate --values 1e5,2e5,5e5,1e6,2e6 --cpus 1 --rps-cpus 0 --duration 5ms
  $ softnet-emu sweep --knob netdev_max_backlog --values 16,64,256,1000 --profiles 6.6,6.6-patched-threads \\
      --rate 1e6 --report sweep/

Exit status: 0 ok, 1 a run failed the checker, an assertion or hit an abort condition, 2 bad input.`;

function splitValues(text: string): string[] {
  const values = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (values.length === 0) throw new InvalidArgumentError("give at least one value");
  return values;
}

export function registerSweep(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const cmd = program
    .command("sweep")
    .description("vary one knob over a list of values (for one or more profiles) and chart throughput, p99 latency and drops against it")
    .addOption(new Option("--knob <NAME>", "what to vary").choices(KNOBS).makeOptionMandatory())
    .requiredOption("--values <LIST>", "comma-separated values of the knob, e.g. 1e5,5e5,1e6", splitValues)
    .option("--profiles <LIST>", "comma-separated kernel profiles (default: the scenario's)", parseProfiles);
  copyRunOptions(program, cmd, ["--profile", "--json"])
    .option("--json <FILE>", "write every run (knob value, profile, cpus, totals, assertions) as JSON to FILE ('-' = stdout)")
    .option("--report <DIR>", "write a report page (index.html) with SVG charts to DIR")
    .option("--jobs <N>", "runs at once (default: the cores available)", parseJobs)
    .addHelpText("after", HELP)
    .action(async (opts: SweepOptions) => setExit(await sweep(opts, io)));
}

/** The knob's values, each checked as the matching flag or sysctl would be. */
function knobValues(knob: Knob, texts: readonly string[]): { value: number; apply(f: RunFlags): RunFlags }[] {
  return texts.map((t) => {
    try {
      if (knob === "rate") {
        const pps = parsePps(t);
        return { value: pps, apply: (f) => ({ ...f, rate_pps: pps }) };
      }
      if (knob === "cpus") {
        const cpus = parseCount(t, 1, MAX_CPUS);
        return { value: cpus, apply: (f) => ({ ...f, cpus }) };
      }
      const name = `net.core.${knob}`;
      const patch = parseSysctlValue(name, t);
      return { value: patch[knob] as number, apply: (f) => ({ ...f, sysctls: [...(f.sysctls ?? []), { name, patch }] }) };
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`--values: ${knob} '${t}': ${err.message}`);
      throw err;
    }
  });
}

async function sweep(o: SweepOptions, io: CliIo): Promise<number> {
  const scenario = loadScenarioOption(o);
  const values = knobValues(o.knob, o.values);
  const profiles: (string | undefined)[] = o.profiles ?? [undefined];
  // Profile by profile, each over every value: the table reads as one curve after another.
  const points: { value: number; cfg: EmuConfig }[] = profiles.flatMap((p) =>
    values.map((v) => ({ value: v.value, cfg: resolveConfig(scenario, v.apply(flagsOf(o, p))) })),
  );
  const checks = await scenarioChecks(scenario, points.map((p) => p.cfg), o.engine);
  if (o.json !== undefined) checkOutputFile("--json", o.json);
  if (o.report !== undefined) prepareReportDir("--report", o.report);

  const results = await runExperimentJobs(
    points.map((p) => ({
      label: `${p.cfg.profile.name} ${o.knob}=${p.value}`,
      cfg: p.cfg,
      seriesIntervalNs: o.seriesInterval,
      abort: checks.aborts.map((a) => a.text),
    })),
    o,
    io,
  );
  const runs = results.map((r, i) => ({ value: points[i]!.value, results: r, assertions: assertionsOf(checks, r) }));
  const matrix = sweepMatrix(o.knob, runs);
  const problems = runs.flatMap((r) => problemLines(r, checks.asserts).map((l) => `${o.knob}=${r.value} ${l}`));

  if (o.json !== undefined) {
    const doc = {
      command: "sweep",
      scenario: scenario?.file ?? null,
      knob: o.knob,
      values: values.map((v) => v.value),
      profiles: [...new Set(results.map((r) => r.profile))],
      runs: runs.map((r) => ({ knob: o.knob, value: r.value, ...r.results, assertions: r.assertions })),
    };
    writeOutput(io, "--json", o.json, `${JSON.stringify(doc, null, 2)}\n`);
  }
  if (o.report !== undefined) {
    const first = points[0]!.cfg;
    const written = await writeReport(
      o.report,
      {
        title: `softnet-emu sweep: ${o.knob} over ${values.map((v) => v.value).join(", ")}`,
        intro: [`One run per value of ${o.knob} and per profile, everything else the same (seed included).`],
        meta: [
          ["scenario", scenario?.file ?? "default (flags only)"],
          ["seed", String(first.seed)],
          ["CPUs", o.knob === "cpus" ? "swept" : String(first.cpus)],
          ["virtual time", formatDurationNs(first.duration_ns)],
          ["load", describeLoad(first)],
          ["sysctls", describeSysctls(first, DEFAULT_SYSCTLS)],
          ["hotplug", describeEvents(first)],
          ["engine", o.engine],
        ],
        tables: [{ title: "Runs", matrix }],
        notes: [{ title: "Problems", lines: problems }],
      },
      sweepCharts(o.knob, runs),
    );
    if (!o.quiet) io.err(`softnet-emu: report written to ${written.index}\n`);
  }
  if (!o.quiet && o.json !== "-") io.out(`${renderMatrix(matrix, io.outIsTTY)}\n`);
  for (const line of problems) io.err(`softnet-emu: ${line}\n`);
  return problems.length > 0 ? 1 : 0;
}
