// `softnet-emu validate`: run the reference phases (validate/scenarios/) under the profile of each
// real kernel measured (validate/reference/) and compare, relation by relation (validate/relations.ts),
// the kernel's figure with the model's. Exit 0 only if every relation holds within its tolerance.
import { InvalidArgumentError, type Command } from "commander";
import { ReferenceError, loadReference } from "../validate/reference.ts";
import { KERNELS, LATER_BOOT_RUNS } from "../validate/kernels.ts";
import { KINDS, modelSides, type Kind } from "../validate/plan.ts";
import { runStages, stagedRuns } from "../validate/stages.ts";
import { evaluateRelations } from "../validate/relations.ts";
import { kernelSides } from "../validate/sides.ts";
import { formatValue, renderBursts, renderMarkdown, renderText } from "../validate/render.ts";
import { burstChart, relationCharts, relationMatrix } from "../report/validate-report.ts";
import { writeReport } from "../report/write-report.ts";
import { UsageError } from "../config/errors.ts";
import { checkOutputFile, copySomeRunOptions, parseJobs, prepareReportDir, runExperimentJobs, writeOutput } from "./experiment-common.ts";
import type { CliIo } from "./io.ts";
import type { EngineName } from "./engines.ts";
import { arg, positiveDuration } from "./run-options.ts";

interface ValidateOptions {
  engine: EngineName;
  seed?: number;
  duration?: number;
  kernels?: string[];
  only?: Kind[];
  json?: string;
  markdown?: boolean;
  report?: string;
  jobs?: number;
  quiet?: boolean;
}

const HELP = `
What it does: the reference data in validate/reference/ are counters of real kernels (Debian 6.1
and 6.12, generic and PREEMPT_RT, booted under QEMU with 4 vCPUs; its README.md says how they were
measured) over phases of a UDP flood: loopback p1-p7 (rps_cpus 0/e/f, one flow, backlog 32, the flow
limiter), a NIC p1-p5 (rps_cpus 0/e/f, backlog 32, netdev_budget=8) and hotplug h1-h4 (a CPU offline
and back during the flood). Each phase is a scenario in validate/scenarios/ (run one alone with
softnet-emu run --scenario validate/scenarios/loopback-p2.yaml --profile 6.6). validate runs every
phase under each kernel's profile (6.1 → 6.6, 6.12 → 6.6-patched, 6.12 with thread_backlog_napi →
6.6-patched-threads, 6.1-rt → rt-6.6, 6.12-rt → rt-6.6-patched) and prints, per relation and kernel,
the kernel's figure, the model's, the tolerance and PASS or FAIL.

What QEMU decided, not the guest kernel, is replayed: each NIC phase runs at the kernel's arrival
rate relative to its own speed (the model's loopback p1 runs first), with the NIC's rx_usecs
fitted so that the model gets the kernel's packets per virtio interrupt (short in-process trial
runs before the NIC runs; the fit is printed, and in --json as nic_bursts).

Relations are ratios, shares, orderings and yes/no facts, never absolute rates (QEMU's emulated
CPUs are far slower than hardware): conservation, per-CPU shares, NET_RX runs per packet and per
received_rps, packets per IPI, the sender's rate ordering rps 0 > e > f and IPI ≈ threads at f,
where drops and flow_limit_count land, squeezes, backlog-32 drops, hotplug rows and hand-over. The
sender's rates, which move from boot to boot under TCG, are compared as each kernel's median boot
over its ${LATER_BOOT_RUNS.length + 1} boots (6.1 and 6.12 generic), the tolerance widened to their spread. Their
tolerances, and why, are in docs/CALIBRATION.md.

Examples:
  $ softnet-emu validate
  $ softnet-emu validate --only loopback --kernels 6.12-generic,6.12-generic-threaded
  $ softnet-emu validate --json validate.json --quiet
  $ softnet-emu validate --markdown > table.md
  $ softnet-emu validate --report validate-report/   # charts: open validate-report/index.html

Exit status: 0 every relation holds, 1 one does not (or a run failed), 2 bad input.`;

function listOf<T extends string>(known: readonly T[], what: string) {
  return (text: string): T[] => {
    const items = text.split(",").map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) throw new InvalidArgumentError(`give at least one ${what}`);
    for (const i of items) if (!(known as readonly string[]).includes(i)) throw new InvalidArgumentError(`unknown ${what} '${i}' (known: ${known.join(", ")})`);
    return items as T[];
  };
}

export function registerValidate(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const cmd = program
    .command("validate")
    .description("run the real-kernel reference phases on the model and compare, relation by relation, PASS or FAIL each");
  copySomeRunOptions(program, cmd, ["--engine", "--seed"])
    // Not run's "default 50ms": each phase has its scenario's length (validate/plan.ts).
    .option("--duration <D>", "virtual time of every loopback and NIC phase (default: each scenario's: loopback 1s, NIC 300ms; hotplug phases always keep theirs)", arg(positiveDuration))
    .option("--kernels <NAMES>", `comma-separated kernels to compare with (default: all: ${KERNELS.map((k) => k.name).join(", ")})`, listOf(KERNELS.map((k) => k.name), "kernel"))
    .option("--only <KINDS>", `comma-separated kinds of phases: ${KINDS.join(", ")} (default: all)`, listOf(KINDS, "kind"))
    .option("--json <FILE>", "write every relation with both figures, and every run's headline numbers, as JSON to FILE ('-' = stdout)")
    .option("--markdown", "print the table as Markdown (as in the README) instead of text")
    .option("--report <DIR>", "write a report page (index.html) to DIR: a chart per relation (every kernel and boot, its tolerance band, the model), the NIC bursts, the table")
    .option("--jobs <N>", "runs at once (default: the cores available)", parseJobs)
    .option("--quiet", "no progress lines on stderr")
    .addHelpText("after", HELP)
    .action(async (opts: ValidateOptions) => setExit(await validate(opts, io)));
}

export async function validate(o: ValidateOptions, io: CliIo): Promise<number> {
  if (o.json !== undefined) checkOutputFile("--json", o.json);
  if (o.report !== undefined) prepareReportDir("--report", o.report);
  let ref;
  try {
    ref = loadReference();
  } catch (err) {
    if (err instanceof ReferenceError) throw new UsageError(`validate/reference/${err.message}`);
    throw err;
  }
  const base = { kernels: o.kernels, durationNs: o.duration, seed: o.seed };
  const kinds = o.only ?? KINDS;
  const all = stagedRuns(ref, { ...base, kinds });
  if (all.length === 0) throw new UsageError("--kernels/--only: no reference phase matches");
  if (!o.quiet) io.err(`softnet-emu validate: ${all.length} model runs (${[...new Set(all.map((r) => r.profile))].join(", ")})\n`);
  const { runs, results, bursts } = await runStages(ref, { ...base, kinds }, {
    run: (rs) =>
      runExperimentJobs(
        rs.map((r) => ({ label: r.label, cfg: r.cfg, ...(r.seriesIntervalNs ? { seriesIntervalNs: r.seriesIntervalNs } : {}) })),
        { engine: o.engine, jobs: o.jobs, quiet: o.quiet },
        io,
      ),
    // The fit's trials run in-process whatever the engine (both give the same results, bit for
    // bit), in this thread: a trial takes milliseconds, starting worker threads for each step more.
    trial: (cfgs) => runExperimentJobs(cfgs.map((cfg, i) => ({ label: `burst fit ${i}`, cfg })), { engine: "inprocess", jobs: 1, quiet: true }, io),
    fitted: (bursts) => {
      if (!o.quiet) io.err(`softnet-emu validate: NIC bursts replayed (packets per interrupt, kernel → model at rx_usecs):\n${renderBursts(bursts)}`);
    },
  });
  // Kinds left out of the run are left out of the comparison too.
  const kernels = kernelSides(ref, { kernels: o.kernels, kinds });
  const models = modelSides(runs, results);
  const rows = evaluateRelations(KERNELS, kernels, models);
  const failed = rows.filter((r) => !r.pass).length;
  if (o.json !== undefined) {
    const doc = {
      command: "validate",
      ok: failed === 0,
      passed: rows.length - failed,
      total: rows.length,
      relations: rows,
      nic_bursts: bursts.map((b) => ({ kernel: b.kernel_name, phase: b.phase, rx_usecs: b.rxUsecs, kernel_packets_per_irq: b.kernel, model_packets_per_irq: b.model })),
      runs: runs.map((r, i) => ({
        label: r.label,
        profile: r.profile,
        kernels: r.kernels,
        injected: results[i]!.totals.injected,
        processed: results[i]!.totals.processed,
        dropped: results[i]!.totals.dropped,
        virtual_ns: results[i]!.virtual_ns,
      })),
    };
    writeOutput(io, "--json", o.json, `${JSON.stringify(doc, null, 2)}\n`);
  }
  if (o.report !== undefined) {
    const written = await writeReport(
      o.report,
      {
        title: "softnet-emu validate: the model against real kernels",
        intro: [
          "Each relation is one figure computed the same way on a real kernel's counters (validate/reference/: Debian 6.1 and 6.12 under QEMU TCG, and later boots of the generic kernels) and on the model's runs of the same phases.",
          "In a chart, a dot is a kernel's (or boot's) figure, green when the model passes against it and red when not; the pale bar is the band the model's figure (the black diamond) must fall in. A relation over several boots (the sender's rates) has the median boot's figure as its dot and each boot's as a tick.",
        ],
        meta: [
          ["passed", `${rows.length - failed} of ${rows.length} relation rows`],
          ["seed", o.seed !== undefined ? String(o.seed) : "each scenario's (1)"],
          ["kernels", o.kernels?.join(", ") ?? "all"],
          ["phases", kinds.join(", ")],
          ["engine", o.engine],
        ],
        tables: [{ title: "Every relation", matrix: relationMatrix(rows) }],
        notes: [{ title: "Failing", lines: rows.filter((r) => !r.pass).map((r) => `${r.id} ${r.kernel}: kernel ${formatValue(r.kernel_value)}, model ${formatValue(r.model_value)} (${r.tolerance})`) }],
      },
      [...(bursts.length > 0 ? [burstChart(bursts)] : []), ...relationCharts(rows)],
    );
    if (!o.quiet) io.err(`softnet-emu validate: report written to ${written.index}\n`);
  }
  if (o.json !== "-") io.out(o.markdown ? renderMarkdown(rows) : renderText(rows));
  return failed === 0 ? 0 : 1;
}
