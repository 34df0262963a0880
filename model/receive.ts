// The receive path up to the backlog and out of it (docs/DESIGN.md §1.2, §1.3): get_rps_cpu,
// skb_flow_limit, enqueue_to_backlog, napi_schedule_rps, ____napi_schedule, netif_receive_skb /
// netif_rx, __netif_receive_skb, the RPS IPIs, and the loopback sender. Read beside net/core/dev.c.
import { assert } from "./assert.ts";
import type { CpuState } from "./cpu-state.ts";
import { FLOWS_PER_SOURCE } from "./load.ts";
import { NAPI_STATE_SCHED_THREADED, NAPI_STATE_THREADED, napiSchedulePrep, type Napi } from "./napi.ts";
import { CHARGE_KIND, deliverAt } from "./messages.ts";
import type { PacketQueue } from "./packet-queue.ts";
import { LATENCY_BUCKETS_NS } from "./results.ts";
import { socketDeliver } from "./receiver.ts";
import { flowHash, reciprocalScale } from "./rng.ts";
import { lowestOnline, type SourceState } from "./sources.ts";
import type { Task } from "./task.ts";

/** FLOW_LIMIT_HISTORY: the flow limiter remembers the last 128 enqueues. */
const FLOW_LIMIT_HISTORY = 128;

/**
 * get_rps_cpu(): the CPU whose backlog should take this packet, or -1 to handle it here.
 * An offline target gives -1: no re-hash (docs/DESIGN.md §1.2).
 */
// dev.c: get_rps_cpu()
export function getRpsCpu(cpu: CpuState, rpsCpus: readonly number[], s: SourceState | null, flow: number): number {
  const rfs = s !== null && cpu.rfsOn && s.rpsFlowCnt > 0;
  if (rpsCpus.length === 0 && !rfs) return -1;
  const hash = flowHash(flow, cpu.cfg.seed);
  const online = cpu.onlineMask;
  if (rfs) {
    const nextCpu = rfsDesiredCpu(cpu, flow);
    if (nextCpu >= 0) {
      const slot = hash & (s.rpsFlowCnt - 1);
      let tcpu = s.rfsCpu[slot]!;
      // Move the flow only when its old CPU can no longer reorder it: unset, offline, or every
      // packet we queued there (last_qtail) has left its backlog (input_queue_head passed it).
      if (tcpu !== nextCpu && (tcpu < 0 || !online[tcpu] || cpu.rfsPassedSeen[tcpu]! - s.rfsLastQtail[slot]! >= 0)) {
        tcpu = nextCpu;
        s.rfsCpu[slot] = nextCpu; // set_rps_cpu()
        s.rfsLastQtail[slot] = cpu.rfsPassedSeen[nextCpu]!;
      }
      if (tcpu >= 0 && online[tcpu]) return tcpu;
    }
  }
  if (rpsCpus.length > 0) {
    const tcpu = rpsCpus[reciprocalScale(hash, rpsCpus.length)]!;
    if (online[tcpu]) return tcpu;
  }
  return -1;
}

/**
 * rps_sock_flow_table: where the flow's consumer last called recvmsg(). The emulator pins each
 * flow's consumer to a CPU chosen by a seeded hash; a consumer whose CPU is offline has no entry.
 */
function rfsDesiredCpu(cpu: CpuState, flow: number): number {
  const c = reciprocalScale(flowHash(flow, cpu.cfg.seed ^ 0x5f5f5f5f), cpu.cfg.cpus);
  return cpu.onlineMask[c] ? c : -1;
}

/** After an enqueue on `target` through an RFS slot, remember its tail (rflow->last_qtail). */
// dev.c: rps_input_queue_tail_save()
function rfsSaveTail(cpu: CpuState, s: SourceState | null, flow: number, target: number): void {
  if (!cpu.rfsOn) return;
  const tail = ++cpu.rfsSent[target]!;
  if (s === null || s.rpsFlowCnt === 0) return;
  const slot = flowHash(flow, cpu.cfg.seed) & (s.rpsFlowCnt - 1);
  if (s.rfsCpu[slot] === target) s.rfsLastQtail[slot] = tail;
}

/**
 * skb_flow_limit(): only when the target's backlog is at least half full, and only for enqueuing
 * CPUs in flow_limit_cpu_bitmap. The history table is the enqueuer's; this CPU keeps the part of
 * it that concerns its own backlog (exact while one target at a time is over half full).
 */
// dev.c: skb_flow_limit()
function skbFlowLimit(cpu: CpuState, enqueuer: number, flow: number, qlen: number): boolean {
  if (qlen < cpu.cfg.sysctls.netdev_max_backlog >> 1) return false;
  if (!cpu.flowLimited(enqueuer)) return false;
  let fl = cpu.flowLimit.get(enqueuer);
  if (!fl) {
    fl = { history: new Uint16Array(FLOW_LIMIT_HISTORY), head: 0, buckets: new Uint8Array(cpu.cfg.sysctls.flow_limit_table_len) };
    cpu.flowLimit.set(enqueuer, fl);
  }
  const newFlow = flowHash(flow, cpu.cfg.seed) & (fl.buckets.length - 1);
  const oldFlow = fl.history[fl.head]!;
  fl.history[fl.head] = newFlow;
  fl.head = (fl.head + 1) & (FLOW_LIMIT_HISTORY - 1);
  if (fl.buckets[oldFlow]) fl.buckets[oldFlow]!--;
  if (++fl.buckets[newFlow]! > FLOW_LIMIT_HISTORY >> 1) {
    cpu.c.attributed.flow_limit_count[enqueuer]!++;
    return true;
  }
  return false;
}

/**
 * enqueue_to_backlog() on this CPU's backlog, run by the CPU that owns the queue (the kernel takes
 * the target's lock from the enqueuing CPU; here the enqueue travels to the owner and runs there).
 * Returns false when dropped; every drop is counted on this (the target) CPU.
 */
// dev.c: enqueue_to_backlog()
export function enqueueToBacklog(
  cpu: CpuState,
  enqueuer: number,
  flow: number,
  seq: number,
  source: number,
  injectNs: number,
  sendNs: number,
): boolean {
  const sd = cpu.sd;
  const qlen = sd.input_pkt_queue.length;
  assert(qlen <= cpu.backlogBound, "input_pkt_queue longer than netdev_max_backlog allows");
  assert(sd.input_queue_tail - sd.input_queue_head === qlen + sd.process_queue.length, "backlog: enqueued - left != queued");
  if (qlen <= cpu.cfg.sysctls.netdev_max_backlog) {
    if (!skbFlowLimit(cpu, enqueuer, flow, qlen)) {
      // We own the queue lock: SCHED can be tested and set without atomics.
      if (qlen === 0 && napiSchedulePrep(sd.backlog)) napiScheduleRps(cpu, enqueuer, sendNs);
      sd.input_pkt_queue.push(flow, seq, source, injectNs, enqueuer);
      sd.input_queue_tail++;
      return true;
    }
    cpu.drop("flow_limit");
  } else {
    cpu.drop("cpu_backlog");
  }
  sd.dropped++;
  rfsPassed(cpu, enqueuer);
  return false;
}

/** napi_schedule_rps(): schedule this CPU's backlog for `enqueuer`. */
// dev.c: napi_schedule_rps()
function napiScheduleRps(cpu: CpuState, enqueuer: number, sendNs: number): void {
  if (enqueuer === cpu.id) {
    // Without use_local_napi our own backlog thread is woken, and we pay for it here and now.
    if (cpu.threadsMode && !cpu.cfg.profile.local_napi_shortcut) cpu.charge("softirq", cpu.costs.wakeup_ns);
    return napiSchedule(cpu, cpu.sd.backlog, true, "local_enqueue", cpu.now);
  }
  if (cpu.threadsMode) {
    // __napi_schedule_irqoff(&sd->backlog) on the enqueuing CPU: the thread is not its own, and
    // the enqueuer pays for waking it.
    chargeEnqueuer(cpu, enqueuer, CHARGE_KIND.WAKEUP, 0);
    const wakeAt = Math.max(cpu.now, sendNs + cpu.costs.wakeup_latency_ns);
    return napiSchedule(cpu, cpu.sd.backlog, false, "local_enqueue", wakeAt);
  }
  // IPI mode: we are now on the enqueuer's rps_ipi_list; its next flush sends the IPI.
  cpu.ipiOwed[enqueuer] = 1;
}

/**
 * ____napi_schedule(): a threaded NAPI wakes its thread — except this CPU's own backlog thread
 * with the use_local_napi shortcut — others go on poll_list and raise NET_RX.
 */
// dev.c: ____napi_schedule()
export function napiSchedule(cpu: CpuState, napi: Napi, local: boolean, raise: "local_enqueue" | "rps_ipi" | "nic_irq" | "hotplug", wakeAt: number): void {
  const p = cpu.cfg.profile;
  if (napi.state & NAPI_STATE_THREADED && !(local && p.local_napi_shortcut)) {
    const thread = cpu.backlogThread;
    // Before patch 1 the bit was skipped for a sleeping thread, relying on a `woken` flag that
    // smpboot threads do not have: that wake-up is lost.
    if (p.threaded_wakeup === "unconditional" || thread.state !== "interruptible") napi.state |= NAPI_STATE_SCHED_THREADED;
    else cpu.c.lost_wakeups++;
    if (cpu.wakeTask(thread, wakeAt)) cpu.c.thread_wakeups++;
    return;
  }
  if (!napi.listed) {
    napi.listed = true;
    cpu.sd.poll_list.push(napi);
  }
  if (!cpu.sd.in_net_rx_action) cpu.raiseNetRx(raise);
}

/** napi_schedule() from a NIC's IRQ handler: device NAPIs are never threaded here. */
// dev.c: ____napi_schedule()
export function napiScheduleDevice(cpu: CpuState, napi: Napi): void {
  if (!napi.listed) {
    napi.listed = true;
    cpu.sd.poll_list.push(napi);
  }
  if (!cpu.sd.in_net_rx_action) cpu.raiseNetRx("nic_irq");
}

/** An enqueue record from a peer reached this CPU: the enqueuer's enqueue_to_backlog() runs here. */
export function enqueueFromRemote(cpu: CpuState, from: number, flow: number, seq: number, source: number, injectNs: number, sendNs: number): void {
  if (!cpu.online) return forward(cpu, flow, seq, source, injectNs);
  enqueueToBacklog(cpu, from, flow, seq, source, injectNs, sendNs);
}

/** Hand a packet that reached an offline CPU to the survivor's netif_rx (dev_cpu_dead's job). */
// dev.c: dev_cpu_dead()
export function forward(cpu: CpuState, flow: number, seq: number, source: number, injectNs: number): void {
  const to = lowestOnline(cpu.onlineMask);
  const f = cpu.batchTo(to).forwarded;
  f.flow.push(flow);
  f.seq.push(seq);
  f.source.push(source);
  f.inject_ns.push(injectNs);
  f.send_ns.push(cpu.now);
  cpu.countOut(1);
}

export function forwardAll(cpu: CpuState, q: PacketQueue): void {
  while (q.length > 0) {
    forward(cpu, q.peekFlow(), q.peekSeq(), q.peekSource(), q.peekInject());
    q.shift();
  }
}

/**
 * Send one packet towards `target`'s backlog at atNs (the local one is a direct call). Returns its
 * CPU cost here: enqueue_to_backlog() on another CPU's softnet_data also moves the cache lines of
 * its lock, queue and counters to this CPU and back (rps_remote_enqueue_ns on top).
 */
function enqueueTo(cpu: CpuState, target: number, s: SourceState | null, flow: number, seq: number, source: number, injectNs: number, atNs: number): number {
  rfsSaveTail(cpu, s, flow, target);
  if (target === cpu.id) {
    enqueueToBacklog(cpu, cpu.id, flow, seq, source, injectNs, atNs);
    return cpu.costs.rps_enqueue_per_packet_ns;
  }
  const e = cpu.batchTo(target).enqueues;
  e.flow.push(flow);
  e.seq.push(seq);
  e.source.push(source);
  e.inject_ns.push(injectNs);
  e.send_ns.push(atNs);
  cpu.countOut(1);
  if (!cpu.threadsMode && cpu.remoteSinceFlush[target] === 0) {
    cpu.remoteSinceFlush[target] = 1;
    cpu.remoteSinceFlushCount++;
  }
  return cpu.costs.rps_enqueue_per_packet_ns + cpu.costs.rps_remote_enqueue_ns;
}

/**
 * netif_receive_skb() from a device poll at atNs: RPS, or straight into the stack here.
 * Returns the CPU cost of the packet after the driver's part.
 */
// dev.c: netif_receive_skb_internal()
export function netifReceiveSkb(cpu: CpuState, s: SourceState, flow: number, seq: number, injectNs: number, atNs: number): number {
  const target = getRpsCpu(cpu, rpsCpusOf(cpu, s.index), s, flow);
  if (target >= 0) {
    return enqueueTo(cpu, target, s, flow, seq, s.index, injectNs, atNs);
  }
  const cost = cpu.processCostNs(s.index, injectNs);
  netifReceiveSkbCore(cpu, flow, seq, injectNs, atNs + cost);
  return cost;
}

/** __netif_receive_skb(): the packet is consumed on this CPU at atNs (latency, order, the socket). */
// dev.c: __netif_receive_skb_core()
export function netifReceiveSkbCore(cpu: CpuState, flow: number, seq: number, injectNs: number, atNs: number): void {
  cpu.sd.processed++;
  const lat = atNs - injectNs;
  const c = cpu.c;
  let b = 0;
  while (b < LATENCY_BUCKETS_NS.length && lat > LATENCY_BUCKETS_NS[b]!) b++;
  c.latency_buckets[b]!++;
  c.latency_sum_ns += lat;
  if (lat > c.latency_max_ns) c.latency_max_ns = lat;
  const source = Math.floor(flow / FLOWS_PER_SOURCE);
  const slot = source * cpu.flowsPerSource + (flow - source * FLOWS_PER_SOURCE);
  if (seq < cpu.reorderMax[slot]!) c.reordered++;
  else cpu.reorderMax[slot] = seq;
  if (cpu.cfg.receiver !== undefined) socketDeliver(cpu, flow, seq, source, injectNs, atNs);
}

/** netif_rx(): RPS, or the local backlog (never processed in place). Returns the enqueue's CPU cost. */
// dev.c: netif_rx_internal()
export function netifRx(cpu: CpuState, flow: number, seq: number, source: number, injectNs: number, atNs: number): number {
  const s = cpu.sources.get(source) ?? null;
  let target = getRpsCpu(cpu, rpsCpusOf(cpu, source), s, flow);
  if (target < 0) target = cpu.id;
  return enqueueTo(cpu, target, s, flow, seq, source, injectNs, atNs);
}

/** The source's rps_cpus as this CPU sees them now (the `rps` command rewrites them). */
export function rpsCpusOf(cpu: CpuState, source: number): readonly number[] {
  const nq = cpu.cfg.queues.length;
  return source < nq ? cpu.cfg.queues[source]!.rps_cpus : cpu.cfg.senders[source - nq]!.rps_cpus;
}

/**
 * net_rps_action_and_irq_enable(): send the RPS IPIs this CPU owes. The targets decide which
 * ones are due (see messages.ts FlushRecords); `raisedSoftirq` marks a NET_RX raised only for this.
 */
// dev.c: net_rps_send_ipi()
export function flushRpsIpis(cpu: CpuState, atNs: number, raisedSoftirq: boolean): void {
  if (cpu.remoteSinceFlushCount === 0) return;
  const id = ++cpu.flushSeq;
  for (let target = 0; target < cpu.remoteSinceFlush.length; target++) {
    if (cpu.remoteSinceFlush[target] === 0) continue;
    cpu.remoteSinceFlush[target] = 0;
    const f = cpu.batchTo(target).flushes;
    f.at_ns.push(atNs);
    f.flush_id.push(id);
    f.raised_softirq.push(raisedSoftirq ? 1 : 0);
  }
  cpu.remoteSinceFlushCount = 0;
}

/** A peer's flush arrived: if its enqueue scheduled our backlog, its IPI is here now. */
// dev.c: net_rps_send_ipi()
export function ipiFlushArrived(cpu: CpuState, from: number, flushId: number, raised: boolean): void {
  if (!cpu.ipiOwed[from]) return;
  cpu.ipiOwed[from] = 0;
  if (!cpu.online) return; // net_rps_send_ipi() skips offline CPUs
  if (cpu.ipiDelayNs > 0 && cpu.now < cpu.ipiDelayUntilNs) cpu.pushTimer({ at: cpu.now + cpu.ipiDelayNs, prio: 1, seq: 0, kind: "ipi" });
  else cpu.ipiPending++;
  cpu.c.attributed.ipis_sent[from]!++;
  if (raised) recordUnlandedFlush(cpu, from, flushId);
  chargeEnqueuer(cpu, from, raised ? CHARGE_KIND.IPI_RAISED : CHARGE_KIND.IPI, flushId);
}

/**
 * The enqueuer raised NET_RX only for this flush: it counts that run when our charge lands there
 * (countLandedFlush); until then the flush id is kept here, where a snapshot can see it. Every
 * target of one flush decides at the same time, so all its charges land together: a flush is
 * either counted at the enqueuer or listed by each target that took its IPI (aggregate.ts merges).
 */
function recordUnlandedFlush(cpu: CpuState, enqueuer: number, flushId: number): void {
  const l = cpu.unlandedFlushes[enqueuer]!;
  while (l.landsAt.length > 0 && l.landsAt[0]! < cpu.now) {
    l.landsAt.shift();
    l.id.shift();
  }
  l.id.push(flushId);
  l.landsAt.push(deliverAt(cpu.now, cpu.costs.charge_latency_ns, cpu.windowNs));
}

/** A flush's charge landed here (online or not): one NET_RX run of ours, counted once per flush. */
function countLandedFlush(cpu: CpuState, atNs: number, flushId: number): void {
  if (atNs !== cpu.landedFlushesAtNs) {
    cpu.landedFlushes.clear();
    cpu.landedFlushesAtNs = atNs;
  }
  if (cpu.landedFlushes.has(flushId)) return;
  cpu.landedFlushes.add(flushId);
  cpu.c.net_rx_ipi_flushes!++;
}

/** Tell `enqueuer` what it owes for an IPI or a wake-up decided here now (messages.ts ChargeRecords). */
function chargeEnqueuer(cpu: CpuState, enqueuer: number, kind: number, flushId: number): void {
  const c = cpu.batchTo(enqueuer).charges;
  c.at_ns.push(cpu.now);
  c.kind.push(kind);
  c.flush_id.push(flushId);
}

/**
 * A target's charge landed: pay for the IPI (and once per flush for the NET_RX run raised only to
 * send it) or the wake-up, in softirq time (net_rps_action_and_irq_enable, ____napi_schedule).
 */
export function chargeArrived(cpu: CpuState, atNs: number, kind: number, flushId: number): void {
  if (kind === CHARGE_KIND.IPI_RAISED) countLandedFlush(cpu, atNs, flushId);
  if (!cpu.online) return;
  const L = cpu.costs;
  if (kind === CHARGE_KIND.WAKEUP) return cpu.charge("softirq", L.wakeup_ns);
  let ns = L.ipi_send_ns;
  if (kind === CHARGE_KIND.IPI_RAISED) {
    // Every target of one flush decides at the same time, so its charges land together.
    if (atNs !== cpu.chargedAtNs) {
      cpu.chargedFlushes.clear();
      cpu.chargedAtNs = atNs;
    }
    if (!cpu.chargedFlushes.has(flushId)) {
      cpu.chargedFlushes.add(flushId);
      ns += L.softirq_entry_ns;
    }
  }
  cpu.charge("softirq", ns);
}

/** rps_trigger_softirq(): the IPI's callback on this CPU. */
// dev.c: rps_trigger_softirq()
export function rpsTriggerSoftirq(cpu: CpuState): void {
  napiSchedule(cpu, cpu.sd.backlog, true, "rps_ipi", cpu.now);
  cpu.sd.received_rps++;
}

/** A packet left this CPU's backlog: RFS accounting per enqueuer (see messages.ts rfs_heads). */
// dev.c: rps_input_queue_head_incr()
export function rfsPassed(cpu: CpuState, enqueuer: number): void {
  if (cpu.rfsOn) cpu.rfsPassedFrom[enqueuer]!++;
}

/** Report moved input_queue_heads to the enqueuers (RFS only). */
export function rfsReport(cpu: CpuState, atNs: number): void {
  if (!cpu.rfsOn) return;
  for (let e = 0; e < cpu.cfg.cpus; e++) {
    const passed = cpu.rfsPassedFrom[e]!;
    if (passed === cpu.rfsPassedReported[e]) continue;
    cpu.rfsPassedReported[e] = passed;
    if (e === cpu.id) cpu.rfsPassedSeen[e] = passed;
    else {
      const r = cpu.batchTo(e).rfs_heads;
      r.at_ns.push(atNs);
      r.passed.push(passed);
    }
  }
}

/**
 * A loopback sender's time slice: one sendmsg() → netif_rx() inside local_bh_disable/enable;
 * the bh enable runs NET_RX if it was raised (next step) and sends the IPIs (flush).
 */
// dev.c: netif_rx()
export function senderStep(cpu: CpuState, task: Task): void {
  const s = cpu.sources.get(task.source);
  if (!s || s.gen.peekNs() > cpu.now) {
    task.state = "interruptible";
    cpu.scheduleSenderWake(task, cpu.now);
    return;
  }
  const start = Math.max(cpu.now, cpu.busyUntil);
  s.gen.take(start);
  cpu.c.injected++;
  s.lastInjectNs = start;
  cpu.charge("task", cpu.costs.send_per_packet_ns + cpu.copyCostNs(s.index, start));
  cpu.charge("task", netifRx(cpu, s.gen.flow, s.gen.seq, s.index, start, cpu.busyUntil));
  flushRpsIpis(cpu, cpu.busyUntil, true);
  if (s.gen.peekNs() <= cpu.busyUntil) cpu.enqueueTask(task);
  else {
    task.state = "interruptible";
    cpu.scheduleSenderWake(task, cpu.busyUntil);
  }
}

/** dev_cpu_dead()'s re-injection (and forwarded packets) through netif_rx on this CPU. */
// dev.c: dev_cpu_dead()
export function reinjectStep(cpu: CpuState): void {
  const q = cpu.reinject;
  let t = Math.max(cpu.now, cpu.busyUntil);
  while (q.length > 0) {
    t += netifRx(cpu, q.peekFlow(), q.peekSeq(), q.peekSource(), q.peekInject(), t);
    q.shift();
  }
  cpu.charge("task", t - Math.max(cpu.now, cpu.busyUntil));
  flushRpsIpis(cpu, cpu.busyUntil, true);
}

