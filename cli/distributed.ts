// `softnet-emu coordinator` and `softnet-emu cpu`: the two halves of the distributed engine as
// commands of their own, for runs across hosts and containers (docker-compose.yml). `run` starts
// both on loopback by itself; these take the same scenario options (cli/run-options.ts), and the
// coordinator the same /metrics, control API, --procfs and --keep-alive as `run`.
import { createServer } from "node:net";
import type { Command } from "commander";
import { EXIT, EXIT_HELP, exitCodeOfSignal } from "../config/exit-codes.ts";
import { UsageError } from "../config/errors.ts";
import { checkOutputFile } from "../report/output-file.ts";
import type { CliIo } from "./io.ts";
import { resolveNemesisSpecs } from "../config/resolve.ts";
import { runChecks } from "./run-checks.ts";
import {
  addLiveOptions,
  addScenarioOptions,
  arg,
  checkLiveOptions,
  positiveDuration,
  runFlagsOf,
  timeoutMs,
  type LiveCliOptions,
  type ScenarioCliOptions,
} from "./run-options.ts";
import { loadScenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";
import { keepServing, openObserver } from "./serve.ts";
import { renderSummary } from "./summary.ts";
import { MAX_CPUS, parseCount, parseMaxFrameBytes } from "../config/units.ts";
import { SecretError, loadSecret, type LoadedSecret } from "../transport/auth.ts";
import type { RunResults } from "../model/results.ts";
import { portRangeError } from "../transport/endpoint.ts";

/** The endpoints ZeroMQ binds and connects (as cpu-node/main.ts checks them). */
const ENDPOINT = /^(tcp:\/\/[^:\s]+:(\d+|\*)|ipc:\/\/\S+)$/;

const COORDINATOR_HELP = `
The coordinator binds --bind and waits for --cpus \`softnet-emu cpu\` processes (a timeout names the
missing ids), hands out the scenario, drives virtual time (as fast as the CPUs allow, or --pace),
takes commands over the control API, and writes the same results as \`softnet-emu run\`. CPU-to-CPU
traffic never passes through it. A CPU silent for --cpu-timeout is declared dead: the run goes on,
degraded (exit 4).

Every frame is authenticated with the run's secret (HMAC-SHA256; proto/PROTOCOL.md): give the
coordinator and every CPU the same --secret-file FILE (the coordinator writes a new random secret
there, mode 0600, when FILE does not exist) or SOFTNET_SECRET (hex). A CPU without it is refused.

Control API (with --metrics-port; JSON over HTTP on 127.0.0.1, or --metrics-host ADDR):
  curl -X POST localhost:9100/control/offline -d '{"cpu": 2}'     (also /control/online)
  curl -X POST localhost:9100/control/rate -d '{"source": 0, "pps": 500000}'   (0 to 1e8)
  curl -X POST localhost:9100/control/stop
  curl localhost:9100/control/status
Off loopback (--metrics-host 0.0.0.0) every POST needs -H "Authorization: Bearer TOKEN": the token
of --control-token-file FILE or SOFTNET_CONTROL_TOKEN, else one made up and printed once at start.
/metrics, /healthz and GET /control/status need none.

Examples:
  $ softnet-emu coordinator --cpus 4 --bind tcp://0.0.0.0:5555 --secret-file run.secret --metrics-port 9100
  $ softnet-emu coordinator --scenario examples/hotplug-under-load.yaml --bind tcp://0.0.0.0:5555 --json r.json
  $ softnet-emu coordinator --cpus 4 --bind tcp://0.0.0.0:5555 --pace 1 --duration 3600s --metrics-port 9100 --keep-alive

${EXIT_HELP}`;

const CPU_HELP = `
The CPU binds its peer inbox (--bind), registers with the coordinator, learns its peers' endpoints
and exchanges RPS enqueues, IPIs and wake-ups directly with them. It exits when the run ends, and
within the coordinator's timeout when the coordinator dies. It needs the run's secret, the
coordinator's --secret-file (or SOFTNET_SECRET, hex): without it, or with another one, the
coordinator refuses it (one line, exit 2).

Examples:
  $ softnet-emu cpu --coordinator tcp://127.0.0.1:5555 --secret-file run.secret
  $ softnet-emu cpu --coordinator tcp://coord:5555 --id 2 --bind 'tcp://0.0.0.0:*' --advertise-host cpu2

Exit status: 0 the run ended, 2 bad input or refused by the coordinator (a taken id, the run full),
3 internal error, 4 the coordinator was lost (silent, or no welcome within --register-timeout),
130/143 interrupted (SIGINT/SIGTERM).`;

export function registerDistributed(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const coordinator = program
    .command("coordinator")
    .description("the coordinator of a distributed run as its own process: waits for --cpus `softnet-emu cpu` processes, drives virtual time, collects the results")
    .requiredOption("--bind <ENDPOINT>", "where the CPUs reach it: tcp://HOST:PORT (tcp://0.0.0.0:5555 across hosts)");
  addScenarioOptions(coordinator)
    .option("--cpu-timeout <D>", "floor of the failure detector: a CPU silent at least D (wall time), and longer than its heartbeat gaps so far make likely, is declared dead and the run goes on degraded (default 3s)", arg(timeoutMs))
    .option("--coordinator-timeout <D>", "the floor the CPUs use to suspect this coordinator (they then wait for it; default 3s)", arg(timeoutMs))
    .option("--register-timeout <D>", "give up when the CPUs have not all registered within D (wall time; default 60s)", arg(timeoutMs))
    .option("--secret-file <FILE>", "the run's secret (hex), which every CPU needs too; written (random, mode 0600) when FILE does not exist (default: SOFTNET_SECRET)")
    .option("--max-frame <BYTES>", "drop frames larger than this (64KiB-64MiB, e.g. 16MiB; default 16MiB); give every CPU the same", arg(parseMaxFrameBytes));
  addLiveOptions(coordinator)
    .option("--json <FILE>", "write the results as JSON to FILE ('-' = stdout, and nothing else there)")
    .option("--series-interval <D>", "also sample per-CPU counters every D of virtual time (in the JSON)", arg(positiveDuration))
    .option("--quiet", "print no summary")
    .addHelpText("after", COORDINATOR_HELP)
    .action(async (opts: CoordinatorCliOptions) => setExit(await coordinatorCommand(opts, io)));

  program
    .command("cpu")
    .description("one emulated CPU as its own process: joins a coordinator, exchanges RPS traffic directly with its peers")
    .requiredOption("--coordinator <ENDPOINT>", "the coordinator to join, tcp://HOST:PORT")
    .option("--id <N>", "CPU id to claim (default: the lowest free one)", arg((t) => parseCount(t, 0, MAX_CPUS - 1)))
    .option("--bind <ENDPOINT>", "where peers reach this CPU (default tcp://127.0.0.1:*; tcp://0.0.0.0:PORT across hosts)")
    .option("--advertise-host <HOST>", "host name peers dial when --bind is 0.0.0.0 (default: this host's name)")
    .option("--register-timeout <D>", "before the run: give up when the coordinator has said nothing for D (wall time; default 30s; it beats while other CPUs register)", arg(timeoutMs))
    .option("--coordinator-timeout <D>", "suspect the coordinator after at least D of silence, longer if its heartbeat gaps so far make that silence likely (default: what the coordinator says, 3s)", arg(timeoutMs))
    .option("--coordinator-wait <D>", "wait this long for a suspected coordinator whose connection is still up (frozen, starved) before giving up; a closed connection gives up at once (default 60s)", arg(timeoutMs))
    .option("--secret-file <FILE>", "the run's secret: the coordinator's --secret-file (default: SOFTNET_SECRET, hex)")
    .option("--max-frame <BYTES>", "drop frames larger than this (64KiB-64MiB; default 16MiB): the coordinator's value", arg(parseMaxFrameBytes))
    .addHelpText("after", CPU_HELP)
    .action(async (opts: CpuCliOptions) => setExit(await cpuCommand(opts, io)));
}

interface CoordinatorCliOptions extends ScenarioCliOptions, LiveCliOptions {
  bind: string;
  cpuTimeout?: number;
  coordinatorTimeout?: number;
  registerTimeout?: number;
  secretFile?: string;
  maxFrame?: number;
  json?: string;
  seriesInterval?: number;
  quiet?: boolean;
}

async function coordinatorCommand(o: CoordinatorCliOptions, io: CliIo): Promise<number> {
  if (!ENDPOINT.test(o.bind)) throw new UsageError(`--bind ${o.bind}: expected tcp://HOST:PORT or ipc://PATH`);
  const badPort = portRangeError("--bind", o.bind);
  if (badPort) throw new UsageError(badPort);
  await checkBindable(o.bind);
  checkLiveOptions(o);
  const scenario = o.scenario !== undefined ? loadScenario(o.scenario) : undefined;
  const cfg = resolveConfig(scenario, runFlagsOf(o));
  // assert: is checked on the results; abort: is refused (only the in-process engine can stop early).
  const checks = runChecks(scenario, cfg, "processes");
  if (resolveNemesisSpecs(scenario, undefined).length > 0)
    throw new UsageError(`${scenario!.file}: nemesis: chaos runs start their CPU processes themselves: use 'softnet-emu run --engine processes'`);
  if (o.json !== undefined) checkOutputFile("--json", o.json);
  const [{ runCoordinator }, { controlHandlers, feedMetrics }, { LivenessJudge }] = await Promise.all([
    import("../coordinator/main.ts"),
    import("../observe/processes-control.ts"),
    import("../chaos/liveness.ts"),
  ]);
  // The liveness verdict, as every run gets (cli/engines.ts): fed the consistent checkpoints.
  const judge = new LivenessJudge(cfg, (o as { stallAfter?: number }).stallAfter !== undefined ? { stallAfterNs: (o as { stallAfter?: number }).stallAfter } : {});

  const observer = await openObserver(o, cfg, scenario, io);
  try {
    const feed = observer ? feedMetrics(observer.metrics, observer.scenario, cfg.profile.name) : undefined;
    let results: RunResults | undefined;
    let checkFailures: string[] = [];
    let procfsWarning: string | undefined;
    let startMs = performance.now();
    // After every other check (and before the ROUTER binds): a missing file is created now.
    const secret = loadCliSecret(o.secretFile, true);
    if (!secret) throw new UsageError("no secret: give --secret-file FILE (a new random secret is written there when it does not exist) or SOFTNET_SECRET (hex)");
    if (secret.created) io.err(`[coordinator] wrote a new secret to ${o.secretFile} (mode 0600): start every CPU with --secret-file ${o.secretFile}\n`);
    if (secret.warning) io.err(`softnet-emu: warning: ${secret.warning}\n`);
    const code = await runCoordinator(cfg, {
      bind: o.bind,
      secret: secret.secret,
      ...(o.maxFrame !== undefined ? { maxFrameBytes: o.maxFrame } : {}),
      ...(o.pace !== undefined ? { pace: o.pace } : {}),
      ...(o.cpuTimeout !== undefined ? { cpuTimeoutMs: o.cpuTimeout } : {}),
      ...(o.coordinatorTimeout !== undefined ? { coordinatorTimeoutMs: o.coordinatorTimeout } : {}),
      ...(o.registerTimeout !== undefined ? { registerTimeoutMs: o.registerTimeout } : {}),
      ...(o.seriesInterval ? { seriesIntervalNs: o.seriesInterval } : {}),
      ...(o.json !== undefined ? { json: o.json } : {}),
      onCheckpoint: judge.onCheckpoint,
      log: (line) => io.err(`[coordinator] ${line}\n`),
      onStart: (c) => {
        observer?.attach(controlHandlers(c, cfg));
        // Wall time of the summary: from the start of the run, not of the wait for the CPUs.
        c.onRunning = () => (startMs = performance.now());
      },
      ...(feed
        ? {
            onSnapshot: (counters, status) => {
              feed(counters, status);
              observer!.metricsUpdated();
            },
          }
        : {}),
      // Stopped by a signal or a failure: the results so far, judged, for the summary (the JSON is written by runCoordinator).
      onCutShort: (r) => {
        judge.finish(r);
        results = r;
      },
      onResults: async (r) => {
        results = r;
        judge.finish(r);
        // Before the JSON is written: the assertions' outcomes (and the liveness verdict) belong in it.
        checkFailures = checks.finish(r);
        procfsWarning = await observer?.final(r);
      },
    });
    const wallMs = performance.now() - startMs;
    if (results && !o.quiet && o.json !== "-") io.out(renderSummary(results, { wallMs, color: io.outIsTTY }));
    if (procfsWarning) io.err(`softnet-emu: warning: ${procfsWarning}\n`);
    for (const line of checkFailures) io.err(`softnet-emu: ${line}\n`);
    const interrupted = code === EXIT.interrupted || code === EXIT.terminated;
    if (o.keepAlive && observer && !interrupted && code !== EXIT.usage) await keepServing(observer, io);
    return code === EXIT.ok && checkFailures.length > 0 ? EXIT.failed : code;
  } finally {
    await observer?.close();
  }
}

/**
 * A tcp port given outright must be free on that address: say so in one line (exit 2) rather than
 * failing inside ZeroMQ. (Taken between this check and the bind, it still fails, less politely.)
 */
async function checkBindable(endpoint: string): Promise<void> {
  const m = /^tcp:\/\/([^:\s]+):(\d+)$/.exec(endpoint);
  if (!m || Number(m[2]) === 0) return;
  const host = m[1] === "*" ? "0.0.0.0" : m[1]!;
  const port = Number(m[2]);
  const why = await new Promise<string | null>((resolve) => {
    const server = createServer();
    server.once("error", (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === "EADDRINUSE"
          ? "is already in use"
          : err.code === "EACCES"
            ? "needs privileges to bind"
            : err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND"
              ? "is not an address of this host"
              : `cannot be bound (${err.code ?? err.message})`,
      ),
    );
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
  if (why) throw new UsageError(`--bind ${endpoint}: ${host}:${port} ${why}`);
}

interface CpuCliOptions {
  coordinator: string;
  id?: number;
  bind?: string;
  advertiseHost?: string;
  registerTimeout?: number;
  coordinatorTimeout?: number;
  coordinatorWait?: number;
  secretFile?: string;
  maxFrame?: number;
}

async function cpuCommand(o: CpuCliOptions, io: CliIo): Promise<number> {
  const { checkCpuOptions, runCpu } = await import("../cpu-node/main.ts");
  const { CPU_EXIT } = await import("../cpu-node/node.ts");
  const opts = {
    coordinator: o.coordinator,
    ...(o.id !== undefined ? { id: o.id } : {}),
    ...(o.bind !== undefined ? { bind: o.bind } : {}),
    ...(o.advertiseHost !== undefined ? { advertiseHost: o.advertiseHost } : {}),
    ...(o.registerTimeout !== undefined ? { registerTimeoutMs: o.registerTimeout } : {}),
    ...(o.coordinatorTimeout !== undefined ? { coordinatorTimeoutMs: o.coordinatorTimeout } : {}),
    ...(o.coordinatorWait !== undefined ? { coordinatorWaitMs: o.coordinatorWait } : {}),
    log: (line: string) => io.err(`${line}\n`),
    // A --bind that fails after the check below (taken meanwhile, an ipc path): the same one line.
    usageError: (message: string) => io.err(`softnet-emu: error: ${message}\n`),
  };
  const bad = checkCpuOptions(opts);
  if (bad) throw new UsageError(bad);
  if (o.bind !== undefined) await checkBindable(o.bind);
  // No secret at all is not bad input here: the coordinator refuses our hello and we say why.
  const secret = loadCliSecret(o.secretFile, false);
  if (secret?.warning) io.err(`softnet-emu: warning: ${secret.warning}\n`);
  // runCpu leaves on SIGINT/SIGTERM (closing its sockets); the exit code says it was a signal.
  let signalled: "SIGINT" | "SIGTERM" | undefined;
  const onInt = (): void => void (signalled ??= "SIGINT");
  const onTerm = (): void => void (signalled ??= "SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  try {
    const code = await runCpu({ ...opts, secret: secret?.secret ?? null, ...(o.maxFrame !== undefined ? { maxFrameBytes: o.maxFrame } : {}) });
    if (signalled) return exitCodeOfSignal(signalled);
    return code === CPU_EXIT.internal ? EXIT.bug : code;
  } finally {
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
  }
}

/** --secret-file, else SOFTNET_SECRET (null: neither); a bad one is bad input (one line, exit 2). */
function loadCliSecret(file: string | undefined, create: boolean): LoadedSecret | null {
  try {
    return loadSecret({ ...(file !== undefined ? { file } : {}), create });
  } catch (e) {
    if (e instanceof SecretError) throw new UsageError(e.message);
    throw e;
  }
}
