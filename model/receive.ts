// The receive path into the backlog and out of the stack (docs/DESIGN.md §1.2, §1.3):
// skb_flow_limit, enqueue_to_backlog, napi_schedule_rps, netif_receive_skb / netif_rx and
// __netif_receive_skb, and dev_cpu_dead's forwarding. Read beside net/core/dev.c.
import { assert } from "./assert.ts";
import type { CpuState } from "./cpu-state.ts";
import { chargeEnqueuer } from "./ipi.ts";
import { FLOWS_PER_SOURCE } from "./load.ts";
import { CHARGE_KIND, pushRecord } from "./messages.ts";
import { napiSchedulePrep } from "./napi.ts";
import { napiSchedule } from "./napi-schedule.ts";
import type { PacketQueue } from "./packet-queue.ts";
import { LATENCY_BUCKETS_NS } from "./results.ts";
import { socketDeliver } from "./receiver.ts";
import { flowHash } from "./rng.ts";
import { getRpsCpu, rfsPassed, rfsSaveTail, rpsCpusOf } from "./rps.ts";
import { socketContentionNs } from "./socket-contention.ts";
import { lowestOnline, type SourceState } from "./sources.ts";

/** FLOW_LIMIT_HISTORY: the flow limiter remembers the last 128 enqueues. */
const FLOW_LIMIT_HISTORY = 128;

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

/** An enqueue record from a peer reached this CPU: the enqueuer's enqueue_to_backlog() runs here. */
export function enqueueFromRemote(cpu: CpuState, from: number, flow: number, seq: number, source: number, injectNs: number, sendNs: number): void {
  if (!cpu.online) return forward(cpu, flow, seq, source, injectNs);
  enqueueToBacklog(cpu, from, flow, seq, source, injectNs, sendNs);
}

/** Hand a packet that reached an offline CPU to the survivor's netif_rx (dev_cpu_dead's job). */
// dev.c: dev_cpu_dead()
export function forward(cpu: CpuState, flow: number, seq: number, source: number, injectNs: number): void {
  const to = lowestOnline(cpu.onlineMask);
  pushRecord(cpu.batchTo(to).forwarded, flow, seq, source, injectNs, cpu.now);
  cpu.countOut(1);
}

/** Forward every packet of q (an offline CPU passes on what reaches it). */
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
  pushRecord(cpu.batchTo(target).enqueues, flow, seq, source, injectNs, atNs);
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
  const cost = processCostNs(cpu, s.index, injectNs, atNs);
  netifReceiveSkbCore(cpu, flow, seq, injectNs, atNs + cost);
  return cost;
}

/** CPU time of __netif_receive_skb() and the stack up to the socket for one packet. */
export function processCostNs(cpu: CpuState, source: number, injectNs: number, atNs: number): number {
  // With a receiving task the payload is copied by its recvmsg(); here the skb is queued on its
  // socket, under its lock, once the stack's part is done.
  const rcv = cpu.cfg.receiver;
  if (rcv === undefined) return cpu.costs.process_per_packet_ns + cpu.copyCostNs(source, injectNs);
  const lockAt = atNs + cpu.costs.process_per_packet_ns;
  return cpu.costs.process_per_packet_ns + rcv.enqueue_ns + socketContentionNs(cpu, lockAt);
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
