// `run`'s options for the distributed engine (coordinator/run-processes.ts): progress, pacing (and
// how far behind the paced clock the slowest CPU is), the stopping signal turned into the
// coordinator's orderly failure, and the Observer fed from the coordinator's snapshots with its
// control API routed to the coordinator. Plain runs (cli/engines.ts) and chaos runs (cli/chaos.ts)
// share it. The caller removes the signal's listener with `dispose` once the run is over.
import { controlHandlers, feedMetrics } from "../observe/processes-control.ts";
import type { ControlHandlers } from "../observe/http.ts";
import type { ProcessesRunOptions } from "../coordinator/run-processes.ts";
import type { EmuConfig } from "../model/config.ts";
import { Interrupted, type EngineRunOptions } from "../engine/contract.ts";

/** `control` narrows what the control API may do to the run (a chaos run only reports). */
export function processesRunOptions(
  cfg: EmuConfig,
  o: EngineRunOptions,
  control: (h: ControlHandlers) => ControlHandlers = (h) => h,
): { options: ProcessesRunOptions; dispose: () => void } {
  const obs = o.observer;
  const feed = obs ? feedMetrics(obs.metrics, obs.scenario, cfg.profile.name) : undefined;
  let startMs = 0;
  let stop: ((reason: unknown) => void) | undefined;
  const onAbort = (): void => stop?.(o.signal?.reason);
  o.signal?.addEventListener("abort", onAbort, { once: true });
  const options: ProcessesRunOptions = {
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.seriesIntervalNs ? { seriesIntervalNs: o.seriesIntervalNs } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.pace !== undefined ? { pace: o.pace } : {}),
    ...(o.cpuTimeoutMs !== undefined ? { cpuTimeoutMs: o.cpuTimeoutMs } : {}),
    ...(o.transport ? { transport: o.transport } : {}),
    ...(o.maxFrameBytes !== undefined ? { maxFrameBytes: o.maxFrameBytes } : {}),
    onStart: (coordinator) => {
      // A signal rejects the run with an Interrupted (its signal typed), anything else fails it.
      stop = (reason) => (reason instanceof Interrupted ? coordinator.interrupt(reason.signal) : coordinator.fail((reason as Error | undefined)?.message ?? "interrupted"));
      if (o.signal?.aborted) onAbort();
      obs?.attach(control(controlHandlers(coordinator, cfg)));
    },
    // The paced clock starts once every CPU has registered.
    onRunning: () => (startMs = performance.now()),
    onSnapshot: (counters, status) => {
      if (o.pace !== undefined && startMs > 0) o.onBehindMs?.(performance.now() - startMs - status.virtual_ns_min / (o.pace * 1e6));
      if (!feed) return;
      feed(counters, status);
      obs!.metricsUpdated();
    },
  };
  return { options, dispose: () => o.signal?.removeEventListener("abort", onAbort) };
}
