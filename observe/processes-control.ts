// The control API's behaviour (POST /control/offline|online|rate|stop, GET /control/status) for a
// running coordinator, and the feed from the coordinator's snapshots into the Prometheus
// registry. The HTTP server itself is observe/http.ts (observability), which mounts these.
import { attribute } from "../engine/aggregate.ts";
import { CommandRefused, validateCommand, type CommandContext, type ControlCommand } from "../engine/validate-command.ts";
import type { EmuConfig } from "../model/config.ts";
import type { CpuCounters } from "../model/results.ts";
import { MALFORMED_KINDS } from "../transport/codec.ts";
import { Coordinator, CoordinatorError, type CoordinatorStatus } from "../coordinator/coordinator.ts";
import { ControlError, generatedTokenLine, startHttpServer, type ControlHandlers, type HttpServerHandle } from "./http.ts";
import { SoftnetMetrics } from "./metrics.ts";

/**
 * What each control call does to the run; refusals are ControlErrors with an HTTP status. Commands
 * are judged by engine/validate-command.ts, as the in-process engine judges them: the same request
 * gets the same answer from both engines.
 */
export function controlHandlers(coord: Coordinator, cfg: EmuConfig): ControlHandlers {
  /** Set by an accepted /control/stop: the coordinator stays "running" until the CPUs reach the new end. */
  let stopped = false;
  const context = (): CommandContext => {
    const status = coord.status();
    const atNs = Math.min(coord.leaseNs, status.end_ns);
    const closed =
      status.phase !== "running"
        ? `the run is ${status.phase}; commands are taken while it runs`
        : stopped
          ? "the run is stopping (/control/stop); it takes no more commands"
          : undefined;
    return {
      cpus: cfg.cpus,
      sources: cfg.queues.length + cfg.senders.length,
      atNs,
      online: (cpu) => coord.onlineAt(cpu, atNs),
      dead: status.dead,
      ...(closed !== undefined ? { closed } : {}),
    };
  };
  const guard = <T>(cmd: ControlCommand, f: () => T): T => {
    try {
      validateCommand(cmd, context());
      return f();
    } catch (e) {
      if (e instanceof CommandRefused) throw new ControlError(e.status, e.message);
      if (e instanceof CoordinatorError) throw new ControlError(409, e.message);
      throw e;
    }
  };
  const hotplug = (action: "offline" | "online", cpu: number): object =>
    guard({ kind: action, cpu }, () => {
      const cmd = coord.command({ kind: action, cpu });
      return { ok: true, action, cpu, at_ns: cmd.at_ns };
    });
  return {
    offline: ({ cpu }) => hotplug("offline", cpu),
    online: ({ cpu }) => hotplug("online", cpu),
    rate: ({ source, pps }) =>
      guard({ kind: "rate", source, pps }, () => {
        const cmd = coord.command({ kind: "rate", source, pps });
        return { ok: true, action: "rate", source, pps, at_ns: cmd.at_ns };
      }),
    stop: () =>
      guard({ kind: "stop" }, () => {
        const endNs = coord.stop();
        stopped = true;
        return { ok: true, action: "stop", end_ns: endNs };
      }),
    status: () => coord.status(),
  };
}

/** A coordinator snapshot as the registry wants it (attributed rows, run status). */
export function feedMetrics(metrics: SoftnetMetrics, scenario: string, profile: string) {
  return (counters: CpuCounters[], status: CoordinatorStatus): void => {
    const malformed: Record<string, number> = Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0]));
    for (const byKind of Object.values(status.malformed_messages)) for (const k of MALFORMED_KINDS) malformed[k]! += byKind[k];
    metrics.update(attribute(counters), {
      scenario,
      profile,
      virtualNs: status.virtual_ns_min,
      ...(status.lag_ns !== undefined ? { lagSeconds: status.lag_ns / 1e9 } : {}),
      malformed,
      lostOnCrash: status.lost_on_crash,
      checkerOk: status.checker_ok,
      deadCpus: status.dead,
    });
  };
}

export interface ControlServerOptions {
  /** 0 = any free port. */
  port: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** The bearer token commands need (observe/http.ts); made up when `host` is not loopback and none is given. */
  controlToken?: string;
  /** Where a made-up token is shown, once. */
  log?: (line: string) => void;
}

/** Serve /metrics and the control API for `coord`. */
export async function startControlServer(coord: Coordinator, cfg: EmuConfig, metrics: SoftnetMetrics, o: ControlServerOptions): Promise<HttpServerHandle> {
  const http = await startHttpServer({
    port: o.port,
    host: o.host ?? "127.0.0.1",
    metrics,
    control: controlHandlers(coord, cfg),
    ...(o.controlToken !== undefined ? { controlToken: o.controlToken } : {}),
  });
  if (http.tokenGenerated) o.log?.(generatedTokenLine(http));
  return http;
}
