// --metrics-port (with --metrics-host and the control token), --procfs and --keep-alive as `run`
// and `coordinator` share them: open the Observer (observe/observer.ts, loaded only then: prom-client is
// not free) before the run, so a port in use, a bad token or an unwritable folder is a one-line
// error (exit 2) before anything starts; after the run, serve until a signal.
import { basename, extname } from "node:path";
import type { EmuConfig } from "../model/config.ts";
import { resolveControlToken } from "./control-token.ts";
import type { CliIo } from "./io.ts";
import type { Observer } from "../observe/observer.ts";
import type { LiveCliOptions } from "./run-options.ts";
import type { Scenario } from "../config/scenario.ts";

/** The run's `scenario` label in /metrics: the scenario file's name, or "default". */
export function scenarioLabel(scenario: Scenario | undefined): string {
  return scenario ? basename(scenario.file, extname(scenario.file)) : "default";
}

/** Paced runs are watched: keep softnet_stat about as fresh as a scrape (ProcfsWriter's default: 1 s). */
const PACED_PROCFS_INTERVAL_MS = 250;

/**
 * undefined when neither --metrics-port nor --procfs is given. The server listens on --metrics-host
 * (default 127.0.0.1); a control token made up because it is not loopback is printed here, once.
 */
export async function openObserver(o: LiveCliOptions, cfg: EmuConfig, scenario: Scenario | undefined, io: CliIo): Promise<Observer | undefined> {
  if (o.metricsPort === undefined && o.procfs === undefined) return undefined;
  const controlToken = o.metricsPort !== undefined ? resolveControlToken(o) : undefined;
  const [{ Observer }, { generatedTokenLine }] = await Promise.all([import("../observe/observer.ts"), import("../observe/http.ts")]);
  const observer = await Observer.open({
    cfg,
    scenario: scenarioLabel(scenario),
    host: o.metricsHost ?? "127.0.0.1",
    ...(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {}),
    ...(controlToken !== undefined ? { controlToken } : {}),
    ...(o.procfs !== undefined ? { procfsDir: o.procfs } : {}),
    ...(o.pace !== undefined ? { procfsIntervalMs: PACED_PROCFS_INTERVAL_MS } : {}),
  });
  if (observer.url) io.err(`softnet-emu: metrics and control API at ${observer.url} (/metrics, /healthz, /control/status)\n`);
  if (observer.http?.tokenGenerated) io.err(`softnet-emu: ${generatedTokenLine(observer.http)}\n`);
  return observer;
}

/** --keep-alive: serve until SIGINT or SIGTERM; the caller then closes the observer. */
export async function keepServing(observer: Observer, io: CliIo): Promise<void> {
  const { untilSignal } = await import("../observe/observer.ts");
  io.err(`softnet-emu: the run is over; still serving ${observer.url}/metrics and the control API until SIGINT or SIGTERM\n`);
  const signal = await untilSignal();
  io.err(`softnet-emu: ${signal}: stopped serving\n`);
}
