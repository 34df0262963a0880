// Lookahead for conservative synchronisation (DESIGN.md §2.2): the earliest virtual time at which
// anything this CPU may still send can take effect at a peer — its promise, "nothing from me
// before t". A peer may run up to the smallest promise it holds; both engines use this.
import type { Cpu } from "./cpu.ts";
import { RECORD_KIND, deliverAt } from "./messages.ts";
import { NAPI_STATE_SCHED } from "./napi.ts";
import { sourceCount, sourceOwner } from "./sources.ts";

/** The promise, given that every record peers will still send us takes effect at or after inputBoundNs. */
export function promiseNs(cpu: Cpu, inputBoundNs: number): number {
  const t = Math.min(nextSendCapableNs(cpu), sendsCausedByInputsNs(cpu, inputBoundNs));
  if (t === Infinity) return Infinity;
  return deliverAt(t, cpu.maxLatencyMin, cpu.windowNs);
}

/** Earliest time this CPU could emit a record with no further input. */
function nextSendCapableNs(cpu: Cpu): number {
  const base = Math.max(cpu.clock, cpu.busyUntil, cpu.now);
  // A running net_rx_action sends only through the sources' device polls (below) and flushes.
  if (cpu.remoteSinceFlushCount > 0 || cpu.reinject.length > 0 || cpu.pendingHotplug.length > 0) return base;
  if (cpu.rfsOn && cpu.sd.backlogLen > 0) return base;
  let t = Infinity;
  for (const s of cpu.sources.values()) {
    if (s.napi.state & NAPI_STATE_SCHED || s.ring.length > 0) return base;
    const at = s.gen.peekNs();
    if (at < t) t = at;
  }
  t = Math.min(t, cpu.pendingCommandTimes.earliest());
  // Delivered records not applied yet that will make us send when they are.
  for (const cur of cpu.inbound.all()) {
    const k = cur.kind;
    const sends =
      k === RECORD_KIND.CPU_DEAD || k === RECORD_KIND.QUEUE || k === RECORD_KIND.FORWARD || !cpu.online || (cpu.rfsOn && k === RECORD_KIND.ENQUEUE);
    if (sends && cur.at < t) t = cur.at;
  }
  return t === Infinity ? t : Math.max(t, base);
}

/**
 * The earliest time an input still to come could make this CPU send. Most inputs cannot (an
 * enqueue, an IPI, a wake-up only make work here). Those that can: RFS traffic (head reports),
 * and what hotplug and IRQ moves bring — a forward or a dead CPU's backlog to re-inject, a NIC
 * queue to take over, any enqueue while this CPU is offline. Those exist only from a mask change
 * until its hand-overs and in-flight packets have landed (settleNs), and while a source whose IRQ
 * belongs here is still elsewhere; before the next scheduled change, none can come.
 */
function sendsCausedByInputsNs(cpu: Cpu, inputBoundNs: number): number {
  if (cpu.rfsOn || !cpu.online || cpu.pendingHotplug.length > 0) return inputBoundNs;
  if (cpu.clock < cpu.lastMaskChangeNs + settleNs(cpu) || awaitsSource(cpu)) return inputBoundNs;
  return Math.max(inputBoundNs, cpu.pendingCommandTimes.earliest());
}

/** How long after a mask change hand-overs, dead CPUs' backlogs and forwards can still arrive. */
function settleNs(cpu: Cpu): number {
  const L = cpu.costs;
  return L.hotplug_latency_ns + L.rps_latency_ns + 2 * cpu.windowNs + cpu.maxIrqOffNs + cpu.maxLatencyMin;
}

/** A source whose IRQ (or pinned task) belongs on this CPU is not here yet. */
function awaitsSource(cpu: Cpu): boolean {
  const n = sourceCount(cpu.cfg);
  for (let s = 0; s < n; s++) if (!cpu.sources.has(s) && sourceOwner(cpu.cfg, s, cpu.onlineMask) === cpu.id) return true;
  return false;
}
