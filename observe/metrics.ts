// The coordinator's Prometheus registry (docs/DESIGN.md §2.5): the latest counter snapshot of every CPU,
// exposed as node_exporter-compatible `node_softnet_*` series (only for online CPUs, as a real host's
// softnet_stat shows them) plus `softnet_emu_*` series for every CPU, online or not, so totals never dip.
//
// Everything is point-in-time: update() stores a snapshot and each metric's collect() copies it at
// scrape time, so a run pays nothing between scrapes (prom-client's own advice). A chaos run's faults
// come as a timeline (setFaults(), chaos/fault-timeline.ts) judged against the snapshot's virtual time.

import { randomBytes } from "node:crypto";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  CONTEXTS,
  DROP_REASONS,
  LATENCY_BUCKETS_NS,
  RAISE_SOURCES,
  copyCounters,
  type CpuCounters,
} from "../model/results.ts";

/** What the coordinator knows about the run besides the per-CPU counters. */
export interface RunStatus {
  scenario: string;
  profile: string;
  /** Virtual time the run has reached. */
  virtualNs: number;
  /** Synchronisation windows completed per wall-clock second (absent: not measured). */
  windowRate?: number;
  /** How far virtual time is behind wall-clock under --pace, in seconds (absent: not pacing). */
  lagSeconds?: number;
  /** Malformed or unexpected messages by kind, cumulative. */
  malformed?: Record<string, number>;
  /** Packets lost with CPU processes that died without an orderly offline (docs/DESIGN.md §2.4). */
  lostOnCrash: number;
  checkerOk: boolean;
  /** CPUs whose process died (declared dead): offline for good, so they stay dead in later updates. */
  deadCpus?: readonly number[];
}

export interface MetricsOptions {
  /** The `run` label of every series; default a new one (newRunId()). */
  runId?: string;
  /** The run's synchronisation window (EmuConfig.window_ns): softnet_emu_window_rate counts these. */
  windowNs?: number;
  /** Wall clock in ms, for the window rate only (tests); default performance.now(). */
  nowMs?: () => number;
}

/**
 * A run id for the `run` label: UTC start time to the second and 4 random hex digits, so two runs
 * of one scenario never share their series in Prometheus and the ids sort by start time.
 */
export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return `${stamp}-${randomBytes(2).toString("hex")}`;
}

/** The window rate is measured over the last second of wall time (or all of it, early on). */
const WINDOW_RATE_SPAN_MS = 1000;

/**
 * A chaos run's faults as the registry shows them, by nemesis kind (`heal` for the heal's steps).
 * A fault has taken effect once virtual time has passed its time (at a checkpoint at t, the
 * commands at t are still to come), so the counts at the end equal the results' faults[].
 */
export interface FaultTimeline {
  /** Kinds with a softnet_emu_faults_total series from the start (0 until their first fault). */
  kinds: readonly string[];
  /** When each fault took effect (a process fault: when it hit; one that never hit is absent). */
  applied: readonly { kind: string; at_ns: number }[];
  /** Faults with a duration, in effect from from_ns until to_ns (Infinity: not ended). */
  windows: readonly { kind: string; target: string; from_ns: number; to_ns: number }[];
}

/** Latency bucket upper bounds as Prometheus `le` values, in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = LATENCY_BUCKETS_NS.map((ns) => ns / 1e9);

const NS_PER_SECOND = 1e9;

/** Kinds of bad message the transport counts (others are shown as they come): transport/codec.ts's list. */
export const MALFORMED_KINDS = ["decode_error", "bad_version", "unexpected", "unauthenticated"] as const;

/** node_exporter's softnet collector (collector/softnet_linux.go): same names, same help texts. */
const NODE_EXPORTER_SERIES = [
  { name: "node_softnet_processed_total", help: "Number of processed packets", value: (c: CpuCounters) => c.processed },
  { name: "node_softnet_dropped_total", help: "Number of dropped packets", value: (c: CpuCounters) => c.dropped },
  {
    name: "node_softnet_times_squeezed_total",
    help: "Number of times processing packets ran out of quota",
    value: (c: CpuCounters) => c.time_squeeze,
  },
  {
    // Always 0 since the kernel stopped counting it; kept because node_exporter exposes it.
    name: "node_softnet_cpu_collision_total",
    help: "Number of collision occur while obtaining device lock while transmitting",
    value: () => 0,
  },
  {
    name: "node_softnet_received_rps_total",
    help: "Number of times cpu woken up received_rps",
    value: (c: CpuCounters) => c.received_rps,
  },
  {
    name: "node_softnet_flow_limit_count_total",
    help: "Number of times flow limit has been reached",
    value: (c: CpuCounters) => c.flow_limit_count,
  },
] as const;

/** Per-CPU cumulative counters of the emulator, for every CPU (offline ones keep their values). */
const EMU_CPU_COUNTERS = [
  ["softnet_emu_processed_total", "Packets processed (softnet_data.processed), kept while the CPU is offline", (c: CpuCounters) => c.processed],
  ["softnet_emu_dropped_total", "Packets dropped by enqueue_to_backlog for this CPU (softnet_data.dropped)", (c: CpuCounters) => c.dropped],
  ["softnet_emu_time_squeeze_total", "net_rx_action rounds cut short by budget or time limit", (c: CpuCounters) => c.time_squeeze],
  ["softnet_emu_flow_limit_count_total", "Packets this CPU's flow limiter refused", (c: CpuCounters) => c.flow_limit_count],
  ["softnet_emu_ipis_sent_total", "RPS IPIs this CPU sent (net_rps_send_ipi)", (c: CpuCounters) => c.ipis_sent],
  ["softnet_emu_ipis_received_total", "RPS IPIs this CPU handled (rps_trigger_softirq, received_rps)", (c: CpuCounters) => c.received_rps],
  ["softnet_emu_net_rx_softirqs_total", "NET_RX softirq runs, as /proc/softirqs counts them", (c: CpuCounters) => c.net_rx_softirqs],
  [
    "softnet_emu_call_function_irqs_total",
    "Call-function interrupts taken, the CAL row of /proc/interrupts: RPS IPIs that did not find the CPU polling in idle",
    (c: CpuCounters) => c.irq_call_count,
  ],
  ["softnet_emu_thread_wakeups_total", "Wake-ups of this CPU's backlog_napi thread", (c: CpuCounters) => c.thread_wakeups],
  [
    "softnet_emu_lost_wakeups_total",
    "Wake-ups of a sleeping backlog thread that did not set SCHED_THREADED (patch 1 missing)",
    (c: CpuCounters) => c.lost_wakeups,
  ],
  ["softnet_emu_ksoftirqd_wakeups_total", "Wake-ups of ksoftirqd on this CPU", (c: CpuCounters) => c.ksoftirqd_wakeups],
  [
    "softnet_emu_rt_flush_warnings_total",
    "do_softirq_post_smp_call_flush warnings (PREEMPT_RT: a call function raised a softirq)",
    (c: CpuCounters) => c.rt_flush_warnings,
  ],
  ["softnet_emu_injected_packets_total", "Packets this CPU's sources injected (NIC arrivals, sendmsg calls)", (c: CpuCounters) => c.injected],
  ["softnet_emu_reordered_packets_total", "Packets processed on this CPU out of per-flow order", (c: CpuCounters) => c.reordered],
] as const;

/** Per-CPU point-in-time values of the emulator, for every CPU. */
const EMU_CPU_GAUGES = [
  ["softnet_emu_cpu_online", "1 while the CPU is online, 0 while it is offline or dead", (c: CpuCounters) => (c.online ? 1 : 0)],
  ["softnet_emu_input_queue_length", "Packets in input_pkt_queue", (c: CpuCounters) => c.input_qlen],
  ["softnet_emu_process_queue_length", "Packets in process_queue", (c: CpuCounters) => c.process_qlen],
  ["softnet_emu_backlog_length", "Packets in input_pkt_queue + process_queue (softnet_stat backlog_len)", (c: CpuCounters) => c.input_qlen + c.process_qlen],
  ["softnet_emu_queued_packets", "Packets held on this CPU: backlog queues and owned NIC rings", (c: CpuCounters) => c.queued],
  ["softnet_emu_latency_max_seconds", "Largest enqueue-to-processed latency seen on this CPU, in virtual seconds", (c: CpuCounters) => c.latency_max_ns / NS_PER_SECOND],
  ["softnet_emu_cpu_virtual_time_seconds", "Virtual time this CPU has advanced to", (c: CpuCounters) => c.now_ns / NS_PER_SECOND],
] as const;

type CpuLabel = "cpu";

/**
 * Cumulative bucket counts for `le` = each bound then +Inf, from the model's per-bucket counts
 * (latency_buckets[i] counts latencies in (bound[i-1], bound[i]]; one more slot for the overflow).
 */
export function cumulativeLatencyBuckets(buckets: readonly number[]): number[] {
  const out: number[] = [];
  let acc = 0;
  for (let i = 0; i <= LATENCY_BUCKETS_NS.length; i++) {
    acc += buckets[i] ?? 0;
    out.push(acc);
  }
  // Slots beyond the overflow one (should not exist) still count towards +Inf.
  for (let i = LATENCY_BUCKETS_NS.length + 1; i < buckets.length; i++) out[out.length - 1]! += buckets[i] ?? 0;
  return out;
}

type HistogramData = Awaited<ReturnType<Histogram<CpuLabel>["get"]>>;

/**
 * A histogram whose buckets come from a snapshot rather than from observe(): prom-client has no
 * setter for bucket counts, so this subclass produces the exposition values itself.
 */
class SnapshotLatencyHistogram extends Histogram<CpuLabel> {
  constructor(
    registry: Registry,
    private readonly snapshot: () => readonly CpuCounters[],
  ) {
    super({
      name: "softnet_emu_latency_seconds",
      help: "Packet latency from enqueue to processed, in seconds of virtual time",
      labelNames: ["cpu"],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers: [registry],
    });
  }

  override async get(): Promise<HistogramData> {
    return this.getForPromString();
  }

  // The registry prefers getForPromString() when a metric has one (Histogram does).
  async getForPromString(): Promise<HistogramData> {
    const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
    for (const c of this.snapshot()) {
      const cpu = String(c.cpu);
      const cumulative = cumulativeLatencyBuckets(c.latency_buckets);
      LATENCY_BUCKETS_SECONDS.forEach((le, i) => {
        values.push({ metricName: `${this.name}_bucket`, labels: { cpu, le }, value: cumulative[i] ?? 0 });
      });
      const count = cumulative[cumulative.length - 1] ?? 0;
      values.push({ metricName: `${this.name}_bucket`, labels: { cpu, le: "+Inf" }, value: count });
      values.push({ metricName: `${this.name}_sum`, labels: { cpu }, value: c.latency_sum_ns / NS_PER_SECOND });
      values.push({ metricName: `${this.name}_count`, labels: { cpu }, value: count });
    }
    // prom-client's declared MetricObject types `type` as an enum it never uses at runtime.
    return { name: this.name, help: this.help, type: "histogram", values, aggregator: "sum" } as unknown as HistogramData;
  }

  private declare readonly name: string;
  private declare readonly help: string;
}

/** Builds the registry once; update() replaces the snapshot the collect() callbacks read. */
export class SoftnetMetrics {
  readonly registry = new Registry();
  /** The `run` label of every series. */
  readonly runId: string;
  private counters: readonly CpuCounters[] = [];
  private run: RunStatus | undefined;
  private updates = 0;
  private faults: FaultTimeline | undefined;
  /** CPUs declared dead so far (a dead CPU never comes back). */
  private readonly dead = new Set<number>();
  /** (wall ms, virtual ns) of recent updates, for the window rate. */
  private readonly progress: { ms: number; ns: number }[] = [];
  private readonly nowMs: () => number;

  constructor(private readonly opts: MetricsOptions = {}) {
    this.runId = opts.runId ?? newRunId();
    this.nowMs = opts.nowMs ?? (() => performance.now());
    const registry = this.registry;
    registry.setDefaultLabels({ run: this.runId });
    const snapshot = (): readonly CpuCounters[] => this.counters;
    const online = (): CpuCounters[] => this.counters.filter((c) => c.online);

    for (const s of NODE_EXPORTER_SERIES) {
      new Counter<CpuLabel>({
        name: s.name,
        help: s.help,
        labelNames: ["cpu"],
        registers: [registry],
        // Reset first: an offline CPU's series must disappear, like its softnet_stat row.
        collect(this: Counter<CpuLabel>) {
          this.reset();
          for (const c of online()) this.inc({ cpu: String(c.cpu) }, s.value(c));
        },
      });
    }
    new Gauge<CpuLabel>({
      name: "node_softnet_backlog_len",
      help: "Softnet backlog status",
      labelNames: ["cpu"],
      registers: [registry],
      collect(this: Gauge<CpuLabel>) {
        this.reset();
        for (const c of online()) this.set({ cpu: String(c.cpu) }, c.input_qlen + c.process_qlen);
      },
    });

    for (const [name, help, value] of EMU_CPU_COUNTERS) {
      new Counter<CpuLabel>({
        name,
        help,
        labelNames: ["cpu"],
        registers: [registry],
        collect(this: Counter<CpuLabel>) {
          this.reset();
          for (const c of snapshot()) this.inc({ cpu: String(c.cpu) }, value(c));
        },
      });
    }
    for (const [name, help, value] of EMU_CPU_GAUGES) {
      new Gauge<CpuLabel>({
        name,
        help,
        labelNames: ["cpu"],
        registers: [registry],
        collect(this: Gauge<CpuLabel>) {
          this.reset();
          for (const c of snapshot()) this.set({ cpu: String(c.cpu) }, value(c));
        },
      });
    }

    new Counter<"cpu" | "source">({
      name: "softnet_emu_softirq_raises_total",
      help: "NET_RX softirq raises by where they came from",
      labelNames: ["cpu", "source"],
      registers: [registry],
      collect(this: Counter<"cpu" | "source">) {
        this.reset();
        for (const c of snapshot()) {
          for (const source of RAISE_SOURCES) this.inc({ cpu: String(c.cpu), source }, c.softirq_raises[source] ?? 0);
        }
      },
    });
    new Counter<"cpu" | "context">({
      name: "softnet_emu_busy_seconds_total",
      help: "Virtual time this CPU spent busy, by execution context",
      labelNames: ["cpu", "context"],
      registers: [registry],
      collect(this: Counter<"cpu" | "context">) {
        this.reset();
        for (const c of snapshot()) {
          for (const context of CONTEXTS) this.inc({ cpu: String(c.cpu), context }, (c.busy_ns[context] ?? 0) / NS_PER_SECOND);
        }
      },
    });
    new Counter<"cpu" | "reason">({
      name: "softnet_emu_drops_total",
      help: "Packet drops whose exit is on this CPU, by drop reason",
      labelNames: ["cpu", "reason"],
      registers: [registry],
      collect(this: Counter<"cpu" | "reason">) {
        this.reset();
        for (const c of snapshot()) {
          for (const reason of DROP_REASONS) this.inc({ cpu: String(c.cpu), reason }, c.drops_by_reason[reason] ?? 0);
        }
      },
    });
    new Counter<"cpu" | "queue">({
      name: "softnet_emu_nic_irqs_total",
      help: "NIC RX queue interrupts handled on this CPU, by queue (the queue's IRQ line in /proc/interrupts)",
      labelNames: ["cpu", "queue"],
      registers: [registry],
      collect(this: Counter<"cpu" | "queue">) {
        this.reset();
        for (const c of snapshot()) c.nic_irqs.forEach((n, queue) => this.inc({ cpu: String(c.cpu), queue: String(queue) }, n));
      },
    });
    new Counter<"cpu" | "action">({
      name: "softnet_emu_hotplug_events_total",
      help: "CPU hotplug operations completed on this CPU, by action",
      labelNames: ["cpu", "action"],
      registers: [registry],
      collect(this: Counter<"cpu" | "action">) {
        this.reset();
        for (const c of snapshot()) {
          this.inc({ cpu: String(c.cpu), action: "offline" }, c.hotplug_offline);
          this.inc({ cpu: String(c.cpu), action: "online" }, c.hotplug_online);
        }
      },
    });
    new SnapshotLatencyHistogram(registry, snapshot);
    const dead = (cpu: number): number => (this.dead.has(cpu) ? 1 : 0);
    new Gauge<CpuLabel>({
      name: "softnet_emu_cpu_dead",
      help: "1 once the CPU's process died (declared dead: surprise-removed, offline for good), else 0",
      labelNames: ["cpu"],
      registers: [registry],
      collect(this: Gauge<CpuLabel>) {
        this.reset();
        for (const c of snapshot()) this.set({ cpu: String(c.cpu) }, dead(c.cpu));
      },
    });

    this.runMetrics(registry);
    this.faultMetrics(registry);
  }

  /** A chaos run's faults at the snapshot's virtual time; no series at all in a run without them. */
  private faultMetrics(registry: Registry): void {
    const state = (): { t: FaultTimeline; now: number } | undefined => {
      const t = this.faults;
      const r = this.run;
      return t && r ? { t, now: r.virtualNs } : undefined;
    };
    new Counter<"kind">({
      name: "softnet_emu_faults_total",
      help: "Faults the chaos nemeses applied so far, by nemesis kind (heal: the heal's steps)",
      labelNames: ["kind"],
      registers: [registry],
      collect(this: Counter<"kind">) {
        this.reset();
        const s = state();
        if (!s) return;
        const counts = new Map(s.t.kinds.map((k) => [k, 0]));
        for (const f of s.t.applied) if (f.at_ns < s.now) counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
        for (const [kind, n] of counts) this.inc({ kind }, n);
      },
    });
    new Gauge<"kind" | "target">({
      name: "softnet_emu_fault_active",
      help: "1 while a fault with a duration (irq-off, ipi-delay, a sysctl or hotplug dwell, a burst) is in effect on the target, else 0",
      labelNames: ["kind", "target"],
      registers: [registry],
      collect(this: Gauge<"kind" | "target">) {
        this.reset();
        const s = state();
        if (!s) return;
        // A target's series appears with its first fault and then stays (0 between faults), so
        // a state timeline shows when each one was disturbed.
        const active = new Map<string, { kind: string; target: string; on: boolean }>();
        for (const w of s.t.windows) {
          if (w.from_ns >= s.now) continue;
          const key = `${w.kind}\u0000${w.target}`;
          const on = s.now <= w.to_ns;
          active.set(key, { kind: w.kind, target: w.target, on: on || (active.get(key)?.on ?? false) });
        }
        for (const a of active.values()) this.set({ kind: a.kind, target: a.target }, a.on ? 1 : 0);
      },
    });
  }

  /** A chaos run's fault timeline (undefined: none); scrapes judge it against update()'s virtual time. */
  setFaults(timeline: FaultTimeline | undefined): void {
    this.faults = timeline;
  }

  /** Run-wide series: virtual time, pacing, protocol health, accounting, the checker. */
  private runMetrics(registry: Registry): void {
    const run = (): RunStatus | undefined => this.run;
    const runGauge = (name: string, help: string, value: (r: RunStatus) => number | undefined): void => {
      new Gauge({
        name,
        help,
        registers: [registry],
        collect(this: Gauge) {
          this.reset();
          const r = run();
          const v = r === undefined ? undefined : value(r);
          // No sample at all rather than a made-up 0 when the value is unknown.
          if (v === undefined) this.remove({});
          else this.set(v);
        },
      });
    };
    runGauge("softnet_emu_cpus", "Emulated CPUs in the run, online or not", () => this.counters.length);
    runGauge("softnet_emu_virtual_time_seconds", "Virtual time the run has reached", (r) => r.virtualNs / NS_PER_SECOND);
    runGauge("softnet_emu_window_rate", "Synchronisation windows (window_ns of virtual time) the run advanced per wall-clock second, over the last second", (r) =>
      r.windowRate ?? this.windowRate(),
    );
    runGauge("softnet_emu_lag_seconds", "How far virtual time lags behind wall-clock when pacing", (r) => r.lagSeconds);
    runGauge("softnet_emu_checker_ok", "1 while the conservation checker holds, 0 once it found a violation", (r) => (r.checkerOk ? 1 : 0));
    const updates = (): number => this.updates;
    new Counter({
      name: "softnet_emu_snapshots_total",
      help: "Counter snapshots the coordinator has published to this registry",
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        if (run() === undefined) this.remove({});
        else this.inc(updates());
      },
    });
    new Counter({
      name: "softnet_emu_lost_on_crash_total",
      help: "Packets lost with CPU processes that died without an orderly offline",
      registers: [registry],
      collect(this: Counter) {
        this.reset();
        const r = run();
        if (r === undefined) this.remove({});
        else this.inc(r.lostOnCrash);
      },
    });
    new Counter<"kind">({
      name: "softnet_emu_malformed_messages_total",
      help: "Malformed or unexpected messages received, by kind",
      labelNames: ["kind"],
      registers: [registry],
      collect(this: Counter<"kind">) {
        this.reset();
        const r = run();
        if (r === undefined) return;
        // Known kinds always have a series (0 until one arrives) so queries on them return data.
        const counts = { ...Object.fromEntries(MALFORMED_KINDS.map((k) => [k, 0])), ...r.malformed };
        for (const [kind, n] of Object.entries(counts)) this.inc({ kind }, n);
      },
    });
  }

  /**
   * Replace the snapshot the next scrape will show. Pass rows with the attributed counts already
   * on their CPUs (engine/aggregate.ts attribute()); they are copied, so the engine may keep
   * mutating its own objects.
   */
  update(counters: readonly CpuCounters[], run: RunStatus): void {
    for (const cpu of run.deadCpus ?? []) this.dead.add(cpu);
    // A copy without the per-peer bookkeeping, which the exporter never shows. A dead CPU's row is
    // its last report, taken while it was online: it is not (its softnet_stat row is gone).
    this.counters = counters
      .map((c) => {
        const copy = copyCounters(c, false);
        if (this.dead.has(c.cpu)) copy.online = false;
        return copy;
      })
      .sort((a, b) => a.cpu - b.cpu);
    if (this.run?.scenario !== run.scenario || this.run?.profile !== run.profile) {
      this.registry.setDefaultLabels({ scenario: run.scenario, profile: run.profile, run: this.runId });
    }
    this.run = run;
    this.updates++;
    this.progressAt(run.virtualNs);
  }

  /** Record where virtual time stands now; keep the last WINDOW_RATE_SPAN_MS of them (and one before). */
  private progressAt(virtualNs: number): void {
    const ms = this.nowMs();
    const p = this.progress;
    p.push({ ms, ns: virtualNs });
    while (p.length > 2 && ms - p[1]!.ms >= WINDOW_RATE_SPAN_MS) p.shift();
  }

  /**
   * Windows per wall second over the last second up to now (a run that stopped advancing, over or
   * stalled, reads 0 a second later); undefined before two updates, or without window_ns.
   */
  private windowRate(): number | undefined {
    const w = this.opts.windowNs;
    const p = this.progress;
    if (!w || w <= 0 || p.length < 2) return undefined;
    const now = Math.max(this.nowMs(), p[p.length - 1]!.ms);
    let base = p[0]!;
    for (const q of p) if (q.ms <= now - WINDOW_RATE_SPAN_MS) base = q;
    const seconds = (now - base.ms) / 1000;
    if (seconds <= 0) return undefined;
    return Math.max(0, p[p.length - 1]!.ns - base.ns) / w / seconds;
  }

  /** CPUs declared dead so far. */
  deadCpus(): number[] {
    return [...this.dead].sort((a, b) => a - b);
  }

  /** The latest snapshot, for /control/status and the procfs writer. */
  latest(): { counters: readonly CpuCounters[]; run: RunStatus | undefined } {
    return { counters: this.counters, run: this.run };
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text, as GET /metrics serves it. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
}
