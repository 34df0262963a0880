// softnet-emu's command line (commander). `run` resolves a scenario file and flags into one
// EmuConfig, runs an engine and prints a summary or JSON. Exit codes: 0 ok, 1 the checker found
// a violation or the engine gave up, 2 bad input (one line on stderr, never a stack trace), 3 a bug.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { PROFILE_NAMES } from "../model/profiles.ts";
import type { RunResults } from "../model/results.ts";
import { ENGINES, isRunFailure, loadEngine, type EngineName } from "./engines.ts";
import { UsageError } from "./errors.ts";
import { createProgress } from "./progress.ts";
import { loadScenario, resolveConfig, type RunFlags } from "./scenario.ts";
import { resolveNemesisSpecs } from "./resolve.ts";
import { MAX_FLOWS } from "./scenario-schema.ts";
import { renderSummary } from "./summary.ts";
import { registerExperiments } from "./experiments.ts";
import { runChecks } from "./run-checks.ts";
import { NEMESIS_KIND_NAMES, parseNemesis, type NemesisSpec } from "../chaos/spec.ts";
import {
  MAX_CPUS,
  parseCount,
  parseCpuAtTime,
  parseCpuMask,
  parseDurationNs,
  parsePps,
  parseSysctl,
  SYSCTL_NAMES,
  type CpuAtTime,
} from "./units.ts";

/** Where the CLI writes; the process's streams in production, buffers in tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  outIsTTY: boolean;
  errIsTTY: boolean;
}

export const EXIT_OK = 0;
/** The checker found a violation, or the engine gave up (a CPU process died). */
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_BUG = 3;

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
  let exitCode = EXIT_OK;
  const program = buildProgram(io, (code) => (exitCode = code), args);
  try {
    if (args.length === 0) throw new UsageError("no command given (try 'softnet-emu run', or --help)");
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      if (err.exitCode === 0) return EXIT_OK;
      io.err(`softnet-emu: ${oneLine(err.message).replace(/^error: /, "error: ")}\n`);
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      io.err(`softnet-emu: error: ${err.message}\n`);
      return EXIT_USAGE;
    }
    if (isRunFailure(err)) {
      io.err(`softnet-emu: error: the run failed: ${err.message}\n`);
      return EXIT_FAILED;
    }
    io.err(`softnet-emu: internal error (a bug, please report it with the command line):\n${(err as Error).stack ?? String(err)}\n`);
    return EXIT_BUG;
  }
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}

/** A commander argument parser from a units.ts parser: a UsageError becomes a clean one-liner. */
function arg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof UsageError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

/** Repeatable option: every occurrence is parsed and collected. */
function repeated<T>(parse: (text: string) => T): (text: string, prev: T[] | undefined) => T[] {
  const one = arg(parse);
  return (text, prev) => [...(prev ?? []), one(text)];
}

function positiveDuration(text: string): number {
  const ns = parseDurationNs(text);
  if (ns <= 0) throw new UsageError("must be > 0");
  return ns;
}

function profileName(text: string): string {
  if (!PROFILE_NAMES.includes(text)) throw new UsageError(`unknown profile '${text}' (known: ${PROFILE_NAMES.join(", ")})`);
  return text;
}

const RUN_EXAMPLES = `
Durations take a unit: 200ns, 5us, 2.5ms, 1s. CPU masks are hex, as in sysfs: e = CPUs 1-3.
Flags override the scenario file; without either, the default scenario runs: 4 CPUs, profile
6.6-patched, 50ms, one NIC RX queue (IRQ on CPU 0) at 200 kpps over 64 flows, rps_cpus=e.

Examples:
  $ softnet-emu run
  $ softnet-emu run --scenario examples/hotplug-under-load.yaml
  $ softnet-emu run --load loopback --rps-cpus e --profile rt-6.6 --duration 20ms
  $ softnet-emu run --rps-cpus f --sysctl net.core.netdev_budget=8 --rate 1e6
  $ softnet-emu run --offline 2@10ms --online 2@30ms --json results.json
  $ softnet-emu run --boot thread_backlog_napi --json - | jq .totals

Exit status: 0 ok, 1 the checker found a violation (or the run failed), 2 bad input, 3 internal error.`;

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

Run 'softnet-emu run --help' for every option of a run; scenario files to start from are in examples/.`,
    );

  program
    .command("run")
    .description("run one emulation (all CPUs in this process by default) and print a summary or JSON")
    .option("--scenario <FILE>", "YAML scenario file (see examples/)")
    .option("--profile <NAME>", `kernel profile: ${PROFILE_NAMES.join(", ")}`, arg(profileName))
    .option("--cpus <N>", `number of CPUs (1-${MAX_CPUS}; default 4)`, arg((t) => parseCount(t, 1, MAX_CPUS)))
    .option("--seed <N>", "seed of every random choice, flow hashing included (default 1)", arg((t) => parseCount(t, 0, 2 ** 32 - 1)))
    .option("--duration <D>", "virtual time to emulate (default 50ms)", arg(positiveDuration))
    .option("--rate <PPS>", "offered packets per second, for every load phase", arg(parsePps))
    .option("--flows <N>", "number of flows, for every load phase", arg((t) => parseCount(t, 1, MAX_FLOWS)))
    .option("--rps-cpus <HEXMASK>", "rps_cpus of every RX queue and loopback sender (0 = RPS off)", arg((t) => parseCpuMask(t)))
    .addOption(
      new Option("--load <KIND>", "one NIC RX queue with its IRQ on CPU 0, or a loopback UDP sender on CPU 0 (replaces the scenario's queues, senders and load)").choices([
        "nic",
        "loopback",
      ]),
    )
    .option("--offline <CPU@TIME>", "take a CPU offline at a virtual time, e.g. 2@10ms (repeatable; with --online, replaces the scenario's events)", repeated(parseCpuAtTime))
    .option("--online <CPU@TIME>", "bring a CPU back online, e.g. 2@30ms (repeatable)", repeated(parseCpuAtTime))
    .option("--window <D>", "synchronisation window (default: the smallest cross-CPU latency, which is exact)", arg(positiveDuration))
    .option("--sysctl <KEY=VALUE>", `set a sysctl, overriding the scenario's (repeatable): ${SYSCTL_NAMES.join(", ")}`, repeated(parseSysctl))
    .option("--boot <ARG>", "kernel command-line switch, e.g. thread_backlog_napi (repeatable; replaces the scenario's boot list)", repeated((t) => t))
    .addOption(new Option("--engine <NAME>", "inprocess: every CPU in this process; processes: one OS process per CPU, over ZeroMQ").choices(ENGINES).default("inprocess"))
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
    .option("--stall-after <D>", "a non-empty backlog that processes nothing this long is a stall (default 5ms)", arg(positiveDuration))
    .option("--quiet", "print no summary and no progress")
    .addHelpText("after", RUN_EXAMPLES)
    .action(async (opts: RunOptions) => setExit(await run(opts, io, args)));
  registerExperiments(program, io, setExit);
  return program;
}

/** What commander hands the `run` action (option names camel-cased). */
interface RunOptions {
  scenario?: string;
  profile?: string;
  cpus?: number;
  seed?: number;
  duration?: number;
  rate?: number;
  flows?: number;
  rpsCpus?: number[];
  load?: "nic" | "loopback";
  offline?: CpuAtTime[];
  online?: CpuAtTime[];
  window?: number;
  sysctl?: ReturnType<typeof parseSysctl>[];
  boot?: string[];
  engine: EngineName;
  json?: string;
  seriesInterval?: number;
  quiet?: boolean;
  nemesis?: NemesisSpec[];
  chaosDuration?: number;
  drainLimit?: number;
  stallAfter?: number;
}

async function run(opts: RunOptions, io: CliIo, args: readonly string[]): Promise<number> {
  if (opts.duration !== undefined && opts.chaosDuration !== undefined)
    throw new UsageError("--chaos-duration: give it or --duration, not both (in a chaos run --duration is the chaos phase)");
  const flags: RunFlags = {
    profile: opts.profile,
    cpus: opts.cpus,
    seed: opts.seed,
    duration_ns: opts.duration ?? opts.chaosDuration,
    rate_pps: opts.rate,
    flows: opts.flows,
    rps_cpus: opts.rpsCpus,
    load: opts.load,
    offline: opts.offline,
    online: opts.online,
    window_ns: opts.window,
    sysctls: opts.sysctl,
    boot: opts.boot,
  };
  const scenario = opts.scenario !== undefined ? loadScenario(opts.scenario) : undefined;
  const cfg = resolveConfig(scenario, flags);
  // The scenario's assert: and abort: lists (checked now, applied during and after the run).
  const checks = runChecks(scenario, cfg, opts.engine);
  // A chaos run (chaos/): nemeses, then heal and drain; chaos/ is loaded only then.
  const nemeses = resolveNemesisSpecs(scenario, opts.nemesis);
  const chaos =
    nemeses.length > 0 || opts.chaosDuration !== undefined || opts.drainLimit !== undefined || opts.stallAfter !== undefined
      ? await import("../chaos/cli.ts")
      : undefined;
  if (chaos && scenario?.spec.abort?.length)
    throw new UsageError(`${scenario.file}: abort: a chaos run cannot stop early (it must heal and drain); drop abort: or the nemeses`);
  if (opts.json !== undefined && opts.json !== "-") checkWritable(opts.json);
  const engine = checks.engine(await loadEngine(opts.engine));

  const progress = opts.quiet ? undefined : createProgress({ write: io.err, isTTY: io.errIsTTY });
  const startMs = performance.now();
  let results: RunResults;
  try {
    const engineOpts = {
      onProgress: progress?.onProgress,
      seriesIntervalNs: opts.seriesInterval,
      // Kernel-style lines (the first do_softirq_post_smp_call_flush WARNING, the distributed
      // engine's [cpu N] lines): stderr, as dmesg; the progress line is cleared first.
      log: (line: string) => {
        if (opts.quiet) return;
        progress?.finish();
        io.err(`${line}\n`);
      },
    };
    results = chaos
      ? await chaos.runChaos(cfg, nemeses, { engine: opts.engine, drainLimitNs: opts.drainLimit, stallAfterNs: opts.stallAfter }, engineOpts)
      : await engine(cfg, engineOpts);
  } finally {
    progress?.finish();
  }
  const wallMs = performance.now() - startMs;
  const checkFailures = checks.finish(results);

  // Wall time stays out of the JSON: same scenario and seed → byte-identical JSON.
  const json = `${JSON.stringify(results, null, 2)}\n`;
  if (opts.json === "-") io.out(json);
  else if (opts.json !== undefined) writeJson(opts.json, json);
  if (!opts.quiet && opts.json !== "-") io.out(renderSummary(results, { wallMs, color: io.outIsTTY }));
  if (chaos && !opts.quiet && opts.json !== "-") io.out(chaos.renderChaosSummary(results));

  for (const line of checkFailures) io.err(`softnet-emu: ${line}\n`);
  if (results.checker.ok) return checkFailures.length > 0 ? EXIT_FAILED : EXIT_OK;
  if (chaos) {
    io.err(chaos.reproduceLine(results, args));
    return EXIT_FAILED;
  }
  io.err(`softnet-emu: checker: ${results.checker.violations.length} violation(s) with seed ${results.seed}; reproduce with the same command line and --seed ${results.seed}\n`);
  return EXIT_FAILED;
}

/** Fail before a long run rather than after it. */
function checkWritable(file: string): void {
  const dir = dirname(file);
  if (!existsSync(dir)) throw new UsageError(`--json ${file}: directory '${dir}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`--json ${file}: '${dir}' is not a directory`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`--json ${file}: is a directory`);
}

function writeJson(file: string, json: string): void {
  try {
    writeFileSync(file, json);
  } catch (err) {
    throw new UsageError(`--json ${file}: cannot write: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}
