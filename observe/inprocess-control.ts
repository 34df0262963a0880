// The control API (observe/http.ts) on the in-process engine: the same requests as against a
// coordinator, applied where the run stands (engine/live.ts), refused the same way: both engines
// judge commands with engine/validate-command.ts (400 a bad value, 404 what the run does not have,
// 409 a wrong state).
import { CommandRefused } from "../engine/validate-command.ts";
import type { LiveCommand, LiveRun } from "../engine/live.ts";
import { ControlError, type ControlHandlers } from "./http.ts";

export function liveControlHandlers(run: LiveRun): ControlHandlers {
  const guard = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof CommandRefused) throw new ControlError(e.status, e.message);
      throw e;
    }
  };
  const command = (req: LiveCommand) =>
    guard(() => {
      const { kind, ...target } = req;
      return { ok: true, action: kind, ...target, at_ns: run.command(req).at_ns };
    });
  return {
    offline: ({ cpu }) => command({ kind: "offline", cpu }),
    online: ({ cpu }) => command({ kind: "online", cpu }),
    rate: ({ source, pps }) => command({ kind: "rate", source, pps }),
    stop: () => guard(() => ({ ok: true, action: "stop", end_ns: run.stop() })),
    status: () => ({ engine: "inprocess", ...run.status() }),
  };
}
