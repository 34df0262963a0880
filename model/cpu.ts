// One emulated CPU: its softnet_data, its sources, its tasks and a small scheduler that runs
// hardirq, softirq and task work in virtual time. The same object runs in the in-process engine
// and inside a cpu-node process; only the carrier of PeerBatches differs.
//
// Execution model. Work runs in atomic steps (a hardirq, one NAPI poll, one task slice); a step's
// effects happen at its start and it keeps the CPU busy for its cost. What other agents do to this
// CPU's state — a remote enqueue under our queue lock, a NIC DMA into the ring — happens at its own
// time, also while a step runs. At a step boundary the next work is chosen in kernel order:
// hotplug, hardirqs, the rest of a running net_rx_action, pending softirqs, then tasks (FIFO).
// Ties at equal virtual times: events before steps; events by (time, kind, sender, sequence).
import type { CostModel, EmuConfig } from "./config.ts";
import { exactWindowNs } from "./defaults.ts";
import { Heap } from "./heap.ts";
import { RECORD_KIND, deliverAt, emptyBatch, type CpuCommand, type PeerBatch } from "./messages.ts";
import { forwardTarget, hotplugRole, promiseNs } from "./lookahead.ts";
import { NAPI_STATE_SCHED, NAPI_STATE_THREADED, type Napi } from "./napi.ts";
import { LATENCY_BUCKETS_NS, copyCounters, type CpuCounters, type DropReason, type ExecContext, type RaiseSource } from "./results.ts";
import { SoftnetData } from "./softnet-data.ts";
import { PacketSizes, newSource, sourceCount, sourceOwner, type SourceState } from "./sources.ts";
import { PacketQueue } from "./packet-queue.ts";
import { PendingTimes } from "./pending-times.ts";
import { FLOWS_PER_SOURCE } from "./load.ts";
import { chargeArrived, enqueueFromRemote, forward, forwardAll, ipiFlushArrived, nicFillRing, reinjectStep, senderStep } from "./receive.ts";
import { backlogThreadStep, netRxAction, hardirq, ksoftirqdStep, napiScheduleDevice, netRxActionPoll } from "./softirq.ts";
import { cpuDeadArrived, cpuOffline, cpuOnline, queueHandoverArrived, rehomeSources } from "./hotplug.ts";
import { StallSchedule, stallsOn } from "./stall.ts";
import { receiverStep, Socket, socketDeliver, socketEnqueue } from "./receiver.ts";
import { SOCKET_RECORD_KIND } from "./messages.ts";

export type TaskKind = "ksoftirqd" | "backlog_napi" | "sender" | "receiver";

export interface Task {
  kind: TaskKind;
  /** Source index for senders, -1 otherwise. */
  source: number;
  /** TASK_RUNNING (woken or on the run queue) vs TASK_INTERRUPTIBLE (asleep); parked when offline. */
  state: "running" | "interruptible" | "parked";
  onRq: boolean;
}

interface Timer {
  at: number;
  prio: number;
  seq: number;
  kind: "command" | "wake" | "sender" | "ipi" | "stall";
  command?: CpuCommand;
  task?: Task;
  /** Which stall (a timer of a stall stallInside() took is stale). */
  stallId?: number;
}

/** A cursor over one kind of record in one delivered batch. */
export interface Cursor {
  at: number;
  kind: number;
  from: number;
  batchSeq: number;
  idx: number;
  len: number;
  batch: PeerBatch;
}

const { CPU_DEAD: K_CPU_DEAD, QUEUE: K_QUEUE, FORWARD: K_FORWARD, ENQUEUE: K_ENQUEUE, FLUSH: K_FLUSH, RFS: K_RFS, CHARGE: K_CHARGE } = RECORD_KIND;

/** The run of net_rx_action in progress: it spans several poll steps (see ts). */
export interface NetRxRun {
  budget: number;
  timeLimitJiffies: number;
  list: import("./napi.ts").Napi[];
  repoll: import("./napi.ts").Napi[];
  context: ExecContext;
  /** The task whose context runs it (ksoftirqd), or null for softirq on irq exit / bh enable. */
  task: Task | null;
}

export class Cpu {
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
  readonly ipiOwedRaised: Int32Array;

  // RFS per-pair counters (see messages.ts rfs_heads).
  readonly rfsSent: Float64Array;
  readonly rfsPassedSeen: Float64Array;
  readonly rfsPassedFrom: Float64Array;
  readonly rfsPassedReported: Float64Array;
  rfsOn: boolean;

  /** Flow limiter history tables, one per enqueuing CPU (the kernel keeps it per enqueuer). */
  readonly flowLimit = new Map<number, { history: Uint16Array; head: number; buckets: Uint8Array }>();
  readonly flowLimitCpus: Uint8Array;

  private readonly timers = new Heap<Timer>((a, b) => a.at < b.at || (a.at === b.at && (a.prio < b.prio || (a.prio === b.prio && a.seq < b.seq))));
  private timerSeq = 0;
  readonly inbound = new Heap<Cursor>(
    (a, b) =>
      a.at < b.at ||
      (a.at === b.at &&
        (a.kind < b.kind || (a.kind === b.kind && (a.from < b.from || (a.from === b.from && (a.batchSeq < b.batchSeq || (a.batchSeq === b.batchSeq && a.idx < b.idx)))))))
  );
  private readonly batchSeqFrom: Int32Array;
  private readonly outbox = new Map<number, PeerBatch>();
  /** Commands scheduled and not yet applied (for promiseNs: they can make this CPU send). */
  readonly pendingCommandTimes = new PendingTimes();
  readonly maxLatencyMin: number;
  readonly c: CpuCounters;
  /** Highest sequence processed here per flow (index: source * flowsPerSource + flow), -1 = none. */
  private readonly reorderMax: Int32Array;
  private readonly flowsPerSource: number;
  warnLog: ((line: string) => void) | null = null;

  /** This CPU's copy of the configuration: commands change sysctls, RPS maps and IRQ affinity in it. */
  readonly cfg: EmuConfig;
  /** rate/hot_flow commands for sources this CPU did not own when they came (see applyCommand). */
  private missedSourceCommands: Extract<CpuCommand, { kind: "rate" | "hot_flow" }>[] = [];
  /** The flushes whose NET_RX run was paid for by the charges landing at chargedAtNs. */
  readonly chargedFlushes = new Set<number>();
  chargedAtNs = -1;
  /** IPIs to this CPU arrive this much later until ipiDelayUntilNs (the ipi_delay fault). */
  ipiDelayNs = 0;
  ipiDelayUntilNs = 0;

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
    this.ipiOwed = new Uint8Array(n);
    this.remoteSinceFlush = new Uint8Array(n);
    this.ipiOwedRaised = new Int32Array(n).fill(-1);
    this.rfsSent = new Float64Array(n);
    this.rfsPassedSeen = new Float64Array(n);
    this.rfsPassedFrom = new Float64Array(n);
    this.rfsPassedReported = new Float64Array(n);
    this.flowLimitCpus = new Uint8Array(n);
    for (const c of cfg.sysctls.flow_limit_cpu_bitmap) if (c < n) this.flowLimitCpus[c] = 1;
    this.rfsOn = cfg.sysctls.rps_sock_flow_entries > 0;
    this.batchSeqFrom = new Int32Array(n);
    this.maxLatencyMin = exactWindowNs(cfg.costs);
    this.c = newCounters(id, n, cfg.queues.length);
    this.packetSizes = new PacketSizes(cfg);
    this.flowsPerSource = Math.max(1, ...cfg.load.map((p) => p.flows));
    this.reorderMax = new Int32Array(sourceCount(cfg) * this.flowsPerSource).fill(-1);
    for (let s = 0; s < sourceCount(cfg); s++) if (sourceOwner(cfg, s, this.onlineMask) === id) this.adoptSource(newSource(cfg, s), false, 0);
    for (const ev of cfg.events) this.command({ kind: ev.action, cpu: ev.cpu, at_ns: ev.at_ns });
    this.hadHotplugRole = hotplugRole(this);
    this.wasForwardTarget = forwardTarget(this);
    if (cfg.receiver) {
      if (cfg.receiver.cpu === id) this.socket = new Socket();
      else this.remoteSocket = true;
    }
    if (cfg.stalls) {
      // A stall delays hand-overs like an irq_off section does (lookahead.ts settleNs), on any CPU.
      this.maxIrqOffNs = Math.max(this.maxIrqOffNs, cfg.stalls.max_ns);
      if (stallsOn(cfg.stalls, id)) {
        this.stalls = new StallSchedule(cfg.stalls, cfg.seed, id);
        this.scheduleStall(0);
      }
    }
  }

  // ---------------------------------------------------------------- engine-facing API

  deliver(batch: PeerBatch): void {
    const seq = this.batchSeqFrom[batch.from]!++;
    const add = (kind: number, len: number) => {
      if (len > 0) this.inbound.push({ at: this.recordAt(batch, kind, 0), kind, from: batch.from, batchSeq: seq, idx: 0, len, batch });
    };
    add(K_CPU_DEAD, batch.cpu_dead.length);
    add(K_QUEUE, batch.queue_handovers.length);
    add(K_FORWARD, batch.forwarded.flow.length);
    add(K_ENQUEUE, batch.enqueues.flow.length);
    add(K_FLUSH, batch.flushes.at_ns.length);
    add(SOCKET_RECORD_KIND, batch.socket.flow.length);
    add(K_RFS, batch.rfs_heads.at_ns.length);
    add(K_CHARGE, batch.charges.at_ns.length);
  }

  command(cmd: CpuCommand): void {
    this.pushTimer({ at: cmd.at_ns, prio: 0, seq: 0, kind: "command", command: cmd });
    // Commands after which inputs can make this CPU send (see lookahead.ts).
    const changesLookahead =
      cmd.kind === "offline" || cmd.kind === "online" || cmd.kind === "irq_affinity" || (cmd.kind === "sysctl" && cmd.key === "rps_sock_flow_entries");
    if (changesLookahead) this.pendingCommandTimes.add(cmd.at_ns);
    if (cmd.kind === "irq_off") this.maxIrqOffNs = Math.max(this.maxIrqOffNs, cmd.duration_ns);
  }

  advance(untilNs: number): void {
    for (;;) {
      const tEvent = this.nextEventNs();
      const tStep = this.hasWork() ? Math.max(this.now, this.busyUntil) : Infinity;
      if (tEvent <= tStep) {
        if (tEvent >= untilNs) break;
        this.now = Math.max(this.now, tEvent);
        this.handleEvent(tEvent, untilNs);
      } else {
        if (tStep >= untilNs) break;
        this.now = tStep;
        this.step();
      }
    }
    if (untilNs > this.clock && untilNs !== Infinity) this.clock = untilNs;
  }

  takeOutbox(): PeerBatch[] {
    const out = [...this.outbox.values()];
    this.outbox.clear();
    return out;
  }

  /** See lookahead.ts: the conservative synchronisation's promise, "nothing from me before t". */
  promiseNs(inputBoundNs: number): number {
    return promiseNs(this, inputBoundNs);
  }

  /**
   * Counters now, as a copy. `withFlushIds` false leaves out the (growing) lists of flush ids that
   * only the end-of-run attribution needs, so checkpoints stay cheap.
   */
  counters(withFlushIds = true): CpuCounters {
    const sd = this.sd;
    const c = this.c;
    c.online = this.online;
    c.processed = sd.processed;
    c.dropped = sd.dropped;
    c.time_squeeze = sd.time_squeeze;
    c.received_rps = sd.received_rps;
    c.input_qlen = sd.input_pkt_queue.length;
    c.process_qlen = sd.process_queue.length;
    c.backlog_scheduled = (sd.backlog.state & NAPI_STATE_SCHED) !== 0;
    let ring = 0;
    for (const s of this.sources.values()) ring += s.ring.length;
    c.queued = sd.backlogLen + ring + this.reinject.length;
    c.now_ns = this.clock;
    if (this.socket) c.sock_queued = this.socket.queue.length;
    if (withFlushIds) return copyCounters(c);
    // Checkpoints: everything but the growing lists of flush ids, which only the end needs.
    const copy = copyCounters(c, false);
    copy.attributed.ipis_sent = [...c.attributed.ipis_sent];
    copy.attributed.flow_limit_count = [...c.attributed.flow_limit_count];
    copy.attributed.ipi_softirq_flushes = c.attributed.ipi_softirq_flushes.map(() => []);
    return copy;
  }

  // ---------------------------------------------------------------- helpers used by the kernel files

  jiffies(atNs: number): number {
    return Math.floor((atNs * this.cfg.hz) / 1e9);
  }

  charge(ctx: ExecContext, ns: number): void {
    this.busyUntil = Math.max(this.busyUntil, this.now) + ns;
    this.c.busy_ns[ctx] += ns;
    // A stall that starts inside this work lengthens it (and net_rx_action's look at the clock after it).
    if (this.busyUntil > this.nextStallNs) this.stallInside();
  }

  /** __raise_softirq_irqoff(NET_RX_SOFTIRQ), counted by where it came from. */
  raiseNetRx(source: RaiseSource): void {
    this.softirqPending = true;
    this.c.softirq_raises[source]++;
  }

  /** The batch to `to`, created on first use. */
  batchTo(to: number): PeerBatch {
    let b = this.outbox.get(to);
    if (!b) this.outbox.set(to, (b = emptyBatch(this.id, to)));
    return b;
  }

  drop(reason: DropReason): void {
    this.c.drops_by_reason[reason]++;
  }

  /** CPU time of __netif_receive_skb() and the stack up to the socket for one packet. */
  processCostNs(source: number, injectNs: number): number {
    // With a receiving task the payload is copied by its recvmsg(); here the skb is queued on its socket.
    const rcv = this.cfg.receiver;
    return this.costs.process_per_packet_ns + (rcv === undefined ? this.copyCostNs(source, injectNs) : rcv.enqueue_ns);
  }

  /** Copying one packet's payload (whole nanoseconds). */
  copyCostNs(source: number, injectNs: number): number {
    return Math.round((this.packetSizes.bytes(source, injectNs) * this.costs.copy_per_byte_ps) / 1000);
  }

  /** __netif_receive_skb(): the packet is consumed on this CPU at atNs. */
  deliverSkb(flow: number, seq: number, injectNs: number, atNs: number): void {
    this.sd.processed++;
    const lat = atNs - injectNs;
    const c = this.c;
    let b = 0;
    while (b < LATENCY_BUCKETS_NS.length && lat > LATENCY_BUCKETS_NS[b]!) b++;
    c.latency_buckets[b]!++;
    c.latency_sum_ns += lat;
    if (lat > c.latency_max_ns) c.latency_max_ns = lat;
    const source = Math.floor(flow / FLOWS_PER_SOURCE);
    const slot = source * this.flowsPerSource + (flow - source * FLOWS_PER_SOURCE);
    if (seq < this.reorderMax[slot]!) c.reordered++;
    else this.reorderMax[slot] = seq;
    if (this.cfg.receiver !== undefined) socketDeliver(this, flow, seq, source, injectNs, atNs);
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

  adoptSource(s: SourceState, napiScheduled: boolean, atNs: number): void {
    this.sources.set(s.index, s);
    this.nicSources = [...this.sources.values()].filter((x) => x.kind === "nic");
    if (s.kind === "sender") {
      const t: Task = { kind: "sender", source: s.index, state: "interruptible", onRq: false };
      this.senderTasks.set(s.index, t);
      this.scheduleSenderWake(t, atNs);
    } else if (napiScheduled) {
      s.napi.state |= NAPI_STATE_SCHED;
      napiScheduleDevice(this, s.napi);
    }
  }

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

  // ---------------------------------------------------------------- the loop

  private nextEventNs(): number {
    let t = Infinity;
    const tt = this.timers.peek();
    if (tt) t = tt.at;
    const ib = this.inbound.peek();
    if (ib && ib.at < t) t = ib.at;
    // A NIC whose IRQ is armed interrupts at its next arrival (or now, if the ring is not empty).
    const irq = this.nextNicIrqNs();
    return irq < t ? irq : t;
  }

  private hasWork(): boolean {
    return (
      this.pendingHotplug.length > 0 ||
      this.ipiPending > 0 ||
      this.nicIrqPending.length > 0 ||
      this.run !== null ||
      this.polling !== null ||
      this.reinject.length > 0 ||
      (this.softirqPending && !this.deferToKsoftirqd && this.online) ||
      this.runqueue.length > 0
    );
  }

  /** Work that finds the CPU idle starts once it has left its idle state. */
  private leaveIdle(wasIdle: boolean, at: number): void {
    if (wasIdle && this.hasWork()) this.busyUntil = at + this.costs.idle_exit_ns;
  }

  private isIdleAt(at: number): boolean {
    return this.online && this.busyUntil <= at && !this.hasWork();
  }

  private handleEvent(at: number, untilNs: number): void {
    const tt = this.timers.peek();
    const ib = this.inbound.peek();
    if (tt && tt.at === at && (!ib || ib.at > at || tt.prio === 0)) {
      const idle = this.isIdleAt(at);
      this.timers.pop();
      this.handleTimer(tt);
      this.leaveIdle(idle, at);
      return;
    }
    if (ib && ib.at === at) return this.handleRecords(ib, untilNs);
    const idle = this.isIdleAt(at);
    this.nicInterrupt(at);
    this.leaveIdle(idle, at);
  }

  /**
   * Apply the record under the cursor — and, while it is the only cursor and nothing else is due
   * first, the ones after it, without going back through the heaps (the per-packet hot path).
   */
  private handleRecords(ib: Cursor, untilNs: number): void {
    for (;;) {
      const at = ib.at;
      this.now = Math.max(this.now, at);
      const idle = this.isIdleAt(at);
      this.handleRecord(ib);
      this.leaveIdle(idle, at);
      if (++ib.idx >= ib.len) {
        this.inbound.pop();
        return;
      }
      ib.at = this.recordAt(ib.batch, ib.kind, ib.idx);
      if (!this.inbound.topStillFirst()) {
        this.inbound.updateTop();
        return;
      }
      // Stop where anything else is due first; a record may have armed a timer (a wake-up).
      const tStep = this.hasWork() ? Math.max(this.now, this.busyUntil) : Infinity;
      const tt = this.timers.peek();
      if (ib.at > tStep || ib.at >= untilNs || (tt !== undefined && ib.at >= tt.at) || ib.at >= this.nextNicIrqNs()) return;
    }
  }

  private nextNicIrqNs(): number {
    let t = Infinity;
    const nics = this.nicSources;
    for (let i = 0; i < nics.length; i++) {
      const s = nics[i]!;
      if (s.napi.state & NAPI_STATE_SCHED) continue;
      const at = this.irqAt(s);
      if (at < t) t = at;
    }
    return t;
  }

  /** A NIC IRQ: packets reached an armed queue. */
  private nicInterrupt(at: number): void {
    for (const s of this.nicSources) {
      if (s.napi.state & NAPI_STATE_SCHED) continue;
      if (this.irqAt(s) === at) {
        nicFillRing(this, s, at);
        // rx-frames: an arrival before the count is reached (and before rx-usecs ran out) only counts.
        if (s.coalesceFrames > 0 && s.ring.length < s.coalesceFrames && s.ring.length > 0 && at < s.ring.peekInject() + s.coalesceNs) return;
        s.napi.state |= NAPI_STATE_SCHED; // the IRQ is masked until the NAPI completes (napi_schedule in the handler)
        this.nicIrqPending.push(s.index);
        return;
      }
    }
  }

  /**
   * When an armed queue interrupts: its first waiting packet's arrival plus rx-usecs, or the
   * arrival that makes rx-frames packets. With a frame count each arrival before the IRQ is an
   * event (nicInterrupt counts it); without one arrivals are only DMA'd when the ring is read.
   */
  private irqAt(s: SourceState): number {
    const next = s.gen.peekNs();
    const first = s.ring.length > 0 ? s.ring.peekInject() : next;
    let t = first + s.coalesceNs;
    if (s.coalesceFrames > 0) {
      if (s.ring.length >= s.coalesceFrames) t = this.now;
      else if (next < t) t = next;
    }
    return Math.max(this.now, t);
  }

  private handleTimer(t: Timer): void {
    if (t.kind === "ipi") {
      if (this.online) this.ipiPending++;
    } else if (t.kind === "wake") {
      if (t.task && t.task.state === "running") this.enqueueTask(t.task);
    } else if (t.kind === "sender") {
      const task = t.task!;
      if (this.senderTasks.get(task.source) === task && task.state === "interruptible") {
        task.state = "running";
        this.enqueueTask(task);
      }
    } else if (t.kind === "stall") {
      if (t.stallId === this.stallId) this.stall(t.at);
    } else if (t.command) {
      this.applyCommand(t.command);
    }
  }

  private applyCommand(cmd: CpuCommand): void {
    switch (cmd.kind) {
      case "rate":
      case "hot_flow": {
        const s = this.sources.get(cmd.source);
        if (s) return this.applySourceCommand(s, cmd);
        // Not ours — or in a hand-over to us: queueHandoverArrived() replays it then.
        const keepNs = this.now - Math.max(this.costs.hotplug_latency_ns, this.windowNs) - 1;
        this.missedSourceCommands = this.missedSourceCommands.filter((c) => c.at_ns >= keepNs);
        this.missedSourceCommands.push(cmd);
        return;
      }
      case "sysctl":
        this.cfg.sysctls[cmd.key] = cmd.value;
        if (cmd.key === "rps_sock_flow_entries") {
          this.rfsOn = cmd.value > 0;
          this.dropPendingCommand(cmd.at_ns);
        }
        return;
      case "rps": {
        const nq = this.cfg.queues.length;
        if (cmd.source < nq) this.cfg.queues[cmd.source]!.rps_cpus = [...cmd.cpus];
        else if (this.cfg.senders[cmd.source - nq]) this.cfg.senders[cmd.source - nq]!.rps_cpus = [...cmd.cpus];
        return;
      }
      case "irq_affinity":
        if (this.cfg.queues[cmd.queue]) this.cfg.queues[cmd.queue]!.irq_affinity = [...cmd.cpus];
        this.rehomeNeeded = true;
        this.dropPendingCommand(cmd.at_ns);
        this.roleMayChange(cmd.at_ns);
        if (this.online) rehomeSources(this);
        return;
      case "irq_off":
        if (cmd.cpu === this.id && this.online) {
          // local_irq_disable() + local_bh_disable() around a long section: nothing else runs.
          const start = Math.max(this.now, this.busyUntil);
          this.busyUntil = start + cmd.duration_ns;
          this.c.busy_ns.irqs_off += cmd.duration_ns;
        }
        return;
      case "ipi_delay":
        if (cmd.cpu === this.id) {
          this.ipiDelayNs = cmd.extra_ns;
          this.ipiDelayUntilNs = cmd.until_ns;
        }
        return;
      case "offline":
      case "online":
        break;
    }
    this.dropPendingCommand(cmd.at_ns);
    this.onlineMask[cmd.cpu] = cmd.kind === "online" ? 1 : 0;
    this.rehomeNeeded = true;
    this.roleMayChange(cmd.at_ns);
    if (cmd.cpu === this.id) {
      if (cmd.kind === "offline") this.maskOfflineNs = cmd.at_ns;
      // Judge by the state once the pending transitions have run: a busy CPU may not have gone
      // down yet when its online command comes (then it goes down and comes back, in order).
      const last = this.pendingHotplug[this.pendingHotplug.length - 1];
      const willBeOnline = last === undefined ? this.online : last === "online";
      if (cmd.kind === "offline" && willBeOnline) this.pendingHotplug.push("offline");
      if (cmd.kind === "online" && !willBeOnline) this.pendingHotplug.push("online");
    }
    if (this.online) rehomeSources(this);
  }

  /** A rate or hot_flow command for a source this CPU owns (or adopts from a hand-over). */
  applySourceCommand(s: SourceState, cmd: Extract<CpuCommand, { kind: "rate" | "hot_flow" }>): void {
    // Replayed after a hand-over: the old owner may have applied it just before handing over.
    if (cmd.kind === "rate" && s.gen.hasRate(cmd.pps, cmd.at_ns)) return;
    if (s.kind === "nic") nicFillRing(this, s, cmd.at_ns);
    if (cmd.kind === "rate") s.gen.setRate(cmd.pps, cmd.at_ns);
    else s.gen.hotShare = cmd.share;
    const task = this.senderTasks.get(cmd.source);
    if (task && task.state === "interruptible") this.scheduleSenderWake(task, cmd.at_ns);
  }

  /** Apply the rate/hot_flow commands that came while `s` travelled to us (sent at handoverNs). */
  replayMissedSourceCommands(s: SourceState, handoverNs: number): void {
    for (const cmd of this.missedSourceCommands) if (cmd.source === s.index && cmd.at_ns >= handoverNs) this.applySourceCommand(s, cmd);
  }

  /** A mask change (hotplug, IRQ affinity) took effect: hand-overs and forwards may follow. */
  private dropPendingCommand(atNs: number): void {
    this.lastMaskChangeNs = Math.max(this.lastMaskChangeNs, atNs);
    this.pendingCommandTimes.remove(atNs);
  }

  private handleRecord(cur: Cursor): void {
    const b = cur.batch;
    const i = cur.idx;
    switch (cur.kind) {
      case K_ENQUEUE: {
        const e = b.enqueues;
        this.c.packets_in++;
        enqueueFromRemote(this, b.from, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!, e.send_ns[i]!);
        break;
      }
      case K_FORWARD: {
        const e = b.forwarded;
        this.c.packets_in++;
        if (!this.online) forward(this, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!);
        else this.reinject.push(e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!);
        break;
      }
      case K_FLUSH:
        ipiFlushArrived(this, b.from, b.flushes.flush_id[i]!, b.flushes.raised_softirq[i]! === 1);
        break;
      case K_QUEUE:
        queueHandoverArrived(this, b.queue_handovers[i]!);
        break;
      case K_CPU_DEAD:
        cpuDeadArrived(this, b.cpu_dead[i]!);
        break;
      case SOCKET_RECORD_KIND: {
        const e = b.socket;
        socketEnqueue(this, b.from, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!, e.send_ns[i]!);
        break;
      }
      case K_RFS:
        this.rfsPassedSeen[b.from] = Math.max(this.rfsPassedSeen[b.from]!, b.rfs_heads.passed[i]!);
        break;
      case K_CHARGE:
        chargeArrived(this, cur.at, b.charges.kind[i]!, b.charges.flush_id[i]!);
        break;
    }
  }

  private recordAt(b: PeerBatch, kind: number, i: number): number {
    const L = this.costs;
    const w = this.windowNs;
    switch (kind) {
      case K_ENQUEUE:
        return deliverAt(b.enqueues.send_ns[i]!, L.rps_latency_ns, w);
      case SOCKET_RECORD_KIND:
        return deliverAt(b.socket.send_ns[i]!, L.rps_latency_ns, w);
      case K_FORWARD:
        return deliverAt(b.forwarded.send_ns[i]!, L.rps_latency_ns, w);
      case K_FLUSH:
        return deliverAt(b.flushes.at_ns[i]!, L.ipi_latency_ns, w);
      case K_QUEUE:
        return deliverAt(b.queue_handovers[i]!.at_ns, L.hotplug_latency_ns, w);
      case K_CPU_DEAD:
        return deliverAt(b.cpu_dead[i]!.at_ns, L.hotplug_latency_ns, w);
      case K_CHARGE:
        return deliverAt(b.charges.at_ns[i]!, L.charge_latency_ns, w);
      default:
        return deliverAt(b.rfs_heads.at_ns[i]!, L.rps_latency_ns, w);
    }
  }

  /** Run one atomic piece of work at this.now. */
  private step(): void {
    if (this.pendingHotplug.length > 0 && this.run === null && this.polling === null) {
      const what = this.pendingHotplug.shift()!;
      if (what === "offline") cpuOffline(this);
      else cpuOnline(this);
      return;
    }
    if (!this.online) {
      // An offline CPU runs nothing; what reaches it is forwarded or ignored.
      this.ipiPending = 0;
      this.nicIrqPending.length = 0;
      this.runqueue.length = 0;
      this.softirqPending = false;
      this.run = null;
      this.polling = null;
      if (this.reinject.length > 0) forwardAll(this, this.reinject);
      return;
    }
    if (this.ipiPending > 0 || this.nicIrqPending.length > 0) return hardirq(this);
    // A poll in progress goes on before anything but hardirqs (bh stays disabled across it).
    if (this.polling !== null) return this.run ? netRxActionPoll(this) : this.runTask(this.backlogThread);
    if (this.reinject.length > 0) return reinjectStep(this);
    if (this.run) return netRxActionPoll(this);
    if (this.softirqPending && !this.deferToKsoftirqd) return netRxAction(this, "softirq", null);
    const task = this.runqueue.shift();
    if (task) {
      task.onRq = false;
      return this.runTask(task);
    }
  }

  private runTask(task: Task): void {
    if (this.lastTask !== task) this.charge("task", this.costs.context_switch_ns);
    this.lastTask = task;
    switch (task.kind) {
      case "sender":
        return senderStep(this, task);
      case "backlog_napi":
        return backlogThreadStep(this, task);
      case "receiver":
        return receiverStep(this, task);
      case "ksoftirqd":
        return ksoftirqdStep(this, task);
    }
  }

  /** The receiving task's socket, on the task's CPU (model/receiver.ts); null elsewhere or without one. */
  readonly socket: Socket | null = null;
  /** This CPU processes packets for a socket on another CPU: it sends socket records (lookahead.ts). */
  readonly remoteSocket: boolean = false;

  /** This CPU's stall schedule (model/stall.ts), when it stalls; the start and length of the one due. */
  private stalls: StallSchedule | null = null;
  private nextStallNs = Infinity;
  private stallLenNs = 0;
  private stallId = 0;

  /** The next stall after fromNs, unless it would start after the run. */
  private scheduleStall(fromNs: number): void {
    const at = this.stalls!.nextStartNs(fromNs);
    this.stallLenNs = this.stalls!.lengthNs();
    this.nextStallNs = at < this.cfg.duration_ns ? at : Infinity;
    this.stallId++;
    if (this.nextStallNs !== Infinity) this.pushTimer({ at, prio: 1, seq: 0, kind: "stall", stallId: this.stallId });
  }

  /**
   * The stall due starts inside the work just charged: the work ends that much later. The kernel
   * looks at jiffies after each NAPI poll, so a stall inside one counts in net_rx_action's 2-jiffy
   * limit. With in_softirq false it waits for the end of net_rx_action (stall()).
   */
  private stallInside(): void {
    if (this.run !== null && !this.cfg.stalls!.in_softirq) return;
    const at = this.nextStallNs;
    const len = this.stallLenNs;
    this.busyUntil += len;
    this.c.busy_ns.stalled += len;
    this.scheduleStall(at + len);
  }

  /**
   * The stall's timer (unless stallInside() took that stall already): the CPU loses the processor.
   * Nothing runs here for its length, from the end of the step in progress (steps that charge
   * nothing); with in_softirq false, a stall that finds net_rx_action running waits for its end.
   */
  private stall(at: number): void {
    if (this.online && this.run !== null && !this.cfg.stalls!.in_softirq) {
      // After the step in progress: look again then (a timer at busyUntil would come before it).
      this.pushTimer({ at: Math.max(this.busyUntil, at) + 1, prio: 1, seq: 0, kind: "stall", stallId: this.stallId });
      return;
    }
    const len = this.stallLenNs;
    const start = Math.max(this.now, this.busyUntil);
    if (this.online) {
      this.busyUntil = start + len;
      this.c.busy_ns.stalled += len;
    }
    this.scheduleStall(start + len);
  }

  /** Virtual time of the last mask change applied here, and the longest irq_off section announced. */
  lastMaskChangeNs = -Infinity;
  maxIrqOffNs = 0;
  /** Virtual time of the last offline command for this CPU applied here (see lookahead.ts). */
  maskOfflineNs = -Infinity;
  /** Last mask change with this CPU in a hotplug role before or after it (see lookahead.ts hotplugRole). */
  lastRoleChangeNs = -Infinity;
  private hadHotplugRole = true;
  /** The same for forwardTarget (lowest online while a CPU is offline). */
  lastForwardTargetNs = -Infinity;
  private wasForwardTarget = false;

  /** After a change of the online mask or an IRQ affinity. */
  private roleMayChange(atNs: number): void {
    const role = hotplugRole(this);
    if (role || this.hadHotplugRole) this.lastRoleChangeNs = Math.max(this.lastRoleChangeNs, atNs);
    this.hadHotplugRole = role;
    const target = forwardTarget(this);
    if (target || this.wasForwardTarget) this.lastForwardTargetNs = Math.max(this.lastForwardTargetNs, atNs);
    this.wasForwardTarget = target;
  }

  /** Packets moved into batches (conservation: in_flight = Σ out − Σ in). */
  countOut(n: number): void {
    this.c.packets_out += n;
  }


  flowLimited(enqueuer: number): boolean {
    return this.flowLimitCpus[enqueuer] === 1;
  }

}

/** A CPU's counters before anything happened: n CPUs in the run, `queues` NIC queues. */
export function newCounters(cpu: number, n: number, queues: number): CpuCounters {
  return {
    cpu,
    online: true,
    processed: 0,
    dropped: 0,
    time_squeeze: 0,
    received_rps: 0,
    flow_limit_count: 0,
    input_qlen: 0,
    process_qlen: 0,
    backlog_scheduled: false,
    ipis_sent: 0,
    net_rx_softirqs: 0,
    irq_call_count: 0,
    nic_irqs: new Array<number>(queues).fill(0),
    thread_wakeups: 0,
    lost_wakeups: 0,
    ksoftirqd_wakeups: 0,
    rt_flush_warnings: 0,
    softirq_raises: { nic_irq: 0, rps_ipi: 0, local_enqueue: 0, repoll: 0, hotplug: 0 },
    busy_ns: { hardirq: 0, softirq: 0, task: 0, idle_flush: 0, irqs_off: 0, stalled: 0 },
    drops_by_reason: { rx_ring_full: 0, cpu_backlog: 0, flow_limit: 0 },
    injected: 0,
    queued: 0,
    reordered: 0,
    latency_buckets: new Array<number>(LATENCY_BUCKETS_NS.length + 1).fill(0),
    latency_sum_ns: 0,
    latency_max_ns: 0,
    hotplug_offline: 0,
    hotplug_online: 0,
    now_ns: 0,
    sock_delivered: 0,
    sock_in: 0,
    sock_consumed: 0,
    rcvbuf_errors: 0,
    sock_queued: 0,
    sock_wakeups: 0,
    sock_wakeup_ipis: 0,
    packets_out: 0,
    packets_in: 0,
    attributed: {
      ipis_sent: new Array<number>(n).fill(0),
      flow_limit_count: new Array<number>(n).fill(0),
      ipi_softirq_flushes: Array.from({ length: n }, () => []),
    },
  };
}
