// One emulated CPU's step loop (docs/DESIGN.md §2.1, §2.2): the class both engines drive — the
// in-process engine and a cpu-node process; only the carrier of PeerBatches differs. Its state is
// CpuState (cpu-state.ts); the kernel functions it calls are in receive.ts, softirq.ts,
// hotplug.ts and receiver.ts; commands.ts applies commands, records.ts records from peers.
//
// Execution model. Work runs in atomic steps (a hardirq, one NAPI poll, one task slice); a step's
// effects happen at its start and it keeps the CPU busy for its cost. What other agents do to this
// CPU's state — a remote enqueue under our queue lock, a NIC DMA into the ring — happens at its own
// time, also while a step runs. At a step boundary the next work is chosen in kernel order:
// hotplug, hardirqs, the rest of a running net_rx_action, pending softirqs, then tasks (FIFO).
// Ties at equal virtual times: events before steps; events by (time, kind, sender, sequence).
import { assert } from "./assert.ts";
import { applyCommand, scheduleCommand } from "./commands.ts";
import type { EmuConfig } from "./config.ts";
import { assertCounters } from "./counters.ts";
import { CpuState, type Timer } from "./cpu-state.ts";
import { adoptSource, cpuOffline, cpuOnline } from "./hotplug.ts";
import { HostShare, type HostWait } from "./host.ts";
import type { Cursor } from "./inbox.ts";
import { forwardTarget, hotplugRole, promiseNs } from "./lookahead.ts";
import type { CpuCommand, PeerBatch } from "./messages.ts";
import { NAPI_STATE_SCHED } from "./napi.ts";
import { nextNicIrqNs, nicInterrupt } from "./nic.ts";
import { forwardAll } from "./receive.ts";
import { reinjectStep, senderStep } from "./sender.ts";
import { receiverStep } from "./receiver.ts";
import { applyRecord } from "./records.ts";
import { copyCounters, type CpuCounters } from "./results.ts";
import { backlogThreadStep, hardirq, ksoftirqdStep, netRxAction, netRxActionPoll } from "./softirq.ts";
import { newSource, sourceCount, sourceOwner } from "./sources.ts";
import { StallSchedule, stallsOn } from "./stall.ts";
import type { Task } from "./task.ts";

export class Cpu extends CpuState {
  constructor(id: number, config: EmuConfig) {
    super(id, config);
    const cfg = this.cfg;
    for (let s = 0; s < sourceCount(cfg); s++) if (sourceOwner(cfg, s, this.onlineMask) === id) adoptSource(this, newSource(cfg, s), false, 0);
    for (const ev of cfg.events) this.command({ kind: ev.action, cpu: ev.cpu, at_ns: ev.at_ns });
    this.hadHotplugRole = hotplugRole(this);
    this.wasForwardTarget = forwardTarget(this);
    if (cfg.stalls) {
      // A stall delays hand-overs like an irq_off section does (lookahead.ts settleNs), on any CPU.
      this.maxIrqOffNs = Math.max(this.maxIrqOffNs, cfg.stalls.max_ns);
      if (stallsOn(cfg.stalls, id)) {
        this.stalls = new StallSchedule(cfg.stalls, cfg.seed, id);
        this.scheduleStall(0);
      }
    }
    if (cfg.host) {
      // A wait delays hand-overs as a stall does: at most a waking wait, then a slice's.
      this.maxIrqOffNs = Math.max(this.maxIrqOffNs, cfg.host.wake_wait_ns + cfg.host.slice_ns);
      this.pushHostTimer("host-word", cfg.host.slice_ns);
      this.pushHostTimer("host-decide", cfg.host.slice_ns + HostShare.latencyNs(cfg.host));
    }
  }

  // ---------------------------------------------------------------- engine-facing API

  deliver(batch: PeerBatch): void {
    this.inbound.deliver(batch);
  }

  command(cmd: CpuCommand): void {
    scheduleCommand(this, cmd);
  }

  advance(untilNs: number): void {
    for (;;) {
      const tEvent = this.nextEventNs();
      const tStep = this.hasWork() ? Math.max(this.now, this.busyUntil) : Infinity;
      if (tEvent <= tStep) {
        if (tEvent >= untilNs) break;
        // Virtual time only moves forward: nothing may take effect before what is done. A peer's
        // record that comes late anyway (a broken promise, a bug: docs/DESIGN.md §2.2) is taken,
        // not lost, and counted, and the run's checker says it is not exact; what it starts here
        // may come before the clock too.
        if (tEvent < this.clock) {
          const late = this.inbound.peek()?.at === tEvent;
          assert(late || this.lateRecords > 0, "an event before the CPU's clock");
          if (late) this.lateRecords++;
        }
        this.now = Math.max(this.now, tEvent);
        this.handleEvent(tEvent, untilNs);
      } else {
        if (tStep >= untilNs) break;
        this.now = tStep;
        this.step();
      }
      if (this.batchToSelf) this.deliverToSelf();
    }
    if (untilNs > this.clock && untilNs !== Infinity) this.clock = untilNs;
  }

  /** A peer's process died (the distributed engine): no offline record will come from it. */
  peerCrashed(peer: number): void {
    if (peer < 0 || peer >= this.crashedPeers.length) return;
    this.crashedPeers[peer] = 1;
    this.downsAwaitedTotal -= this.downsAwaited[peer]!;
    this.downsAwaited[peer] = 0;
  }

  /** A hand-over to ourselves takes effect like a peer's, without waiting for the engine. */
  private deliverToSelf(): void {
    this.batchToSelf = false;
    const b = this.outbox.get(this.id);
    if (!b) return;
    this.outbox.delete(this.id);
    this.inbound.deliver(b);
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

  /** The promise to CPU `to`: a CPU other than the receiving task's gets no socket record. */
  promiseToNs(inputBoundNs: number, to: number): number {
    return to === this.cfg.receiver?.cpu ? promiseNs(this, inputBoundNs) : this.promiseToOthersNs(inputBoundNs);
  }

  /** The promise to every CPU but the receiving task's (promiseNs itself when we feed no remote socket). */
  promiseToOthersNs(inputBoundNs: number): number {
    return promiseNs(this, inputBoundNs, false);
  }

  /**
   * Counters now, as a copy. `withFlushIds` false leaves out the count of NET_RX runs raised only
   * for IPIs (c.net_rx_ipi_flushes, and the flushes not landed yet) that only the end-of-run
   * attribution adds, so a checkpoint's rows count NET_RX runs as they always have.
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
    assertCounters(c);
    const copy = copyCounters(c, false);
    copy.attributed.ipis_sent = [...c.attributed.ipis_sent];
    copy.attributed.flow_limit_count = [...c.attributed.flow_limit_count];
    if (withFlushIds) {
      // The flushes whose charge lands at the enqueuer from our clock on: not counted there yet.
      const clock = this.clock;
      copy.attributed.ipi_softirq_flushes = this.unlandedFlushes.map((l) => l.id.filter((_, i) => l.landsAt[i]! >= clock));
    } else {
      copy.net_rx_ipi_flushes = 0;
      copy.attributed.ipi_softirq_flushes = this.unlandedFlushes.map(() => []);
    }
    if (this.lateRecords > 0) copy.late_records = this.lateRecords;
    return copy;
  }

  // ---------------------------------------------------------------- the loop

  private nextEventNs(): number {
    let t = Infinity;
    const tt = this.timers.peek();
    if (tt) t = tt.at;
    const ib = this.inbound.peek();
    if (ib && ib.at < t) t = ib.at;
    // A NIC whose IRQ is armed interrupts at its next arrival (or now, if the ring is not empty).
    const irq = nextNicIrqNs(this);
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

  /**
   * Work that finds the CPU idle starts once it has left its idle state — and, on a host whose
   * cores all run other vCPUs, once one is free (model/host.ts).
   */
  private leaveIdle(wasIdle: boolean, at: number): void {
    if (!wasIdle || !this.hasWork()) return;
    const wait = this.host ? this.host.wakeWaitNs() : 0;
    this.c.busy_ns.stalled += wait;
    this.busyUntil = at + wait + this.costs.idle_exit_ns;
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
    nicInterrupt(this, at);
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
      applyRecord(this, ib);
      this.leaveIdle(idle, at);
      if (!this.inbound.next(ib)) return;
      // Stop where anything else is due first; a record may have armed a timer (a wake-up).
      const tStep = this.hasWork() ? Math.max(this.now, this.busyUntil) : Infinity;
      const tt = this.timers.peek();
      if (ib.at > tStep || ib.at >= untilNs || (tt !== undefined && ib.at >= tt.at) || ib.at >= nextNicIrqNs(this)) return;
    }
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
    } else if (t.kind === "host-word") {
      this.hostWord(t.at);
    } else if (t.kind === "host-decide") {
      this.hostDecide(t.at);
    } else if (t.command) {
      applyCommand(this, t.command);
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

  private pushHostTimer(kind: "host-word" | "host-decide", at: number): void {
    if (at >= this.cfg.duration_ns) {
      if (kind === "host-word") this.nextHostWordNs = Infinity;
      return;
    }
    if (kind === "host-word") this.nextHostWordNs = at;
    this.pushTimer({ at, prio: 1, seq: 0, kind });
  }

  /**
   * A slice boundary: the slice decided last begins, and this CPU tells every peer its demand for
   * the host's cores (model/host.ts). An offline vCPU is halted: it wants none.
   */
  private hostWord(at: number): void {
    const host = this.host!;
    const stalled = this.c.busy_ns.stalled;
    const demand = this.online ? host.demandAt(this.hostBusyNs, stalled - this.hostStalledMark) : 0;
    this.hostBusyNs = 0;
    this.hostStalledMark = stalled;
    host.sliceBegins();
    this.hostWait(host.waitsNow[this.id]);
    host.word(this.id, at, demand);
    for (let p = 0; p < this.cfg.cpus; p++) {
      if (p === this.id) continue;
      const b = this.batchTo(p);
      b.host.at_ns.push(at);
      b.host.demand.push(demand);
    }
    this.pushHostTimer("host-word", at + host.cfg.slice_ns);
  }

  /** Every word of the boundary is in: share the next slice. */
  private hostDecide(at: number): void {
    const host = this.host!;
    host.decide();
    this.pushHostTimer("host-decide", at + host.cfg.slice_ns);
  }

  /**
   * This CPU's wait in the slice that begins, a stall. Armed when the slice begins, not when it was
   * decided half a slice earlier: the stall due in the second half of the current slice is still
   * pending then, and arming the next one would replace it (waits placed late in a slice were lost).
   */
  private hostWait(w: HostWait | undefined): void {
    if (!w || w.toNs <= w.fromNs) return;
    this.nextStallNs = w.fromNs;
    this.stallLenNs = w.toNs - w.fromNs;
    this.stallId++;
    this.pushTimer({ at: w.fromNs, prio: 1, seq: 0, kind: "stall", stallId: this.stallId });
  }

  /**
   * The stall's timer (unless stallInside() took that stall already): the CPU loses the processor.
   * Nothing runs here for its length, from the end of the step in progress (steps that charge
   * nothing); with in_softirq false, a stall that finds net_rx_action running waits for its end.
   */
  private stall(at: number): void {
    if (this.online && this.run !== null && !this.stallInSoftirq) {
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
}
