// `softnet-emu coordinator --cpus N --bind tcp://0.0.0.0:PORT` + the run options: waits for N
// `softnet-emu cpu` processes (anywhere that can reach PORT), runs the scenario, writes the
// results. Exported for cli/main.ts; also runnable directly (tests):
//   node --import tsx coordinator/main.ts --cpus 4 --bind tcp://127.0.0.1:5555 --duration-ms 10 [--json FILE]
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { EXIT } from "../config/exit-codes.ts";
import { Interrupted } from "../engine/contract.ts";
import { writeOutputFile } from "../report/output-file.ts";
import { resolveConfig } from "../config/resolve.ts";
import type { EmuConfig } from "../model/config.ts";
import { feedMetrics, startControlServer } from "../observe/processes-control.ts";
import { Coordinator, CoordinatorError, type ProcessesRunResults } from "./coordinator.ts";
import type { HttpServerHandle } from "../observe/http.ts";
import { SoftnetMetrics } from "../observe/metrics.ts";
import { defaultTiming, type ProcessesRunOptions } from "./run-processes.ts";
import { SecretError, WireKey, loadSecret } from "../transport/auth.ts";

/** Exit codes of `softnet-emu coordinator` (and of `run --engine processes`, via exitCodeOf): config/exit-codes.ts. */
export const COORDINATOR_EXIT = {
  ok: EXIT.ok,
  violation: EXIT.failed,
  /** Registration timeout, a stuck run: no results. */
  failed: EXIT.failed,
  usage: EXIT.usage,
  internal: EXIT.bug,
  /** A CPU process died: results, with its packets in lost_on_crash. */
  degraded: EXIT.degraded,
  interrupted: EXIT.interrupted,
  terminated: EXIT.terminated,
} as const;

/** The standalone coordinator's options: those of a local process run, plus where to listen and write. */
export interface CoordinatorCommandOptions
  extends Pick<
    ProcessesRunOptions,
    | "heartbeatMs"
    | "cpuTimeoutMs"
    | "coordinatorTimeoutMs"
    | "registerTimeoutMs"
    | "leaseSpanNs"
    | "maxStepNs"
    | "pace"
    | "seriesIntervalNs"
    | "httpPort"
    | "httpHost"
    | "controlToken"
    | "log"
    | "onHttp"
    | "onStart"
    | "onSnapshot"
    | "onCheckpoint"
  > {
  /** ROUTER endpoint to bind, e.g. tcp://0.0.0.0:5555. */
  bind: string;
  /** The run's secret, which every CPU must have too (default: SOFTNET_SECRET, hex, as the CLI reads it). */
  secret?: Uint8Array;
  /** Frame size limit (--max-frame; default transport/auth.ts DEFAULT_MAX_FRAME). */
  maxFrameBytes?: number;
  /** Write the results JSON here ('-' = stdout). */
  json?: string;
  /** Called with the results before they are written (metrics, --procfs, the summary). */
  onResults?: (results: ProcessesRunResults) => Promise<void> | void;
  /** A run stopped by a signal or a failure: its results so far (the latest consistent checkpoint), before they are written. */
  onCutShort?: (results: ProcessesRunResults) => void;
}

/** The exit code a finished run asks for: 1 on a checker violation, 4 when a CPU crashed. */
export function exitCodeOf(results: ProcessesRunResults): number {
  if (!results.checker.ok) return COORDINATOR_EXIT.violation;
  if (results.degraded) return COORDINATOR_EXIT.degraded;
  return COORDINATOR_EXIT.ok;
}

/** Run as the standalone coordinator until the run ends; returns the exit code. */
export async function runCoordinator(cfg: EmuConfig, o: CoordinatorCommandOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[coordinator] ${line}\n`));
  let secret: Uint8Array;
  try {
    const s = o.secret ?? loadSecret({})?.secret;
    if (!s) throw new SecretError("no secret: give --secret-file FILE (created with a new secret when missing) or SOFTNET_SECRET (hex)");
    secret = s;
  } catch (e) {
    if (!(e instanceof SecretError)) throw e;
    log(`error: ${e.message}`);
    return COORDINATOR_EXIT.usage;
  }
  const metrics = o.httpPort !== undefined ? new SoftnetMetrics({ windowNs: cfg.window_ns }) : null;
  const feed = metrics ? feedMetrics(metrics, "coordinator", cfg.profile.name) : null;
  const coordinator = new Coordinator({
    cfg,
    secret: new WireKey(secret, o.maxFrameBytes),
    bind: o.bind,
    ...defaultTiming(cfg, o),
    ...(o.pace !== undefined ? { pace: o.pace } : {}),
    ...(o.seriesIntervalNs ? { seriesIntervalNs: o.seriesIntervalNs } : {}),
    log,
    onSnapshot: (counters, status) => {
      feed?.(counters, status);
      o.onSnapshot?.(counters, status);
    },
    ...(o.onCheckpoint ? { onCheckpoint: o.onCheckpoint } : {}),
  });
  let http: HttpServerHandle | null = null;
  let signalled: "SIGINT" | "SIGTERM" | null = null;
  const onSignal = (signal: "SIGINT" | "SIGTERM") => (): void => {
    signalled = signal;
    coordinator.interrupt(signal);
  };
  const onSigint = onSignal("SIGINT");
  const onSigterm = onSignal("SIGTERM");
  process.once("SIGINT", onSigint);
  process.once("SIGTERM", onSigterm);
  try {
    const endpoint = await coordinator.start().catch((e: Error) => {
      throw new CoordinatorError(`--bind ${o.bind}: cannot bind (${e.message})`);
    });
    o.onStart?.(coordinator);
    log(`waiting for ${cfg.cpus} cpus at ${endpoint}`);
    if (metrics) {
      http = await startControlServer(coordinator, cfg, metrics, {
        port: o.httpPort!,
        host: o.httpHost ?? "127.0.0.1",
        ...(o.controlToken !== undefined ? { controlToken: o.controlToken } : {}),
        log,
      });
      log(`metrics and control API at ${http.url} (/metrics, /control/status)`);
      o.onHttp?.(http.url);
    }
    const results = await coordinator.done();
    await o.onResults?.(results);
    const json = `${JSON.stringify(results, null, 2)}\n`;
    if (o.json === "-") process.stdout.write(json);
    // All or nothing (a full disk leaves the previous file, not half of this one); a failure is exit 2.
    else if (o.json) writeOutputFile("--json", o.json, json);
    const t = results.totals;
    log(`done: injected ${t.injected}, processed ${t.processed}, dropped ${t.dropped}, lost_on_crash ${t.lost_on_crash}; checker ${results.checker.ok ? "ok" : results.checker.violations.join("; ")}`);
    return exitCodeOf(results);
  } catch (e) {
    if (!(e instanceof CoordinatorError) && !(e instanceof Interrupted)) throw e;
    log(`error: ${e.message}`);
    if (e instanceof CoordinatorError && e.message.startsWith("--bind")) return COORDINATOR_EXIT.usage;
    // A signal after a failure still says it was interrupted.
    const signal = e instanceof Interrupted ? e.signal : signalled;
    writeCutShort(coordinator, cfg, o, signal ? { interrupted: true, signal } : { failure: e.message }, log);
    if (signal) return signal === "SIGINT" ? COORDINATOR_EXIT.interrupted : COORDINATOR_EXIT.terminated;
    return COORDINATOR_EXIT.failed;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
    coordinator.close();
    await http?.close();
  }
}

/** The results so far of a run stopped by a signal or a failure, to --json (as `run` writes them). */
function writeCutShort(
  coordinator: Coordinator,
  cfg: EmuConfig,
  o: CoordinatorCommandOptions,
  cut: { interrupted: true; signal: "SIGINT" | "SIGTERM" } | { failure: string },
  log: (line: string) => void,
): void {
  try {
    const partial = coordinator.resultsSoFar();
    if (partial) o.onCutShort?.(Object.assign(partial, cut));
    if (o.json === undefined) return;
    const doc = partial ? { ...cut, ...partial } : { ...cut, profile: cfg.profile.name, seed: cfg.seed, engine: "processes", virtual_ns: 0, results: null };
    const json = `${JSON.stringify(doc, null, 2)}\n`;
    if (o.json === "-") process.stdout.write(json);
    else writeOutputFile("--json", o.json, json);
  } catch (err) {
    log(`error: the results so far were not written: ${(err as Error).message}`);
  }
}

/** A coordinator started on its own (flags below); the bundle's entry. */
export async function directMain(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cpus: { type: "string", default: "4" },
      bind: { type: "string", default: "tcp://127.0.0.1:5555" },
      "duration-ms": { type: "string", default: "10" },
      load: { type: "string", default: "nic" },
      "rps-cpus": { type: "string" },
      json: { type: "string" },
      "cpu-timeout-ms": { type: "string" },
      "http-port": { type: "string" },
      "http-host": { type: "string" },
      pace: { type: "string" },
      "coordinator-timeout-ms": { type: "string" },
      // Else SOFTNET_SECRET (hex); the file is created with a new secret when it does not exist.
      "secret-file": { type: "string" },
    },
  });
  let secret: Buffer;
  try {
    const loaded = loadSecret({ file: values["secret-file"], create: true });
    if (!loaded) throw new SecretError("no secret: give --secret-file FILE (created with a new secret when missing) or SOFTNET_SECRET (hex)");
    secret = loaded.secret;
  } catch (e) {
    if (!(e instanceof SecretError)) throw e;
    process.stderr.write(`[coordinator] error: ${e.message}\n`);
    process.exit(COORDINATOR_EXIT.usage);
  }
  const cpus = Number(values.cpus);
  const rps = values["rps-cpus"] ? Number.parseInt(values["rps-cpus"], 16) : (1 << cpus) - 1;
  const cfg = resolveConfig(undefined, {
    cpus,
    duration_ns: Number(values["duration-ms"]) * 1e6,
    load: values.load as "nic" | "loopback",
    rps_cpus: Array.from({ length: cpus }, (_, i) => i).filter((i) => rps & (1 << i)),
  });
  const code = await runCoordinator(cfg, {
    bind: values.bind,
    secret,
    ...(values.json ? { json: values.json } : {}),
    ...(values["cpu-timeout-ms"] ? { cpuTimeoutMs: Number(values["cpu-timeout-ms"]) } : {}),
    ...(values["http-port"] ? { httpPort: Number(values["http-port"]) } : {}),
    ...(values["http-host"] ? { httpHost: values["http-host"] } : {}),
    ...(process.env["SOFTNET_CONTROL_TOKEN"] ? { controlToken: process.env["SOFTNET_CONTROL_TOKEN"] } : {}),
    ...(values.pace ? { pace: Number(values.pace) } : {}),
    ...(values["coordinator-timeout-ms"] ? { coordinatorTimeoutMs: Number(values["coordinator-timeout-ms"]) } : {}),
  });
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await directMain();
