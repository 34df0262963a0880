// The contract every engine keeps: what a run is given (progress, pacing, an Observer to feed, a
// signal that stops it) and what it returns (RunResults). The in-process engine (engine/live.ts) and
// the multi-process one (coordinator/run-processes.ts) are both an EngineRun; cli/engines.ts loads
// them on demand. Inside, both run the same model CPUs, hand their batches through a PeerTransport
// (transport/transport.ts) and stop at one Schedule of checkpoints and samples (engine/schedule.ts):
// they differ only in the transport and in who drives virtual time (one loop here, a coordinator's
// leases there).
import type { LivenessSettings } from "../chaos/liveness.ts";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import type { Observer } from "../observe/observer.ts";

export const ENGINES = ["inprocess", "processes"] as const;
export type EngineName = (typeof ENGINES)[number];

export interface EngineRunOptions {
  onProgress?: (virtualNs: number, totalNs: number) => void;
  seriesIntervalNs?: number;
  /** Kernel-style lines, and the distributed engine's `[coordinator]` and `[cpu N]` lines. */
  log?: (line: string) => void;
  /** Virtual seconds per wall second (undefined: as fast as possible). */
  pace?: number;
  /** Under --pace: at each snapshot, how far the run is behind the paced clock, in wall ms (< 0: ahead). */
  onBehindMs?: (behindMs: number) => void;
  /** Fed at every snapshot; its control API is routed to the run. */
  observer?: Observer;
  /** Aborted with an Interrupted: the run stops, every process is torn down, the engine rejects. */
  signal?: AbortSignal;
  /** processes: a CPU silent this long is declared dead (default 3 s). */
  cpuTimeoutMs?: number;
  /** processes: tcp on 127.0.0.1 (default), or ipc sockets in a private temp dir. */
  transport?: "tcp" | "ipc";
  /** processes: the frame size limit of every process (--max-frame). */
  maxFrameBytes?: number;
  /** The liveness verdict's settings (--stall-after); every run gets one (results.liveness). */
  liveness?: LivenessSettings;
}

export type EngineRun = (cfg: EmuConfig, opts: EngineRunOptions) => RunResults | Promise<RunResults>;

/** The reason a run was stopped by a signal. */
export class Interrupted extends Error {
  override readonly name = "Interrupted";

  constructor(readonly signal: "SIGINT" | "SIGTERM") {
    super(`interrupted (${signal})`);
  }
}
