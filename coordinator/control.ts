// The control API's behaviour (POST /control/offline|online|rate|stop, GET /control/status) for a
// running coordinator, and the feed from the coordinator's snapshots into the Prometheus
// registry. The HTTP server itself is coordinator/http.ts (observability), which mounts these.
import { attribute } from "../engine/aggregate.ts";
import type { CpuCounters } from "../model/results.ts";
import { MALFORMED_KINDS } from "../proto/codec.ts";
import { Coordinator, CoordinatorError, type CoordinatorStatus } from "./coordinator.ts";
import { ControlError, startHttpServer, type ControlHandlers, type HttpServerHandle } from "./http.ts";
import { SoftnetMetrics } from "./metrics.ts";

/** What each control call does to the run; refusals are ControlErrors with an HTTP status. */
export function controlHandlers(coord: Coordinator): ControlHandlers {
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof CoordinatorError) throw new ControlError(409, e.message);
      throw e;
    }
  };
  const hotplug = (action: "offline" | "online", cpu: number): object =>
    guard(() => {
      const n = coord.status().cpus;
      if (cpu >= n) throw new ControlError(404, `unknown cpu ${cpu}: this run has cpus 0-${n - 1}`);
      if (coord.status().dead.includes(cpu)) throw new ControlError(409, `cpu ${cpu} has crashed; it cannot be brought ${action}`);
      const atNs = coord.leaseNs;
      const online = coord.onlineAt(cpu, atNs);
      if (action === "offline" && !online) throw new ControlError(409, `cpu ${cpu} is already offline at ${atNs} ns`);
      if (action === "online" && online) throw new ControlError(409, `cpu ${cpu} is already online at ${atNs} ns`);
      const cmd = coord.command({ kind: action, cpu });
      return { ok: true, action, cpu, at_ns: cmd.at_ns };
    });
  return {
    offline: ({ cpu }) => hotplug("offline", cpu),
    online: ({ cpu }) => hotplug("online", cpu),
    rate: ({ source, pps }) =>
      guard(() => {
        const cmd = coord.command({ kind: "rate", source, pps });
        return { ok: true, action: "rate", source, pps, at_ns: cmd.at_ns };
      }),
    stop: () => guard(() => ({ ok: true, action: "stop", end_ns: coord.stop() })),
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
    });
  };
}

/** Serve /metrics and the control API for `coord` on `port` (0 = any free port). */
export async function startControlServer(coord: Coordinator, metrics: SoftnetMetrics, port: number, host = "127.0.0.1"): Promise<HttpServerHandle> {
  return startHttpServer({ port, host, metrics, control: controlHandlers(coord) });
}
