// Lookahead for conservative synchronisation (docs/DESIGN.md §2.2): the earliest virtual time at which
// anything this CPU may still send can take effect at a peer — its promise, "nothing from me
// before t". A peer may run up to the smallest promise it holds; both engines use this.
//
// What a promise says, exactly. promiseNs() is deliverAt(D, smallest latency, window) where D is
// a lower bound on the *decision* time (the step or event that emits it) of anything this CPU
// will still send: every term below is an event time, a step start or an input bound, and a
// record's send stamp is never before the decision that emitted it. Since deliverAt(D) <=
// D + max(smallest latency, window) (lookaheadSlackNs), a peer holding a promise p knows this CPU
// makes no further decision addressed to it before p - lookaheadSlackNs. offlineSettled() relies on
// that. Promises are per destination: only the receiving task's CPU gets the terms of socket
// records (promiseNs's toSocketCpu), since no other CPU is sent one.
import type { CpuState } from "./cpu-state.ts";
import type { Cursor } from "./inbox.ts";
import { RECORD_KIND, deliverAt } from "./messages.ts";
import { NAPI_STATE_SCHED } from "./napi.ts";
import { lowestOnline, sourceCount, sourceOwner } from "./sources.ts";

/**
 * The promise, given that every record peers will still send us takes effect at or after inputBoundNs.
 * `toSocketCpu` false: the promise to every CPU but the receiving task's, which no socket record
 * reaches — a CPU that feeds a remote socket would otherwise hold everyone in lock-step with its
 * inputs, though only one CPU takes what it sends because of them.
 */
export function promiseNs(cpu: CpuState, inputBoundNs: number, toSocketCpu = true): number {
  const socket = toSocketCpu && cpu.remoteSocket;
  // Every slice boundary sends a HOST word to every peer (model/host.ts), busy or not.
  const t = Math.min(nextSendCapableNs(cpu, socket), sendsCausedByInputsNs(cpu, inputBoundNs, socket), cpu.nextHostWordNs);
  const p = t === Infinity ? Infinity : deliverAt(t, cpu.maxLatencyMin, cpu.windowNs);
  // Charges (messages.ts) travel charge_latency_ns: an enqueuer may run that far ahead of us.
  const c = chargesCausedNs(cpu, inputBoundNs);
  return c === Infinity ? p : Math.min(p, deliverAt(c, cpu.costs.charge_latency_ns, cpu.windowNs));
}

/**
 * The earliest time this CPU may decide a charge: when an IPI flush (IPI mode) or an enqueue
 * (backlog threads) takes effect here — one delivered and not applied yet, or one still to come.
 * An offline CPU decides none. The promise is the smaller of this term and the others', so it
 * still bounds every other decision within lookaheadSlackNs (offlineSettled relies on that).
 */
function chargesCausedNs(cpu: CpuState, inputBoundNs: number): number {
  if (!cpu.online) return Infinity; // no IPI to an offline CPU, its enqueues are forwarded
  const kind = cpu.threadsMode ? RECORD_KIND.ENQUEUE : RECORD_KIND.FLUSH;
  let t = inputBoundNs;
  for (const cur of cpu.inbound.all()) if (cur.kind === kind && cur.at < t) t = cur.at;
  return t;
}

/** How far a promise may lie beyond the decision bound it was made from (see the top). */
export function lookaheadSlackNs(cpu: CpuState): number {
  return Math.max(cpu.maxLatencyMin, cpu.windowNs);
}

/**
 * Earliest time this CPU could emit a record with no further input. Steps run from busyUntil on;
 * events — commands and delivered records — are handled at their own time, busy or not, and some
 * send then (a command that moves a source, a hand-over passed on: hotplug.ts).
 */
function nextSendCapableNs(cpu: CpuState, socket: boolean): number {
  const now = Math.max(cpu.clock, cpu.now);
  const step = nextStepSendNs(cpu, Math.max(now, cpu.busyUntil), socket);
  // Nothing is handled before now: no event can come sooner.
  return step === now ? now : Math.min(step, nextEventSendNs(cpu, now, socket));
}

/** Earliest step that may send, given that steps start at stepAt at the soonest. */
function nextStepSendNs(cpu: CpuState, stepAt: number, socket: boolean): number {
  // A running net_rx_action sends only through the sources' device polls (below) and flushes.
  if (cpu.remoteSinceFlushCount > 0 || cpu.reinject.length > 0 || cpu.pendingHotplug.length > 0) return stepAt;
  if (cpu.rfsOn && cpu.sd.backlogLen > 0) return stepAt;
  // Packets in the stack go to a socket on another CPU (model/receiver.ts) as they are processed.
  if (socket && (cpu.sd.backlogLen > 0 || cpu.run !== null)) return stepAt;
  let t = Infinity;
  for (const s of cpu.sources.values()) {
    if (s.napi.state & NAPI_STATE_SCHED || s.ring.length > 0) return stepAt;
    const at = s.gen.peekNs();
    if (at < t) t = at;
  }
  return t === Infinity ? t : Math.max(t, stepAt);
}

/**
 * Earliest event that may send: a pending command (a mask or IRQ change moves sources, a rate
 * change brings arrivals sooner), or a delivered record not applied yet that will make us send
 * when it is: hand-overs and forwards (re-injected, or passed on while offline), enqueues while
 * offline (forwarded) or with RFS (head reports). An IPI flush or an RFS report makes an offline
 * CPU send nothing.
 */
function nextEventSendNs(cpu: CpuState, now: number, socket: boolean): number {
  let t = cpu.pendingCommandTimes.earliest();
  for (const cur of cpu.inbound.all()) {
    const k = cur.kind;
    const sends =
      (k === RECORD_KIND.CPU_DEAD && carriesPackets(cur)) ||
      k === RECORD_KIND.QUEUE ||
      k === RECORD_KIND.FORWARD ||
      (k === RECORD_KIND.ENQUEUE && (!cpu.online || cpu.rfsOn || socket));
    if (sends && cur.at < t) t = cur.at;
  }
  return t === Infinity ? t : Math.max(t, now);
}

/** A dev_cpu_dead record with a backlog to re-inject (the others only say a peer is down). */
function carriesPackets(cur: Cursor): boolean {
  for (let i = cur.idx; i < cur.len; i++) if (cur.batch.cpu_dead[i]!.packets.flow.length > 0) return true;
  return false;
}

/**
 * The earliest time an input still to come could make this CPU send. Most inputs cannot (an
 * enqueue, an IPI, a wake-up only make work here). Those that can: RFS traffic (head reports),
 * and what hotplug and IRQ moves bring — a forward or a dead CPU's backlog to re-inject, a NIC
 * queue to take over, any enqueue while this CPU is offline. Before the next scheduled change
 * (a pending command), none can come once:
 *  - offline, or going offline: every peer has gone past our offline time (offlineSettled);
 *  - online: the hand-overs and forwards of the last mask change that touched our role (the
 *    lowest online CPU, a source's owner: hotplugRole) have landed (settleNs), and no source
 *    whose IRQ (or pinned task) belongs here is still elsewhere. Until then, when the role is
 *    only a source's owner (not a forwardTarget), only hand-overs can come, hotplug_latency_ns away.
 */
function sendsCausedByInputsNs(cpu: CpuState, inputBoundNs: number, socket: boolean): number {
  // An enqueue to come is processed here, and its packet sent on to a remote socket.
  if (cpu.rfsOn || socket) return inputBoundNs;
  // Going down (a busy CPU finishes its net_rx_action first): the hand-over itself counts in
  // nextSendCapableNs; what is addressed to us is what it would be once we are down.
  const goingDown = cpu.pendingHotplug.length === 1 && cpu.pendingHotplug[0] === "offline";
  if (cpu.pendingHotplug.length > 0 && !goingDown) return inputBoundNs;
  if (!cpu.online || goingDown) return offlineSettled(cpu, inputBoundNs) ? Math.max(inputBoundNs, cpu.pendingCommandTimes.earliest()) : inputBoundNs;
  // A peer whose bit is clear has not gone down yet, or its dev_cpu_dead record has not been
  // applied here: a busy peer goes down after its net_rx_action, at a time no bound predicts, and
  // hands its backlog to the lowest online CPU then. That CPU waits for the record in lock-step.
  if (cpu.downsAwaitedTotal > 0 && lowestOnline(cpu.onlineMask) === cpu.id) return inputBoundNs;
  const settle = settleNs(cpu);
  if (cpu.clock < cpu.lastForwardTargetNs + settle) return inputBoundNs;
  // Only NIC queues and senders can still come: the hand-overs of the last change, or of an
  // awaited source (an overloaded NAPI keeps its queue until it completes). A hand-over travels
  // hotplug_latency_ns from a decision no earlier than the input bound less the slack (see the top).
  if (cpu.clock < cpu.lastRoleChangeNs + settle || awaitsSource(cpu))
    return Math.max(inputBoundNs, inputBoundNs - lookaheadSlackNs(cpu) + cpu.costs.hotplug_latency_ns);
  return Math.max(inputBoundNs, cpu.pendingCommandTimes.earliest());
}

/**
 * An offline CPU sends only what reaches it (forwards to the survivor's netif_rx, hand-overs
 * passed on), and only records addressed to it do: an enqueue, a forward, a dead CPU's backlog,
 * a NIC queue. Every CPU picks those targets from its online mask at the moment it decides (RPS's
 * get_rps_cpu, lowestOnline, sourceOwner), and every CPU applies our offline command at the same
 * virtual time T before anything else at T — so no CPU decides to send us one at or after T
 * (until a later online command, a pending command that bounds the promise anyway). Once every
 * promise we hold is at least T + lookaheadSlackNs, no peer will decide anything before T any
 * more, and what peers decided before T went out before those promises (a batch travels ahead of
 * the promises made after it, or with them), so it has been delivered to us: the records still
 * unapplied are in `inbound` and count in nextSendCapableNs. Nothing else can come. Until then,
 * what arrives from inputBoundNs on is forwarded at its arrival: lock-step with the inputs.
 */
function offlineSettled(cpu: CpuState, inputBoundNs: number): boolean {
  return inputBoundNs >= cpu.maskOfflineNs + lookaheadSlackNs(cpu);
}

/** How long after a mask change hand-overs, dead CPUs' backlogs and forwards can still arrive. */
export function settleNs(cpu: CpuState): number {
  const L = cpu.costs;
  return L.hotplug_latency_ns + L.rps_latency_ns + 2 * cpu.windowNs + cpu.maxIrqOffNs + cpu.maxLatencyMin;
}

/**
 * Whether hotplug records can be addressed to this CPU under its current online mask and IRQ
 * affinities: it is the lowest online CPU (dead CPUs' backlogs and forwards go there) or the owner
 * of a source (NIC queues and senders are handed to their owner). A CPU with no such role in the
 * masks before and after a change receives none of that change's hand-overs or forwards.
 */
export function hotplugRole(cpu: CpuState): boolean {
  if (lowestOnline(cpu.onlineMask) === cpu.id) return true;
  const n = sourceCount(cpu.cfg);
  for (let s = 0; s < n; s++) if (sourceOwner(cpu.cfg, s, cpu.onlineMask) === cpu.id) return true;
  return false;
}

/**
 * Whether forwards and dead CPUs' backlogs can be addressed to this CPU under its current mask:
 * they go to the lowest online CPU, from CPUs that are offline or going offline (their bit is
 * clear). A change with this CPU in that role before or after it is waited out in lock-step.
 */
export function forwardTarget(cpu: CpuState): boolean {
  return lowestOnline(cpu.onlineMask) === cpu.id && cpu.onlineMask.includes(0);
}

/** A source whose IRQ (or pinned task) belongs on this CPU is not here yet. */
function awaitsSource(cpu: CpuState): boolean {
  const n = sourceCount(cpu.cfg);
  for (let s = 0; s < n; s++) if (!cpu.sources.has(s) && sourceOwner(cpu.cfg, s, cpu.onlineMask) === cpu.id) return true;
  return false;
}
