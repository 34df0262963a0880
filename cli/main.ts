// softnet-emu's command line (commander). `run` resolves a scenario file and flags into one
// EmuConfig, runs an engine (by default one OS process per CPU with a coordinator, all on loopback)
// and prints a summary or JSON; `coordinator` and `cpu` run those parts on their own, across hosts
// (cli/distributed.ts). Exit codes: config/exit-codes.ts.
import { readFileSync } from "node:fs";
import type { CliIo } from "./io.ts";
export type { CliIo } from "./io.ts";
import { Command, CommanderError, Option } from "commander";
import { Interrupted, isRoutineLine, isRunFailure, loadEngine, type EngineName, type EngineRunOptions } from "./engines.ts";
import { UsageError } from "../config/errors.ts";
import { checkProcessesMemory } from "./memory-estimate.ts";
import { checkOutputFile, writeOutputFile } from "../report/output-file.ts";
import { attachPartial, partialOf } from "../engine/partial.ts";
import { degradedLine, EXIT, EXIT_HELP, exitCodeOfResults, exitCodeOfSignal } from "../config/exit-codes.ts";
import { createProgress } from "./progress.ts";
import { loadScenario, type Scenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { resolveNemesisSpecs } from "../config/resolve.ts";
import { renderSummary } from "./summary.ts";
import { registerExperiments } from "./experiments.ts";
import { registerValidate } from "./validate.ts";
import { registerDistributed } from "./distributed.ts";
import { runChecks, type RunChecks } from "./run-checks.ts";
import {
  addLiveOptions,
  addScenarioOptions,
  arg,
  checkLiveOptions,
  engineOption,
  positiveDuration,
  repeated,
  runFlagsOf,
  timeoutMs,
  type LiveCliOptions,
  type ScenarioCliOptions,
} from "./run-options.ts";
import { keepServing, openObserver } from "./serve.ts";
import { parseMaxFrameBytes } from "../config/units.ts";
import { NEMESIS_KIND_NAMES, parseNemesis, type NemesisSpec } from "../chaos/spec.ts";

export const EXIT_OK = EXIT.ok;
/** The checker found a violation, or the run failed. */
export const EXIT_FAILED = EXIT.failed;
export const EXIT_USAGE = EXIT.usage;
export const EXIT_BUG = EXIT.bug;

/** Entry point of bin/softnet-emu.js: sets the exit code rather than exiting, so output drains. */
export async function main(argv: string[]): Promise<number> {
  const code = await runCli(argv.slice(2), processIo());
  process.exitCode = code;
  return code;
}

function processIo(): CliIo {
  // `softnet-emu run --json - | head`: a closed pipe ends the output, it is not an error.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code !== "EPIPE") throw err;
      process.exit(process.exitCode ?? 0);
    });
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    outIsTTY: process.stdout.isTTY === true,
    errIsTTY: process.stderr.isTTY === true,
  };
}

/** Run the CLI on `args` (without `node` and the script); returns the exit code. */
export async function runCli(args: string[], io: CliIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = buildProgram(io, (code) => (exitCode = code), args);
  try {
    if (args.length === 0) throw new UsageError("no command given (try 'softnet-emu run', or --help)");
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0) return EXIT.ok;
      io.err(`softnet-emu: ${oneLine(err.message).replace(/^error: /, "error: ")}\n`);
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      io.err(`softnet-emu: error: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof Interrupted) {
      // Ctrl-C reached the distributed engine's own SIGINT handler first: still an interrupt.
      io.err(`softnet-emu: interrupted (${err.signal}): the run stopped, every process torn down\n`);
      return exitCodeOfSignal(err.signal);
    }
    if (isRunFailure(err)) {
      io.err(`softnet-emu: error: the run failed: ${err.message}\n`);
      return EXIT.failed;
    }
    io.err(`softnet-emu: internal error (a bug, please report it with the command line):\n${(err as Error).stack ?? String(err)}\n`);
    return EXIT.bug;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

const RUN_EXAMPLES = `
Durations take a unit: 200ns, 5us, 2.5ms, 1s. CPU masks are hex, as in sysfs: e = CPUs 1-3.
Flags override the scenario file; without either, the default scenario runs: 4 CPUs, profile
6.6-patched, 50ms, one NIC RX queue (IRQ on CPU 0) at 200 kpps over 64 flows, rps_cpus=e.
By default every emulated CPU is its own process (--engine processes) on loopback, torn down at
the end; --verbose shows their routine log lines. Chaos runs (--nemesis) and scenarios with abort:
conditions run in-process unless --engine is given: only that engine stops a run early.

Examples:
  $ softnet-emu run
  $ softnet-emu run --scenario examples/hotplug-under-load.yaml
  $ softnet-emu run --load loopback --rps-cpus e --profile rt-6.6 --duration 20ms
  $ softnet-emu run --rps-cpus f --sysctl net.core.netdev_budget=8 --rate 1e6
  $ softnet-emu run --offline 2@10ms --online 2@30ms --json results.json
  $ softnet-emu run --boot thread_backlog_napi --json - | jq .totals
  $ softnet-emu run --engine inprocess --duration 1s
  $ softnet-emu run --pace 1 --duration 60s --metrics-port 9100 --procfs /tmp/emu --keep-alive

${EXIT_HELP}`;

/** `args`: the command line as given, for the reproduce line of a failed chaos run. */
function buildProgram(io: CliIo, setExit: (code: number) => void, args: readonly string[] = []): Command {
  const program = new Command("softnet-emu")
    .description(
      "Emulate the Linux kernel's per-CPU network receive path (softnet_data, RPS and its IPIs, " +
        "backlog NAPI and backlog threads, PREEMPT_RT, CPU hotplug) in virtual time, deterministically.",
    )
    .version(packageVersion(), "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s),
      writeErr: (s) => io.err(s),
      // runCli prints errors itself, as one line.
      outputError: () => {},
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      "after",
      `
Examples:
  $ softnet-emu run                                   the default scenario (4 CPUs, NIC, rps_cpus=e)
  $ softnet-emu run --scenario examples/rt-ipi-warning.yaml
  $ softnet-emu run --profile 6.6-patched-threads --json -
  $ softnet-emu coordinator --cpus 4 --bind tcp://0.0.0.0:5555 --metrics-port 9100
  $ softnet-emu cpu --coordinator tcp://HOST:5555 --bind 'tcp://0.0.0.0:*' --advertise-host NAME

Run 'softnet-emu run --help' for every option of a run; scenario files to start from are in examples/.`,
    );

  const run = program
    .command("run")
    .description("run one emulation (one process per CPU and a coordinator, on loopback, by default) and print a summary or JSON");
  addScenarioOptions(run)
    .addOption(engineOption("processes"))
    .addOption(new Option("--transport <KIND>", "processes: how the CPU processes talk, tcp on 127.0.0.1 or ipc sockets in a private temp dir (default tcp)").choices(["tcp", "ipc"]))
    .option("--cpu-timeout <D>", "processes: floor of the failure detector; the CPU processes are run's children, so one is dead when it exits, and a silent one is only reported (default 3s)", arg(timeoutMs))
    .option("--max-frame <BYTES>", "processes: drop frames larger than this (64KiB-64MiB, e.g. 16MiB; default 16MiB); a process that would send one fails", arg(parseMaxFrameBytes));
  addLiveOptions(run)
    .option("--json <FILE>", "write the results as JSON to FILE ('-' = stdout, and nothing else there)")
    .option("--series-interval <D>", "also sample per-CPU counters every D of virtual time (in the JSON)", arg(positiveDuration))
    .option(
      "--nemesis <KIND[:KEY=VALUE,...]>",
      `inject seeded faults (repeatable; replaces the scenario's nemesis list): ${NEMESIS_KIND_NAMES.join(", ")}; the run becomes chaos, heal, drain`,
      // Parsed now (commander names the flag); checked against the host once the config is known.
      repeated((t) => ({ ...parseNemesis(t, ""), origin: `--nemesis ${t}` })),
    )
    .option("--chaos-duration <D>", "length of the chaos phase (instead of --duration), followed by the heal and the drain", arg(positiveDuration))
    .option("--drain-limit <D>", "after the heal, how long the backlogs may take to drain (default 20ms)", arg(positiveDuration))
    .option("--stall-after <D>", "a non-empty backlog that processes nothing this long is a stall, in every run (default 5ms; a stall exits 1)", arg(positiveDuration))
    .option("--quiet", "print no summary and no progress")
    .option("--verbose", "also print the coordinator's and the CPU processes' routine log lines")
    .addHelpText("after", RUN_EXAMPLES)
    .action(async (opts: RunOptions, cmd: Command) => setExit(await runCommand(opts, io, args, cmd.getOptionValueSource("engine") === "default")));
  registerDistributed(program, io, setExit);
  registerExperiments(program, io, setExit);
  registerValidate(program, io, setExit);
  return program;
}

/** What commander hands the `run` action (option names camel-cased). */
interface RunOptions extends ScenarioCliOptions, LiveCliOptions {
  engine: EngineName;
  transport?: "tcp" | "ipc";
  cpuTimeout?: number;
  maxFrame?: number;
  json?: string;
  seriesInterval?: number;
  quiet?: boolean;
  verbose?: boolean;
  nemesis?: NemesisSpec[];
  chaosDuration?: number;
  drainLimit?: number;
  stallAfter?: number;
}

/** A run as the flags and the scenario file describe it, checked before anything starts. */
interface RunPlan {
  scenario: Scenario | undefined;
  cfg: EmuConfig;
  engineName: EngineName;
  checks: RunChecks;
  nemeses: NemesisSpec[];
  chaos: typeof import("./chaos.ts") | undefined;
  /** Not an in-process run with abort: conditions: a live engine (paced, stoppable, watched). */
  live: boolean;
  /** The process engine will take more than half the machine's memory. */
  memoryWarning: string | undefined;
}

async function planRun(opts: RunOptions, engineDefaulted: boolean): Promise<RunPlan> {
  if (opts.duration !== undefined && opts.chaosDuration !== undefined)
    throw new UsageError("--chaos-duration: give it or --duration, not both (in a chaos run --duration is the chaos phase)");
  checkLiveOptions(opts);
  const scenario = opts.scenario !== undefined ? loadScenario(opts.scenario) : undefined;
  const cfg = resolveConfig(scenario, runFlagsOf(opts, opts.duration ?? opts.chaosDuration));
  // A chaos run (chaos/): nemeses, then heal and drain; chaos/ is loaded only then.
  const nemeses = resolveNemesisSpecs(scenario, opts.nemesis);
  const chaos =
    nemeses.length > 0 || opts.chaosDuration !== undefined || opts.drainLimit !== undefined
      ? await import("./chaos.ts")
      : undefined;
  const aborts = (scenario?.spec.abort?.length ?? 0) > 0;
  // Only the in-process engine stops a run at an abort condition, or a chaos run once drained (and
  // so gives byte-identical chaos JSON): without --engine, those runs are in-process.
  const engineName: EngineName = engineDefaulted && (chaos !== undefined || aborts) ? "inprocess" : opts.engine;
  for (const [flag, given] of [["--cpu-timeout", opts.cpuTimeout], ["--transport", opts.transport], ["--max-frame", opts.maxFrame]] as const)
    if (given !== undefined && engineName !== "processes") throw new UsageError(`${flag}: only with --engine processes (this run is in-process)`);
  // The scenario's assert: and abort: lists (checked now, applied during and after the run).
  const checks = runChecks(scenario, cfg, engineName);
  if (chaos && aborts)
    throw new UsageError(`${scenario!.file}: abort: a chaos run cannot stop early (it must heal and drain); drop abort: or the nemeses`);
  // abort: runs in-process are one synchronous loop: nothing can pace or stop them midway.
  const live = !(aborts && engineName === "inprocess");
  if (opts.pace !== undefined && !live)
    throw new UsageError("--pace: a run with abort: conditions on the in-process engine cannot be paced; use --engine processes");
  if (opts.json !== undefined) checkOutputFile("--json", opts.json);
  const memoryWarning = engineName === "processes" ? checkProcessesMemory(cfg.cpus) : undefined;
  return { scenario, cfg, engineName, checks, nemeses, chaos, live, memoryWarning };
}

async function runCommand(opts: RunOptions, io: CliIo, args: readonly string[], engineDefaulted: boolean): Promise<number> {
  const plan = await planRun(opts, engineDefaulted);
  if (plan.memoryWarning) io.err(`softnet-emu: warning: ${plan.memoryWarning}\n`);
  const { cfg, chaos, live } = plan;
  const engine = plan.checks.engine(await loadEngine(plan.engineName));
  const observer = await openObserver(opts, cfg, plan.scenario, io);
  try {
    const progress = opts.quiet ? undefined : createProgress({ write: io.err, isTTY: io.errIsTTY });
    let maxBehindMs = 0;
    const engineOpts: EngineRunOptions = {
      ...(progress ? { onProgress: progress.onProgress } : {}),
      ...(opts.seriesInterval ? { seriesIntervalNs: opts.seriesInterval } : {}),
      // Kernel-style lines (the first do_softirq_post_smp_call_flush WARNING, the distributed
      // engine's [cpu N] lines): stderr, as dmesg; the progress line is cleared first.
      log: (line: string) => {
        if (opts.quiet || (!opts.verbose && isRoutineLine(line))) return;
        progress?.finish();
        io.err(`${line}\n`);
      },
      ...(opts.pace !== undefined ? { pace: opts.pace, onBehindMs: (ms: number) => (maxBehindMs = Math.max(maxBehindMs, ms)) } : {}),
      ...(opts.cpuTimeout !== undefined ? { cpuTimeoutMs: opts.cpuTimeout } : {}),
      ...(opts.transport ? { transport: opts.transport } : {}),
      ...(opts.maxFrame !== undefined ? { maxFrameBytes: opts.maxFrame } : {}),
      ...(opts.stallAfter !== undefined ? { liveness: { stallAfterNs: opts.stallAfter } } : {}),
      // An in-process abort: run gets the final counters only (its driver is not live).
      ...(observer && live ? { observer } : {}),
    };
    const startMs = performance.now();
    let results: RunResults | Interrupted;
    try {
      results = await withSignals(live, (signal) => {
        const o = signal ? { ...engineOpts, signal } : engineOpts;
        return chaos ? chaos.runChaos(cfg, plan.nemeses, { engine: plan.engineName, drainLimitNs: opts.drainLimit, stallAfterNs: opts.stallAfter }, o) : engine(cfg, o);
      }).finally(() => progress?.finish());
    } catch (err) {
      // A failed run still leaves its results so far (JSON with `failure`, the summary); the error
      // then takes its usual way (exit 1 for a run failure, 3 for a bug).
      const message = oneLine((err as Error).message ?? String(err));
      // Ctrl-C that reached the distributed engine's own handler first is still an interrupt.
      const cut = err instanceof Interrupted ? ({ interrupted: true, signal: err.signal } as const) : { failure: message };
      if (!(err instanceof UsageError)) reportCutShort(partialOf(err), cut, { opts, io, plan, wallMs: performance.now() - startMs });
      throw err;
    }
    const wallMs = performance.now() - startMs;
    if (results instanceof Interrupted) {
      reportCutShort(partialOf(results), { interrupted: true, signal: results.signal }, { opts, io, plan, wallMs });
      io.err(`softnet-emu: ${results.message}: the run stopped, every process torn down\n`);
      return exitCodeOfSignal(results.signal);
    }
    const checkFailures = plan.checks.finish(results);
    const procfsWarning = await observer?.final(results);
    const code = report(results, { opts, io, args, plan, wallMs, checkFailures });
    if (procfsWarning) io.err(`softnet-emu: warning: ${procfsWarning}\n`);
    if (opts.pace !== undefined && maxBehindMs >= BEHIND_WARN_MS)
      io.err(`softnet-emu: --pace ${opts.pace}: could not keep up; the run fell up to ${(maxBehindMs / 1000).toFixed(2)}s (wall) behind the paced clock\n`);
    if (opts.keepAlive && observer) await keepServing(observer, io);
    return code;
  } finally {
    await observer?.close();
  }
}

/** The JSON, the summary and the verdict lines of a finished run; returns its exit code. */
function report(
  results: RunResults,
  c: { opts: RunOptions; io: CliIo; args: readonly string[]; plan: RunPlan; wallMs: number; checkFailures: string[] },
): number {
  const { opts, io, plan } = c;
  // Wall time stays out of the JSON: same scenario and seed → byte-identical JSON.
  const json = `${JSON.stringify(results, null, 2)}\n`;
  if (opts.json === "-") io.out(json);
  else if (opts.json !== undefined) writeOutputFile("--json", opts.json, json);
  if (!opts.quiet && opts.json !== "-") io.out(renderSummary(results, { wallMs: c.wallMs, color: io.outIsTTY }));
  if (plan.chaos && !opts.quiet && opts.json !== "-") io.out(plan.chaos.renderChaosSummary(results));

  for (const line of c.checkFailures) io.err(`softnet-emu: ${line}\n`);
  const code = exitCodeOfResults(results, c.checkFailures.length > 0);
  if (!results.checker.ok) {
    if (plan.chaos) io.err(plan.chaos.reproduceLine(results, c.args));
    else
      io.err(`softnet-emu: checker: ${results.checker.violations.length} violation(s) with seed ${results.seed}; reproduce with the same command line and --seed ${results.seed}\n`);
  } else if (code === EXIT.degraded) io.err(`softnet-emu: ${degradedLine(results)}\n`);
  return code;
}

/**
 * A run stopped by a signal or a failure: the JSON so far (`interrupted` and the signal, or
 * `failure`), written as every result file is, and the summary of what ran. With no results at all
 * (stopped before the first checkpoint) the JSON still says what happened. Never throws: the
 * signal's or the failure's exit code must win.
 */
function reportCutShort(
  partial: RunResults | undefined,
  cut: { interrupted: true; signal: "SIGINT" | "SIGTERM" } | { failure: string },
  c: { opts: RunOptions; io: CliIo; plan: RunPlan; wallMs: number },
): void {
  const { opts, io, plan } = c;
  const doc: RunResults | Record<string, unknown> = partial
    ? { ...cut, ...partial, ...cut }
    : { ...cut, profile: plan.cfg.profile.name, seed: plan.cfg.seed, engine: plan.engineName, virtual_ns: 0, results: null };
  try {
    const json = `${JSON.stringify(doc, null, 2)}\n`;
    if (opts.json === "-") io.out(json);
    else if (opts.json !== undefined) writeOutputFile("--json", opts.json, json);
  } catch (err) {
    io.err(`softnet-emu: ${(err as Error).message}\n`);
  }
  if (partial && !opts.quiet && opts.json !== "-") {
    try {
      io.out(renderSummary(doc as RunResults, { wallMs: c.wallMs, color: io.outIsTTY }));
    } catch {
      // results too broken to show: the JSON has them
    }
  }
}

/** Warn about pacing when the run fell this far behind the paced clock (wall ms). */
const BEHIND_WARN_MS = 250;

/**
 * Run `body` with SIGINT and SIGTERM turned into an abort of its signal (when `stoppable`; else the
 * default action stays: the process dies). Resolves with the Interrupted when the run was stopped.
 */
async function withSignals<T>(stoppable: boolean, body: (signal: AbortSignal | undefined) => Promise<T> | T): Promise<T | Interrupted> {
  if (!stoppable) return body(undefined);
  const controller = new AbortController();
  const on = (signal: "SIGINT" | "SIGTERM") => (): void => {
    if (!controller.signal.aborted) controller.abort(new Interrupted(signal));
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    return await body(controller.signal);
  } catch (err) {
    // The results so far may hang on the engine's own error (the distributed engine's failure).
    if (controller.signal.aborted) return attachPartial(controller.signal.reason as Interrupted, partialOf(err) ?? partialOf(controller.signal.reason));
    throw err;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
