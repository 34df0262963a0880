// What a coordinator is given (CoordinatorOptions) and what it tells (CoordinatorStatus, the
// results of a run that may have lost CPUs). coordinator/coordinator.ts re-exports them.
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters, RunResults } from "../model/results.ts";
import type { MalformedKind } from "../transport/codec.ts";
import type { WireKey } from "../transport/auth.ts";

export interface CoordinatorOptions {
  cfg: EmuConfig;
  /** ROUTER endpoint, e.g. tcp://127.0.0.1:* or tcp://0.0.0.0:5555. */
  bind: string;
  /** CPUs report (and the coordinator beats) this often. */
  heartbeatMs: number;
  /**
   * The floor of the failure detector: a CPU is suspected only after this much silence, and
   * later when its gaps so far make the silence probable (liveness/failure-detector.ts).
   */
  cpuTimeoutMs: number;
  /**
   * The CPUs are our children and their exits are watched (cpuGone): silence is then never death,
   * since a frozen or starved process is slow, not dead. Otherwise (CPUs started by hand, in
   * containers, on other hosts) a suspected CPU is declared dead.
   */
  exitsWatched?: boolean;
  /** CPUs exit when the coordinator is silent this long. */
  coordinatorTimeoutMs: number;
  /** How long to wait for all CPUs to register. */
  registerTimeoutMs: number;
  /** Fail the run when no CPU's clock moves for this long (a bug, never a slow machine). */
  stallTimeoutMs?: number;
  /** Virtual time the fastest CPU may run ahead before a new lease (bounds command latency). */
  leaseSpanNs: number;
  /** Longest virtual stretch of one advance() call in a CPU. */
  maxStepNs: number;
  /** Virtual seconds per wall second (undefined: as fast as possible). */
  pace?: number;
  /** Sample counters every this many virtual ns into results.series (0/undefined: off). */
  seriesIntervalNs?: number;
  /** Check conservation every this many virtual ns (default: engine/checkpoints.ts, as in-process). */
  checkIntervalNs?: number;
  /** Commands known before the start (a nemesis schedule), applied like the scenario's events. */
  commands?: readonly CpuCommand[];
  /** The run's secret and frame limit (transport/auth.ts): seals what we send, checks what we receive. */
  secret: WireKey;
  log: (line: string) => void;
  onProgress?: (virtualNs: number, totalNs: number) => void;
  /** Called with every new snapshot of counters (for /metrics). */
  onSnapshot?: (counters: CpuCounters[], status: CoordinatorStatus) => void;
  /** Called at every checkpoint every CPU has reported (a consistent cut, in time order), as in-process. */
  onCheckpoint?: (atNs: number, counters: readonly CpuCounters[]) => void;
}

export interface CoordinatorStatus {
  phase: "registering" | "running" | "finishing" | "done" | "failed";
  cpus: number;
  registered: number[];
  dead: number[];
  /** Slowest and fastest CPU's virtual time. */
  virtual_ns_min: number;
  virtual_ns_max: number;
  /** Each registered CPU's latest virtual time (a dead one's at its last report): the CPU health checks' "advancing". */
  virtual_ns_by_cpu: Record<number, number>;
  lease_ns: number;
  end_ns: number;
  /**
   * Under --pace: how far the slowest CPU is behind the wall clock since the start, in virtual ns.
   * A run that fell behind slips its clock rather than catch up (engine/paced-clock.ts): this
   * keeps what it gave up.
   */
  lag_ns?: number;
  /** Bad frames by receiver: "coordinator" and "cpu N", each by kind. */
  malformed_messages: Record<string, Record<MalformedKind, number>>;
  lost_on_crash: number;
  /** Conservation checkpoints checked so far, and whether the law held at every one. */
  checkpoints: number;
  checker_ok: boolean;
  commands: { at_ns: number; kind: string; cpu?: number; source?: number; pps?: number }[];
}

export type Phase = CoordinatorStatus["phase"];

/** Results plus what a degraded (crashed-CPU) run must say; exit code 3 when `degraded`. */
export type ProcessesRunResults = RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } };

/** A CpuCommand without its time: the coordinator picks that. */
export type CommandRequest = CpuCommand extends infer C ? (C extends CpuCommand ? Omit<C, "at_ns"> : never) : never;
