// CPU hotplug: offline runs dev_cpu_dead() for the dead CPU — its backlog is re-injected through
// netif_rx on a survivor — parks its threads and moves its IRQs; online brings empty queues and
// unparked threads, with every counter kept (docs/DESIGN.md §1.7).
// Read beside net/core/dev.c (dev_cpu_dead) and kernel/cpu.c.
import { assert } from "./assert.ts";
import type { CpuState } from "./cpu-state.ts";
import { emptyPacketArrays, type CpuDeadHandover, type QueueHandover } from "./messages.ts";
import { NAPI_STATE_SCHED, NAPI_STATE_THREADED } from "./napi.ts";
import { nicFillRing } from "./nic.ts";
import { lowestOnline, newSource, sourceOwner, type SourceState } from "./sources.ts";
import { napiScheduleDevice } from "./napi-schedule.ts";
import { forwardAll } from "./receive.ts";
import { rfsPassed, rfsReport } from "./rps.ts";
import { replayMissedSourceCommands } from "./source-commands.ts";
import type { Task } from "./task.ts";

/** The CPU goes away: hand its queues and sources on, park its threads. */
// dev.c: dev_cpu_dead(); cpu.c: takedown_cpu()
export function cpuOffline(cpu: CpuState): void {
  const sd = cpu.sd;
  cpu.online = false;
  cpu.c.hotplug_offline++;
  cpu.c.online = false;
  const survivor = lowestOnline(cpu.onlineMask);

  // Pending IPIs of a dead CPU: none. This runs between steps, outside net_rx_action and any
  // poll, and every step that enqueues to a peer flushes before it ends.
  assert(cpu.remoteSinceFlushCount === 0, "going offline with RPS IPIs not sent");

  // The device NAPIs on poll_list move with their queues (below); the backlog's state is reset.
  sd.poll_list = [];
  sd.backlog.listed = false;
  sd.backlog.state &= NAPI_STATE_THREADED;
  sd.in_net_rx_action = false;
  sd.in_napi_threaded_poll = false;

  // process_queue first, then input_pkt_queue, to netif_rx() on the survivor.
  const h: CpuDeadHandover = { oldcpu: cpu.id, at_ns: cpu.now, packets: emptyPacketArrays() };
  for (const q of [sd.process_queue, sd.input_pkt_queue]) {
    while (q.length > 0) {
      rfsPassed(cpu, q.peekEnqueuer());
      h.packets.flow.push(q.peekFlow());
      h.packets.seq.push(q.peekSeq());
      h.packets.source.push(q.peekSource());
      h.packets.inject_ns.push(q.peekInject());
      q.shift();
      sd.input_queue_head++;
    }
  }
  // The survivor gets the queues; every other peer an empty record that says we are down (the
  // lookahead's marker: lookahead.ts).
  cpu.countOut(h.packets.flow.length);
  for (let p = 0; p < cpu.cfg.cpus; p++) {
    if (p === survivor) {
      if (p !== cpu.id || h.packets.flow.length > 0) cpu.batchTo(p).cpu_dead.push(h);
    } else if (p !== cpu.id) {
      cpu.batchTo(p).cpu_dead.push({ oldcpu: cpu.id, at_ns: cpu.now, packets: emptyPacketArrays() });
    }
  }
  rfsReport(cpu, cpu.now);
  if (cpu.reinject.length > 0) forwardAll(cpu, cpu.reinject);

  for (const s of [...cpu.sources.values()]) handOver(cpu, s, sourceOwner(cpu.cfg, s.index, cpu.onlineMask));

  // smpboot parks backlog_napi/N and ksoftirqd/N; nothing runs here any more.
  cpu.backlogThread.state = "parked";
  cpu.ksoftirqd.state = "parked";
  cpu.backlogThread.onRq = false;
  cpu.ksoftirqd.onRq = false;
  cpu.runqueue.length = 0;
  cpu.ipiPending = 0;
  cpu.nicIrqPending.length = 0;
  cpu.softirqPending = false;
  cpu.deferToKsoftirqd = false;
  cpu.run = null;
  cpu.ipiOwed.fill(0);
  cpu.lastTask = null;
}

/** The CPU comes back: empty queues, threads unparked, counters untouched. */
// cpu.c: cpuhp_online_idle()
export function cpuOnline(cpu: CpuState): void {
  cpu.online = true;
  cpu.c.online = true;
  cpu.c.hotplug_online++;
  cpu.backlogThread.state = "interruptible";
  cpu.ksoftirqd.state = "interruptible";
  cpu.rehomeNeeded = true;
  rehomeSources(cpu);
}

/**
 * Give away the sources whose owner changed with the online mask (IRQ affinity, task pinning).
 * A NIC queue whose NAPI is being polled moves when the poll completes, as an IRQ does.
 */
// cpuhotplug.c: irq_migrate_all_off_this_cpu()
export function rehomeSources(cpu: CpuState): void {
  if (!cpu.online || !cpu.rehomeNeeded) return;
  let waiting = false;
  for (const s of [...cpu.sources.values()]) {
    const owner = sourceOwner(cpu.cfg, s.index, cpu.onlineMask);
    if (owner === cpu.id) continue;
    if (s.kind === "nic" && s.napi.state & NAPI_STATE_SCHED) waiting = true;
    else handOver(cpu, s, owner);
  }
  cpu.rehomeNeeded = waiting;
}

/** A source leaves for `to`: its ring and generator travel, it is off every list here. */
function handOver(cpu: CpuState, s: SourceState, to: number): void {
  if (s.kind === "nic") nicFillRing(cpu, s, cpu.now);
  const scheduled = s.kind === "nic" && (s.napi.state & NAPI_STATE_SCHED) !== 0;
  const h: QueueHandover = {
    queue: s.index,
    at_ns: cpu.now,
    napi_scheduled: scheduled,
    ring: emptyPacketArrays(),
    generator: s.gen.save(),
  };
  s.ring.drainInto(h.ring);
  cpu.countOut(h.ring.flow.length);
  cpu.batchTo(to).queue_handovers.push(h);
  cpu.sources.delete(s.index);
  cpu.nicSources = cpu.nicSources.filter((x) => x !== s);
  // Off every list of ours: poll_list, the running net_rx_action's lists, the IRQ queue.
  cpu.sd.poll_list = cpu.sd.poll_list.filter((n) => n !== s.napi);
  if (cpu.run) {
    cpu.run.list = cpu.run.list.filter((n) => n !== s.napi);
    cpu.run.repoll = cpu.run.repoll.filter((n) => n !== s.napi);
  }
  const irq = cpu.nicIrqPending.indexOf(s.index);
  if (irq >= 0) cpu.nicIrqPending.splice(irq, 1);
  const task = cpu.senderTasks.get(s.index);
  if (task) {
    cpu.senderTasks.delete(s.index);
    const i = cpu.runqueue.indexOf(task);
    if (i >= 0) cpu.runqueue.splice(i, 1);
    if (cpu.lastTask === task) cpu.lastTask = null;
  }
}

/** A NIC queue (or a sender) handed to this CPU arrived. */
export function queueHandoverArrived(cpu: CpuState, h: QueueHandover): void {
  cpu.c.packets_in += h.ring.flow.length;
  const s = newSource(cpu.cfg, h.queue, h.generator);
  // What the old owner injected ends here (it filled its ring up to at_ns before handing over).
  s.lastInjectNs = h.at_ns;
  for (let i = 0; i < h.ring.flow.length; i++) s.ring.push(h.ring.flow[i]!, h.ring.seq[i]!, h.ring.source[i]!, h.ring.inject_ns[i]!, cpu.id);
  // A rate or hot_flow command that came while the source was on its way found no owner.
  replayMissedSourceCommands(cpu, s, h.at_ns);
  if (!cpu.online) {
    // Sent to us before we went away: pass it on.
    cpu.sources.set(s.index, s);
    cpu.nicSources.push(s);
    if (h.napi_scheduled) s.napi.state |= NAPI_STATE_SCHED;
    handOver(cpu, s, sourceOwner(cpu.cfg, s.index, cpu.onlineMask));
    return;
  }
  adoptSource(cpu, s, h.napi_scheduled, cpu.now);
  cpu.rehomeNeeded = true;
  rehomeSources(cpu);
}

/** A dead CPU's backlog arrived: re-inject it through netif_rx here. */
// dev.c: dev_cpu_dead()
export function cpuDeadArrived(cpu: CpuState, h: CpuDeadHandover): void {
  if (h.oldcpu !== cpu.id && (cpu.downsAwaited[h.oldcpu] ?? 0) > 0) {
    cpu.downsAwaited[h.oldcpu]!--;
    cpu.downsAwaitedTotal--;
  }
  const p = h.packets;
  cpu.c.packets_in += p.flow.length;
  for (let i = 0; i < p.flow.length; i++) cpu.reinject.push(p.flow[i]!, p.seq[i]!, p.source[i]!, p.inject_ns[i]!, cpu.id);
  if (!cpu.online) forwardAll(cpu, cpu.reinject);
}

/** This CPU takes a source: a sender's task sleeps until its first packet, a scheduled NAPI is listed. */
export function adoptSource(cpu: CpuState, s: SourceState, napiScheduled: boolean, atNs: number): void {
  cpu.sources.set(s.index, s);
  cpu.nicSources = [...cpu.sources.values()].filter((x) => x.kind === "nic");
  if (s.kind === "sender") {
    const t: Task = { kind: "sender", source: s.index, state: "interruptible", onRq: false };
    cpu.senderTasks.set(s.index, t);
    cpu.scheduleSenderWake(t, atNs);
  } else if (napiScheduled) {
    s.napi.state |= NAPI_STATE_SCHED;
    napiScheduleDevice(cpu, s.napi);
  }
}
