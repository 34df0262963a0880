// Counters and results: what a CPU reports and what a run writes as JSON. Shared by both engines,
// the CLI, the metrics exporter and the report writers.

/** Why a packet was dropped; every drop has exactly one reason (cf. SKB_DROP_REASON_*). */
export const DROP_REASONS = ["rx_ring_full", "cpu_backlog", "flow_limit"] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Where a NET_RX softirq was raised from. */
export const RAISE_SOURCES = ["nic_irq", "rps_ipi", "local_enqueue", "repoll", "hotplug"] as const;
export type RaiseSource = (typeof RAISE_SOURCES)[number];

/** Execution contexts the CPU spends time in. */
/** `stalled`: the CPU had lost its processor (model/stall.ts); nothing of its own ran. */
export const CONTEXTS = ["hardirq", "softirq", "task", "idle_flush", "irqs_off", "stalled"] as const;
export type ExecContext = (typeof CONTEXTS)[number];

/** Upper bounds (ns) of the latency histogram buckets (enqueue → processed); +Inf implied. */
export const LATENCY_BUCKETS_NS = [
  1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000, 2_000_000, 5_000_000,
  10_000_000, 50_000_000,
] as const;

/** One CPU's counters. Never reset, also across offline/online (docs/DESIGN.md §1.7). */
export interface CpuCounters {
  cpu: number;
  online: boolean;
  /** softnet_data.processed */
  processed: number;
  /** softnet_data.dropped: backlog full or flow limit, counted on the target. */
  dropped: number;
  time_squeeze: number;
  received_rps: number;
  flow_limit_count: number;
  input_qlen: number;
  process_qlen: number;
  /** The backlog NAPI's SCHED bit: scheduled (for the stall detector: scheduled, non-empty, no progress). */
  backlog_scheduled: boolean;
  /** IPIs this CPU sent (filled in by the engine from its targets' reports). */
  ipis_sent: number;
  /** NET_RX runs, as /proc/softirqs counts them. */
  net_rx_softirqs: number;
  /**
   * NET_RX runs this CPU raised only to send RPS IPIs (loopback from task context), counted where
   * the targets' charges for them landed; those not landed yet are in attributed.ipi_softirq_flushes.
   * engine/aggregate.ts adds both to net_rx_softirqs: a CPU's counters always carry it, the
   * results rows (CpuResult) never do.
   */
  net_rx_ipi_flushes?: number;
  /**
   * Call-function IPIs taken as interrupts (x86's irq_call_count, the CAL row of /proc/interrupts):
   * one per hardirq entry that found RPS IPIs pending; an IPI to a CPU polling in idle is no interrupt.
   */
  irq_call_count: number;
  /** NIC RX queue interrupts handled on this CPU, by queue (kstat_irqs_cpu of each queue's IRQ). */
  nic_irqs: number[];
  thread_wakeups: number;
  /** Wake-ups of a sleeping backlog thread that did not set SCHED_THREADED (patch 1 missing). */
  lost_wakeups: number;
  ksoftirqd_wakeups: number;
  rt_flush_warnings: number;
  softirq_raises: Record<RaiseSource, number>;
  busy_ns: Record<ExecContext, number>;
  /** Drops whose exit is on this CPU, by reason (rx_ring_full on the queue's CPU). */
  drops_by_reason: Record<DropReason, number>;
  /** Packets this CPU's sources injected (NIC arrivals, sendmsg calls). */
  injected: number;
  /** Packets held on this CPU: backlog queues and owned NIC rings. */
  queued: number;
  /** Packets seen out of per-flow order when processed on this CPU. */
  reordered: number;
  latency_buckets: number[];
  latency_sum_ns: number;
  latency_max_ns: number;
  hotplug_offline: number;
  hotplug_online: number;
  /** Virtual time this CPU has advanced to. */
  now_ns: number;
  /**
   * The receiving task's socket (model/receiver.ts), a stage after `processed`: packets this CPU
   * queued on the socket (every processed packet, when there is a receiver), socket deliveries
   * applied here (the task's CPU), of which read by the task, refused on a full receive buffer
   * (UDP's RcvbufErrors) and still queued; and the task's wake-ups, those by IPI from another CPU.
   */
  sock_delivered: number;
  sock_in: number;
  sock_consumed: number;
  rcvbuf_errors: number;
  sock_queued: number;
  sock_wakeups: number;
  sock_wakeup_ipis: number;
  /** Packets this CPU put into batches / took out of batches (in_flight = Σ out − Σ in). */
  packets_out: number;
  packets_in: number;
  /**
   * Counts that belong on another CPU's row but are decided here, under this CPU's queue lock:
   * IPIs and flow-limit refusals of each enqueuing CPU, and the ids of its flushes that raised
   * NET_RX only to send an IPI whose charge has not landed at the enqueuer yet (a few: the ones
   * decided within charge_latency_ns of the snapshot). Indexed by CPU; summed onto the rows by
   * engine/aggregate.ts.
   */
  attributed: { ipis_sent: number[]; flow_limit_count: number[]; ipi_softirq_flushes: number[][] };
  /**
   * Records from peers that reached this CPU after its clock had passed their time (a broken
   * promise of the lookahead, a bug: docs/DESIGN.md §2.2), taken late. Present only when not 0:
   * a run with any is not exact, and its checker says so.
   */
  late_records?: number;
}

/** A copy of a CPU's counters; the per-peer `attributed` lists only when asked (they grow with the run). */
export function copyCounters(c: CpuCounters, withAttributed = true): CpuCounters {
  const a = c.attributed;
  return {
    ...c,
    softirq_raises: { ...c.softirq_raises },
    busy_ns: { ...c.busy_ns },
    drops_by_reason: { ...c.drops_by_reason },
    latency_buckets: [...c.latency_buckets],
    nic_irqs: [...c.nic_irqs],
    attributed: withAttributed
      ? { ipis_sent: [...a.ipis_sent], flow_limit_count: [...a.flow_limit_count], ipi_softirq_flushes: a.ipi_softirq_flushes.map((l) => [...l]) }
      : { ipis_sent: [], flow_limit_count: [], ipi_softirq_flushes: [] },
  };
}

export interface CheckerResult {
  ok: boolean;
  violations: string[];
  /** Chaos runs only: backlogs that were non-empty, scheduled and made no progress (chaos/stall.ts). */
  stalls?: Stall[];
  /**
   * Checkpoints at which conservation was checked on a consistent cut (every CPU's counters at the
   * same virtual time): every check interval and the end (engine/checkpoints.ts).
   */
  checkpoints?: number;
  /** Distributed engine: checkpoints left unchecked (a CPU process died before reaching them), and why. */
  unchecked?: UncheckedCheckpoints;
}

export interface UncheckedCheckpoints {
  checkpoints: number;
  /** The first one. */
  from_ns: number;
  reason: string;
}

/** A stalled backlog: non-empty and (normally) scheduled, `processed` flat for the stall-after time. */
export interface Stall {
  cpu: number;
  /** Last checkpoint at which the CPU made progress (or had nothing to do). */
  since_ns: number;
  /** Backlog length (input + process queue) when the stall was detected. */
  backlog_len: number;
  detected_ns: number;
  /** First checkpoint with progress again; null if still stalled at the end of the run. */
  until_ns: number | null;
  /** The SCHED bit: "scheduled" (a lost wake-up), "unscheduled" (nobody will ever poll it). */
  state: "scheduled" | "unscheduled";
}

/** Why a backlog stalled, as told by the counters (chaos/liveness.ts diagnoses it). */
export type StallCause = "lost_wakeup" | "irqs_off" | "unscheduled" | "busy" | "not_polled";

/** A stall with its diagnosis: the cause, and a sentence saying it. */
export interface DiagnosedStall extends Stall {
  why: StallCause;
  reason: string;
}

/**
 * The liveness verdict of every run (chaos/liveness.ts): no backlog stalled, and a run whose load
 * stops before its end has drained by then. Separate from the checker's (safety: conservation).
 */
export interface Liveness {
  ok: boolean;
  stall_after_ns: number;
  stalls: DiagnosedStall[];
  /** When the load stopped, if before the end of the run; null when it runs to the end. */
  load_end_ns: number | null;
  /** How long after the load stops the run must be empty (judged only if the run lasts that long). */
  drain_limit_ns: number;
  /** First checkpoint after the load stopped with nothing queued or in flight; null: not (yet) seen. */
  drained_at_ns: number | null;
  /** One line per problem (each stall, a run not drained). */
  violations: string[];
}

/** One fault a nemesis injected (or a heal step), as applied at its virtual time. */
export interface Fault {
  at_ns: number;
  /** The command kind (offline, online, rps, irq_affinity, sysctl, rate, hot_flow, irq_off, ipi_delay) or kill/pause. */
  kind: string;
  /** What it hit: `cpu 2`, `queue 0`, `source 1`, `net.core.netdev_max_backlog`. */
  target: string;
  params: Record<string, number | string | number[]>;
  /** The nemesis that scheduled it (`hotplug`, …), or `heal`. */
  nemesis: string;
}

/** How a chaos run was shaped (chaos/runner.ts): chaos phase, heal, bounded drain. */
export interface ChaosSummary {
  /** The --nemesis specs as given (KIND:key=value,...), defaults filled in. */
  nemeses: string[];
  chaos_ns: number;
  drain_limit_ns: number;
  stall_after_ns: number;
  /** First checkpoint after heal with nothing queued or in flight; null if the drain limit passed first. */
  drained_at_ns: number | null;
  checkpoints: number;
  /** Checkpoints at which conservation was verified to hold (consistent cuts: in-process engine). */
  conservation_held: number;
}

export interface CpuResult extends CpuCounters {
  backlog_len: number;
}

/** The socket stage: delivered = consumed + queued + rcvbuf_errors + in_flight, delivered = processed. */
export interface SocketTotals {
  delivered: number;
  consumed: number;
  queued: number;
  rcvbuf_errors: number;
  in_flight: number;
}

export interface Totals {
  injected: number;
  processed: number;
  dropped: number;
  dropped_by_reason: Record<DropReason, number>;
  queued: number;
  in_flight: number;
  lost_on_crash: number;
  reordered: number;
  /** With a receiving task only: where the processed packets went (model/receiver.ts). */
  socket?: SocketTotals;
}

export interface RunResults {
  profile: string;
  seed: number;
  engine: "inprocess" | "processes";
  virtual_ns: number;
  window_ns: number;
  cpus: CpuResult[];
  totals: Totals;
  latency_ns: { p50: number; p99: number; max: number; mean: number };
  checker: CheckerResult;
  softnet_stat: string;
  events: { at_ns: number; cpu: number; action: string }[];
  /** Counters sampled every `series_interval_ns` of virtual time (absent when sampling is off). */
  series?: TimeSeries;
  /** Chaos runs only: every fault and heal step, in time order. */
  faults?: Fault[];
  chaos?: ChaosSummary;
  /** The liveness verdict (every run of the CLI; absent from the engines' own results). */
  liveness?: Liveness;
  /** A run stopped by a signal: its results so far (the CLI's JSON). */
  interrupted?: boolean;
  signal?: "SIGINT" | "SIGTERM";
  /** A run that failed: its results so far, and why (the CLI's JSON). */
  failure?: string;
}

/** Per-CPU samples at t_ns[k]; counters are cumulative (rates are differences). */
export interface TimeSeries {
  interval_ns: number;
  t_ns: number[];
  cpus: {
    cpu: number;
    online: number[];
    processed: number[];
    dropped: number[];
    time_squeeze: number[];
    received_rps: number[];
    backlog_len: number[];
    latency_sum_ns: number[];
    latency_count: number[];
  }[];
}
