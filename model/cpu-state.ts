// One emulated CPU's state (docs/DESIGN.md §1.1, §2.1): its softnet_data, sources, tasks, clocks,
// interrupt and softirq state, counters, and the small helpers every kernel function uses to
// charge time, count a drop or put a record into a peer's batch. It calls no kernel function:
// receive.ts, softirq.ts, hotplug.ts and lookahead.ts work on it, and cpu.ts runs the loop.
import type { CostModel, EmuConfig } from "./config.ts";
import { newCounters } from "./counters.ts";
import { exactWindowNs } from "./defaults.ts";
import { Heap } from "./heap.ts";
import { HostShare } from "./host.ts";
import { Inbox } from "./inbox.ts";
import { emptyBatch, type CpuCommand, type PeerBatch } from "./messages.ts";
import { NAPI_STATE_THREADED, type Napi } from "./napi.ts";
import { PacketQueue } from "./packet-queue.ts";
import { PendingTimes } from "./pending-times.ts";
import type { CpuCounters, DropReason, ExecContext, RaiseSource } from "./results.ts";
import { Socket } from "./socket.ts";
import { SoftnetData } from "./softnet-data.ts";
import { PacketSizes, sourceCount, type SourceState } from "./sources.ts";
import type { StallSchedule } from "./stall.ts";
import type { Task } from "./task.ts";

export interface Timer {
  at: number;
  prio: number;
  seq: number;
  kind: "command" | "wake" | "sender" | "ipi" | "stall" | "host-word" | "host-decide";
  command?: CpuCommand;
  task?: Task;
  /** Which stall (a timer of a stall stallInside() took is stale). */
  stallId?: number;
}

/** The run of net_rx_action in progress: it spans several poll steps (see softirq.ts). */
export interface NetRxRun {
  budget: number;
  timeLimitJiffies: number;
  list: Napi[];
  repoll: Napi[];
  context: ExecContext;
  /** The task whose context runs it (ksoftirqd), or null for softirq on irq exit / bh enable. */
  task: Task | null;
}

/** A rate or hot_flow command (model/source-commands.ts). */
export type SourceCommand = Extract<CpuCommand, { kind: "rate" | "hot_flow" }>;

export class CpuState {
  readonly sd: SoftnetData;
  readonly costs: CostModel;
  readonly windowNs: number;
  readonly threadsMode: boolean;
  /** Global view of cpu_online_mask, updated by broadcast commands at their virtual time. */
  readonly onlineMask: Uint8Array;
  online = true;
  /** Virtual time of the item being handled; during a step, the step's start. */
  now = 0;
  /** Time the current step ends. */
  busyUntil = 0;
  /** How far advance() has gone (items < clock are done). */
  clock = 0;

  readonly sources = new Map<number, SourceState>();
  readonly packetSizes: PacketSizes;
  /** The NIC sources of `sources`, as an array for the event loop. */
  nicSources: SourceState[] = [];
  /** The online mask changed: sources may have to move (see hotplug.ts rehomeSources). */
  rehomeNeeded = false;
  /** Packets waiting for netif_rx on this CPU: dev_cpu_dead re-injection and forwards. */
  readonly reinject = new PacketQueue();

  readonly backlogThread: Task = { kind: "backlog_napi", source: -1, state: "interruptible", onRq: false };
  readonly ksoftirqd: Task = { kind: "ksoftirqd", source: -1, state: "interruptible", onRq: false };
  readonly senderTasks = new Map<number, Task>();
  readonly runqueue: Task[] = [];
  lastTask: Task | null = null;

  // Interrupt and softirq state.
  ipiPending = 0;
  readonly nicIrqPending: number[] = [];
  softirqPending = false;
  /** NET_RX is left to ksoftirqd (raised from hardirq on RT, or __do_softirq gave up). */
  deferToKsoftirqd = false;
  /** __do_softirq restart bookkeeping for softirq on irq exit. */
  softirqRestarts = 0;
  softirqChainStartNs = 0;
  run: NetRxRun | null = null;
  /**
   * The NAPI poll in progress (see softirq.ts pollStep): a poll spans steps, split where the
   * kernel looks at its queue again (process_backlog's empty input queue check under the lock, a
   * driver's last look at its ring), so what arrives while it runs is seen as the kernel sees it.
   */
  polling: Napi | null = null;
  pollWork = 0;
  pollQuota = 0;
  pollFresh = false;
  pollCtx: ExecContext = "softirq";
  /** The reused state of net_rx_action (see softirq.ts netRxAction). */
  readonly runState: NetRxRun = { budget: 0, timeLimitJiffies: 0, list: [], repoll: [], context: "softirq", task: null };
  pendingHotplug: ("offline" | "online")[] = [];

  // RPS IPI bookkeeping (IPI mode): targets enqueued to since the last flush; and, as a target,
  // which enqueuers owe this CPU an IPI because their enqueue scheduled our backlog.
  /** rps_ipi_list, as the enqueuer knows it: a flag per target plus their count. */
  readonly remoteSinceFlush: Uint8Array;
  remoteSinceFlushCount = 0;
  flushSeq = 0;
  readonly ipiOwed: Uint8Array;

  // RFS per-pair counters (see messages.ts rfs_heads).
  readonly rfsSent: Float64Array;
  readonly rfsPassedSeen: Float64Array;
  readonly rfsPassedFrom: Float64Array;
  readonly rfsPassedReported: Float64Array;
  rfsOn: boolean;

  /** Flow limiter history tables, one per enqueuing CPU (the kernel keeps it per enqueuer). */
  readonly flowLimit = new Map<number, { history: Uint16Array; head: number; buckets: Uint8Array }>();
  readonly flowLimitCpus: Uint8Array;
  /** The highest netdev_max_backlog this run has had, plus one: no backlog queue grows past it. */
  backlogBound: number;

  readonly timers = new Heap<Timer>((a, b) => a.at < b.at || (a.at === b.at && (a.prio < b.prio || (a.prio === b.prio && a.seq < b.seq))));
  private timerSeq = 0;
  readonly inbound: Inbox;
  readonly outbox = new Map<number, PeerBatch>();
  /** Commands scheduled and not yet applied (for promiseNs: they can make this CPU send). */
  readonly pendingCommandTimes = new PendingTimes();
  readonly maxLatencyMin: number;
  readonly c: CpuCounters;
  /** Highest sequence processed here per flow (index: source * flowsPerSource + flow), -1 = none. */
  readonly reorderMax: Int32Array;
  readonly flowsPerSource: number;
  warnLog: ((line: string) => void) | null = null;

  /** This CPU's copy of the configuration: commands change sysctls, RPS maps and IRQ affinity in it. */
  readonly cfg: EmuConfig;
  /** rate/hot_flow commands for sources this CPU did not own when they came (see source-commands.ts). */
  missedSourceCommands: SourceCommand[] = [];
  /** The flushes whose NET_RX run was paid for by the charges landing at chargedAtNs. */
  readonly chargedFlushes = new Set<number>();
  chargedAtNs = -1;
  /** The same, counted (c.net_rx_ipi_flushes) also while offline: the flushes landed at landedFlushesAtNs. */
  readonly landedFlushes = new Set<number>();
  landedFlushesAtNs = -1;
  /**
   * As a target: per enqueuer, the raised flushes recorded here (ipiFlushArrived) whose charge
   * lands at the enqueuer at or after landsAt — not counted there yet. Older ones are dropped, so
   * each list holds the flushes of the last charge_latency_ns or window at most.
   */
  readonly unlandedFlushes: { id: number[]; landsAt: number[] }[];
  /** Peers' records taken after the clock had passed them (counters' late_records). */
  lateRecords = 0;
  /** IPIs to this CPU arrive this much later until ipiDelayUntilNs (the ipi_delay fault). */
  ipiDelayNs = 0;
  ipiDelayUntilNs = 0;

  /** The receiving task's socket, on the task's CPU (model/receiver.ts); null elsewhere or without one. */
  readonly socket: Socket | null = null;
  /** This CPU processes packets for a socket on another CPU: it sends socket records (lookahead.ts). */
  readonly remoteSocket: boolean = false;

  /** This CPU's stall schedule (model/stall.ts), when it stalls; the start and length of the one due. */
  stalls: StallSchedule | null = null;
  nextStallNs = Infinity;
  stallLenNs = 0;
  stallId = 0;
  /** The host's scheduler as this CPU plays it (model/host.ts), when the vCPUs share a host. */
  readonly host: HostShare | null = null;
  /** Work charged in the current host slice, stalled time at its start; when the next word to peers is due (its HOST record). */
  hostBusyNs = 0;
  hostStalledMark = 0;
  nextHostWordNs = Infinity;
  /** Which CPUs deliver to the socket (model/socket-contention.ts); null until known or after a change. */
  socketDeliverers: { mask: Uint8Array; n: number } | null = null;

  /** Virtual time of the last mask change applied here, and the longest irq_off section announced. */
  lastMaskChangeNs = -Infinity;
  maxIrqOffNs = 0;
  /** Virtual time of the last offline command for this CPU applied here (see lookahead.ts). */
  maskOfflineNs = -Infinity;
  /** Last mask change with this CPU in a hotplug role before or after it (see lookahead.ts hotplugRole). */
  lastRoleChangeNs = -Infinity;
  hadHotplugRole = true;
  /** The same for forwardTarget (lowest online while a CPU is offline). */
  lastForwardTargetNs = -Infinity;
  wasForwardTarget = false;
  /**
   * Per peer: offline transitions it will run (its offline command cleared its bit) whose
   * dev_cpu_dead record has not been applied here yet. A busy CPU goes down after its
   * net_rx_action, at a time no bound predicts; the record (sent to every peer, empty but for the
   * survivor) marks that it has (see lookahead.ts).
   */
  readonly downsAwaited: Int32Array;
  downsAwaitedTotal = 0;
  /** Peers whose process died (the distributed engine): they hand nothing over any more. */
  readonly crashedPeers: Uint8Array;
  /** The outbox holds a batch to this CPU itself (see batchTo). */
  batchToSelf = false;

  constructor(
    readonly id: number,
    config: EmuConfig,
  ) {
    const cfg = (this.cfg = structuredClone(config));
    const n = cfg.cpus;
    this.costs = cfg.costs;
    this.windowNs = cfg.window_ns;
    this.threadsMode = cfg.profile.backlog_threads;
    this.sd = new SoftnetData(cfg.sysctls.dev_weight * cfg.sysctls.dev_weight_rx_bias);
    if (this.threadsMode) this.sd.backlog.state |= NAPI_STATE_THREADED; // backlog_napi_setup()
    this.onlineMask = new Uint8Array(n).fill(1);
    this.downsAwaited = new Int32Array(n);
    this.crashedPeers = new Uint8Array(n);
    this.ipiOwed = new Uint8Array(n);
    this.remoteSinceFlush = new Uint8Array(n);
    this.rfsSent = new Float64Array(n);
    this.rfsPassedSeen = new Float64Array(n);
    this.rfsPassedFrom = new Float64Array(n);
    this.rfsPassedReported = new Float64Array(n);
    this.unlandedFlushes = Array.from({ length: n }, () => ({ id: [], landsAt: [] }));
    this.flowLimitCpus = new Uint8Array(n);
    for (const c of cfg.sysctls.flow_limit_cpu_bitmap) if (c < n) this.flowLimitCpus[c] = 1;
    this.rfsOn = cfg.sysctls.rps_sock_flow_entries > 0;
    this.backlogBound = cfg.sysctls.netdev_max_backlog + 1;
    this.inbound = new Inbox(n, cfg.costs, cfg.window_ns, cfg.host ? HostShare.latencyNs(cfg.host) : 0);
    this.maxLatencyMin = exactWindowNs(cfg.costs);
    this.c = newCounters(id, n, cfg.queues.length);
    this.packetSizes = new PacketSizes(cfg);
    this.flowsPerSource = Math.max(1, ...cfg.load.map((p) => p.flows));
    this.reorderMax = new Int32Array(sourceCount(cfg) * this.flowsPerSource).fill(-1);
    if (cfg.receiver) {
      if (cfg.receiver.cpu === id) this.socket = new Socket();
      else this.remoteSocket = true;
    }
    if (cfg.host) this.host = new HostShare(cfg.host, cfg.seed, n, id);
  }

  jiffies(atNs: number): number {
    return Math.floor((atNs * this.cfg.hz) / 1e9);
  }

  /** The CPU is busy for `ns` more in `ctx`, from the end of what it was doing. */
  charge(ctx: ExecContext, ns: number): void {
    this.busyUntil = Math.max(this.busyUntil, this.now) + ns;
    this.c.busy_ns[ctx] += ns;
    this.hostBusyNs += ns;
    // A stall that starts inside this work lengthens it (and net_rx_action's look at the clock after it).
    if (this.busyUntil > this.nextStallNs) this.stallInside();
  }

  /** __raise_softirq_irqoff(NET_RX_SOFTIRQ), counted by where it came from. */
  raiseNetRx(source: RaiseSource): void {
    this.softirqPending = true;
    this.c.softirq_raises[source]++;
  }

  /**
   * The batch to `to`, created on first use. A batch to this CPU itself (a hand-over decided from a
   * mask in which it is online again) is delivered at the end of the step that filled it (cpu.ts):
   * its records may take effect before the clock the CPU is advancing to.
   */
  batchTo(to: number): PeerBatch {
    let b = this.outbox.get(to);
    if (!b) this.outbox.set(to, (b = emptyBatch(this.id, to)));
    if (to === this.id) this.batchToSelf = true;
    return b;
  }

  drop(reason: DropReason): void {
    this.c.drops_by_reason[reason]++;
  }

  /** Packets moved into batches (conservation: in_flight = Σ out − Σ in). */
  countOut(n: number): void {
    this.c.packets_out += n;
  }

  flowLimited(enqueuer: number): boolean {
    return this.flowLimitCpus[enqueuer] === 1;
  }

  /** Copying one packet's payload (whole nanoseconds). */
  copyCostNs(source: number, injectNs: number): number {
    return Math.round((this.packetSizes.bytes(source, injectNs) * this.costs.copy_per_byte_ps) / 1000);
  }

  /** wake_up_process(): false when the task was already running. */
  wakeTask(t: Task, atNs: number): boolean {
    if (t.state === "parked" || t.state === "running") return false;
    t.state = "running";
    if (atNs <= this.now) this.enqueueTask(t);
    else this.pushTimer({ at: atNs, prio: 1, seq: 0, kind: "wake", task: t });
    return true;
  }

  /** wakeup_softirqd() */
  wakeKsoftirqd(): void {
    this.deferToKsoftirqd = true;
    if (this.wakeTask(this.ksoftirqd, this.now)) this.c.ksoftirqd_wakeups++;
  }

  enqueueTask(t: Task): void {
    if (!t.onRq && t.state === "running") {
      t.onRq = true;
      this.runqueue.push(t);
    }
  }

  /** The first of the RT kernel's do_softirq_post_smp_call_flush warnings is logged, all counted. */
  warnPostSmpCallFlush(): void {
    this.c.rt_flush_warnings++;
    if (this.c.rt_flush_warnings === 1 && this.warnLog)
      this.warnLog(
        `WARNING: CPU: ${this.id} PID: 0 at kernel/softirq.c:316 do_softirq_post_smp_call_flush+0x2f/0x40 ` +
          `(vt ${this.now} ns) Call Trace: flush_smp_call_function_queue <- do_idle <- cpu_startup_entry`,
      );
  }

  /** A sender's wake-up when its next packet is due, not before fromNs. */
  scheduleSenderWake(t: Task, fromNs: number): void {
    const s = this.sources.get(t.source);
    if (!s) return;
    const due = s.gen.peekNs();
    if (due === Infinity) return;
    this.pushTimer({ at: Math.max(due, fromNs), prio: 1, seq: 0, kind: "sender", task: t });
  }

  pushTimer(t: Timer): void {
    t.seq = this.timerSeq++;
    this.timers.push(t);
  }

  /** A stall may land inside net_rx_action (a host's vCPU is preempted anywhere). */
  get stallInSoftirq(): boolean {
    return this.cfg.stalls?.in_softirq ?? true;
  }

  /** The next stall after fromNs, unless it would start after the run. The host's are decided per slice (cpu.ts). */
  scheduleStall(fromNs: number): void {
    // The stall just taken is done: its timer, if still pending (stallInside took it first), is stale.
    this.stallId++;
    if (!this.stalls) {
      this.nextStallNs = Infinity;
      return;
    }
    const at = this.stalls.nextStartNs(fromNs);
    this.stallLenNs = this.stalls.lengthNs();
    this.nextStallNs = at < this.cfg.duration_ns ? at : Infinity;
    if (this.nextStallNs !== Infinity) this.pushTimer({ at, prio: 1, seq: 0, kind: "stall", stallId: this.stallId });
  }

  /**
   * The stall due starts inside the work just charged: the work ends that much later. The kernel
   * looks at jiffies after each NAPI poll, so a stall inside one counts in net_rx_action's 2-jiffy
   * limit. With in_softirq false it waits for the end of net_rx_action (cpu.ts stall()).
   */
  private stallInside(): void {
    if (this.run !== null && !this.stallInSoftirq) return;
    const at = this.nextStallNs;
    const len = this.stallLenNs;
    this.busyUntil += len;
    this.c.busy_ns.stalled += len;
    this.scheduleStall(at + len);
  }
}
