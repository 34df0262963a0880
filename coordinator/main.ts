// `softnet-emu coordinator --cpus N --bind tcp://0.0.0.0:PORT` + the run options: waits for N
// `softnet-emu cpu` processes (anywhere that can reach PORT), runs the scenario, writes the
// results. Exported for cli/main.ts; also runnable directly (tests):
//   node --import tsx coordinator/main.ts --cpus 4 --bind tcp://127.0.0.1:5555 --duration-ms 10 [--json FILE]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { resolveConfig } from "../cli/resolve.ts";
import type { EmuConfig } from "../model/config.ts";
import { feedMetrics, startControlServer } from "./control.ts";
import { Coordinator, CoordinatorError, type ProcessesRunResults } from "./coordinator.ts";
import type { HttpServerHandle } from "./http.ts";
import { SoftnetMetrics } from "./metrics.ts";
import { defaultTiming } from "./run-processes.ts";

/** Exit codes of `softnet-emu coordinator` (and of `run --engine processes`, via exitCodeOf). */
export const COORDINATOR_EXIT = { ok: 0, violation: 1, usage: 2, degraded: 3, failed: 5, interrupted: 130 } as const;

export interface CoordinatorCommandOptions {
  /** ROUTER endpoint to bind, e.g. tcp://0.0.0.0:5555. */
  bind: string;
  heartbeatMs?: number;
  cpuTimeoutMs?: number;
  coordinatorTimeoutMs?: number;
  registerTimeoutMs?: number;
  leaseSpanNs?: number;
  maxStepNs?: number;
  pace?: number;
  /** Serve /metrics and /control on this port (0 = any free port; undefined = no server). */
  httpPort?: number;
  httpHost?: string;
  /** Write the results JSON here ('-' = stdout). */
  json?: string;
  log?: (line: string) => void;
  /** Called when the HTTP server is listening (its URL). */
  onHttp?: (url: string) => void;
}

/** The exit code a finished run asks for: 1 on a checker violation, 3 when a CPU crashed. */
export function exitCodeOf(results: ProcessesRunResults): number {
  if (!results.checker.ok) return COORDINATOR_EXIT.violation;
  if (results.degraded) return COORDINATOR_EXIT.degraded;
  return COORDINATOR_EXIT.ok;
}

/** Run as the standalone coordinator until the run ends; returns the exit code. */
export async function runCoordinator(cfg: EmuConfig, o: CoordinatorCommandOptions): Promise<number> {
  const log = o.log ?? ((line: string) => process.stderr.write(`[coordinator] ${line}\n`));
  const metrics = new SoftnetMetrics();
  const coordinator = new Coordinator({
    cfg,
    bind: o.bind,
    ...defaultTiming(cfg, o),
    ...(o.pace !== undefined ? { pace: o.pace } : {}),
    log,
    onSnapshot: feedMetrics(metrics, "coordinator", cfg.profile.name),
  });
  let http: HttpServerHandle | null = null;
  const onSigint = (): void => coordinator.fail("interrupted (SIGINT)");
  process.once("SIGINT", onSigint);
  try {
    const endpoint = await coordinator.start().catch((e: Error) => {
      throw new CoordinatorError(`--bind ${o.bind}: cannot bind (${e.message})`);
    });
    log(`waiting for ${cfg.cpus} cpus at ${endpoint}`);
    if (o.httpPort !== undefined) {
      http = await startControlServer(coordinator, metrics, o.httpPort, o.httpHost ?? "0.0.0.0");
      log(`metrics and control API at ${http.url} (/metrics, /control/status)`);
      o.onHttp?.(http.url);
    }
    const results = await coordinator.done();
    const json = `${JSON.stringify(results, null, 2)}\n`;
    if (o.json === "-") process.stdout.write(json);
    else if (o.json) writeFileSync(o.json, json);
    const t = results.totals;
    log(`done: injected ${t.injected}, processed ${t.processed}, dropped ${t.dropped}, lost_on_crash ${t.lost_on_crash}; checker ${results.checker.ok ? "ok" : results.checker.violations.join("; ")}`);
    return exitCodeOf(results);
  } catch (e) {
    if (!(e instanceof CoordinatorError)) throw e;
    log(`error: ${e.message}`);
    return e.message.startsWith("--bind") ? COORDINATOR_EXIT.usage : e.message.includes("SIGINT") ? COORDINATOR_EXIT.interrupted : COORDINATOR_EXIT.failed;
  } finally {
    process.off("SIGINT", onSigint);
    coordinator.close();
    await http?.close();
  }
}

async function directMain(): Promise<void> {
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
      pace: { type: "string" },
      "coordinator-timeout-ms": { type: "string" },
    },
  });
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
    ...(values.json ? { json: values.json } : {}),
    ...(values["cpu-timeout-ms"] ? { cpuTimeoutMs: Number(values["cpu-timeout-ms"]) } : {}),
    ...(values["http-port"] ? { httpPort: Number(values["http-port"]) } : {}),
    ...(values.pace ? { pace: Number(values.pace) } : {}),
    ...(values["coordinator-timeout-ms"] ? { coordinatorTimeoutMs: Number(values["coordinator-timeout-ms"]) } : {}),
  });
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await directMain();
