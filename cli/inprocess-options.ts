// `run`'s options for the in-process engine's live driver (engine/live.ts): progress, pacing (and
// how far behind the paced clock the run is), the stopping signal, and the Observer fed at every
// checkpoint with its control API routed to the run. Plain runs (cli/engines.ts) and chaos runs
// (cli/chaos.ts) share it, so /metrics, --procfs and --pace behave the same in both.
import type { ControlHandlers } from "../observe/http.ts";
import { attribute } from "../engine/aggregate.ts";
import type { LiveOptions } from "../engine/live.ts";
import type { EngineRunOptions } from "../engine/contract.ts";
import { liveControlHandlers } from "../observe/inprocess-control.ts";

/** `control` narrows what the control API may do to the run (a chaos run only reports). */
export function inProcessLiveOptions(o: EngineRunOptions, control: (h: ControlHandlers) => ControlHandlers = (h) => h): LiveOptions {
  const obs = o.observer;
  let startMs = 0;
  return {
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.seriesIntervalNs ? { seriesIntervalNs: o.seriesIntervalNs } : {}),
    ...(o.log ? { log: o.log } : {}),
    ...(o.pace !== undefined ? { pace: o.pace } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onStart: (run) => {
      startMs = performance.now();
      obs?.attach(control(liveControlHandlers(run)));
    },
    onSnapshot: (counters, s) => {
      if (o.pace !== undefined) o.onBehindMs?.(performance.now() - startMs - s.virtual_ns / (o.pace * 1e6));
      obs?.update(attribute(counters), {
        virtualNs: s.virtual_ns,
        ...(s.lag_ns !== undefined ? { lagSeconds: s.lag_ns / 1e9 } : {}),
        lostOnCrash: 0,
        checkerOk: s.checker_ok,
      });
    },
  };
}
