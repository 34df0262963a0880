// Hardirqs, NET_RX softirq processing and the threads that poll (docs/DESIGN.md §1.3–§1.6):
// net_rx_action, napi_poll, process_backlog, the device poll, backlog_napi/N and ksoftirqd/N.
// Read beside net/core/dev.c, kernel/softirq.c and kernel/smp.c.
import { assert } from "./assert.ts";
import type { CpuState, NetRxRun } from "./cpu-state.ts";
import { NAPI_STATE_SCHED, NAPI_STATE_SCHED_THREADED, NAPI_STATE_THREADED, type Napi } from "./napi.ts";
import { nicFillRing } from "./nic.ts";
import type { ExecContext } from "./results.ts";
import { flushRpsIpis, rpsTriggerSoftirq } from "./ipi.ts";
import { napiScheduleDevice } from "./napi-schedule.ts";
import { netifReceiveSkb, netifReceiveSkbCore, processCostNs } from "./receive.ts";
import { rfsPassed, rfsReport } from "./rps.ts";
import { rehomeSources } from "./hotplug.ts";
import type { Task } from "./task.ts";

/** __do_softirq() gives up after 10 restarts or 2 ms and wakes ksoftirqd. */
const MAX_SOFTIRQ_RESTART = 10;
const MAX_SOFTIRQ_TIME_NS = 2_000_000;

/**
 * Pending hardirqs: NIC IRQs and call-function IPIs. An IPI that finds the CPU polling in idle is
 * not an interrupt: do_idle() runs flush_smp_call_function_queue(), and on PREEMPT_RT
 * do_softirq_post_smp_call_flush() warns when a callback raised a softirq (docs/DESIGN.md §1.6).
 */
// softirq.c: irq_exit(); smp.c: generic_smp_call_function_single_interrupt()
export function hardirq(cpu: CpuState): void {
  const idle =
    cpu.cfg.idle_poll &&
    cpu.nicIrqPending.length === 0 &&
    cpu.busyUntil <= cpu.now &&
    cpu.run === null &&
    cpu.polling === null &&
    cpu.runqueue.length === 0 &&
    !cpu.softirqPending;
  if (idle) return idleFlush(cpu);

  cpu.charge("hardirq", cpu.costs.irq_entry_ns);
  for (const q of cpu.nicIrqPending) {
    const s = cpu.sources.get(q);
    if (s) napiScheduleDevice(cpu, s.napi);
    // kstat_incr_irqs_this_cpu(): counted where the handler runs (NIC sources come first: index = queue).
    if (q < cpu.c.nic_irqs.length) cpu.c.nic_irqs[q]!++;
  }
  if (cpu.nicIrqPending.length > 0) cpu.nicIrqPending.length = 0;
  const ipis = cpu.ipiPending;
  // One call-function interrupt serves every IPI pending by now (the call_single_queue was non-empty).
  if (ipis > 0) cpu.c.irq_call_count++;
  for (let i = 0; i < ipis; i++) rpsTriggerSoftirq(cpu);
  cpu.ipiPending = 0;
  // irq_exit(): on PREEMPT_RT a softirq raised in hardirq context (the IPI) goes to ksoftirqd;
  // the NIC's handler is force-threaded there and runs its softirq on the way out, like non-RT.
  if (ipis > 0 && cpu.softirqPending && cpu.cfg.profile.preempt_rt) cpu.wakeKsoftirqd();
  else startChain(cpu);
}

/** An IPI that finds the CPU polling in idle: the callbacks run from do_idle(). */
// smp.c: flush_smp_call_function_queue()
function idleFlush(cpu: CpuState): void {
  const wasPending = cpu.softirqPending;
  cpu.charge("idle_flush", cpu.costs.irq_entry_ns);
  const ipis = cpu.ipiPending;
  cpu.ipiPending = 0;
  for (let i = 0; i < ipis; i++) rpsTriggerSoftirq(cpu);
  // do_softirq_post_smp_call_flush(was_pending)
  if (cpu.softirqPending !== wasPending) {
    if (cpu.cfg.profile.preempt_rt) {
      cpu.warnPostSmpCallFlush();
      cpu.wakeKsoftirqd(); // invoke_softirq() on RT
    } else startChain(cpu); // do_softirq()
  }
}

/** A fresh __do_softirq() invocation (irq exit, bh enable): reset the restart budget. */
// softirq.c: __do_softirq()
function startChain(cpu: CpuState): void {
  cpu.softirqRestarts = 0;
  cpu.softirqChainStartNs = cpu.now;
}

/** Start net_rx_action() in `context` (softirq on irq exit / bh enable, or ksoftirqd's task). */
// dev.c: net_rx_action()
export function netRxAction(cpu: CpuState, context: ExecContext, task: Task | null): void {
  const sd = cpu.sd;
  const s = cpu.cfg.sysctls;
  cpu.softirqPending = false;
  cpu.c.net_rx_softirqs++;
  if (task === null && cpu.softirqRestarts === 0) cpu.softirqChainStartNs = cpu.now;
  const budgetJiffies = Math.ceil((s.netdev_budget_usecs * cpu.cfg.hz) / 1e6); // usecs_to_jiffies()
  // One run object and its lists are reused: this runs for every NET_RX softirq.
  const run = cpu.runState;
  run.budget = s.netdev_budget;
  run.timeLimitJiffies = cpu.jiffies(cpu.now) + budgetJiffies;
  run.context = context;
  run.task = task;
  if (run.repoll.length > 0) run.repoll.length = 0;
  spliceInto(sd, run); // list_splice_init(&sd->poll_list, &list)
  cpu.run = run;
  sd.in_net_rx_action = true;
  cpu.charge(context, cpu.costs.softirq_entry_ns);
  netRxActionPoll(cpu);
}

/** Move sd->poll_list onto the run's (empty) list, recycling the arrays. */
function spliceInto(sd: CpuState["sd"], run: NetRxRun): void {
  const empty = run.list;
  if (empty.length > 0) empty.length = 0;
  run.list = sd.poll_list;
  sd.poll_list = empty;
}

/**
 * One iteration of net_rx_action()'s loop: poll the next NAPI, then stop on budget or time.
 */
// dev.c: net_rx_action()
export function netRxActionPoll(cpu: CpuState): void {
  const run = cpu.run!;
  const sd = cpu.sd;
  let n = cpu.polling;
  if (n === null) {
    if (run.list.length === 0) return netRxActionListEmpty(cpu, run);
    n = run.list.shift()!;
    n.listed = false;
    startPoll(cpu, n, run.context);
  }
  if (!pollStep(cpu, n)) return; // the poll goes on in the next step
  const work = napiPollDone(cpu, n, run.repoll);
  run.budget -= work;
  // "Allow this to run for 2 jiffies since which will allow an average latency of 1.5/HZ."
  if (run.budget <= 0 || cpu.jiffies(cpu.busyUntil) >= run.timeLimitJiffies) {
    sd.time_squeeze++;
    finishRun(cpu, true);
  }
}

/** net_rx_action()'s loop found its list empty: look at poll_list again, or end. */
function netRxActionListEmpty(cpu: CpuState, run: NetRxRun): void {
  const sd = cpu.sd;
  {
    if (run.repoll.length === 0) {
      sd.in_net_rx_action = false;
      // ____napi_schedule() may have refilled poll_list while in_net_rx_action was set.
      if (sd.poll_list.length > 0) {
        sd.in_net_rx_action = true;
        spliceInto(sd, run);
        return netRxActionPoll(cpu);
      }
      if (cpu.threadsMode || cpu.remoteSinceFlushCount === 0) return finishRun(cpu, false);
    }
    return finishRun(cpu, true);
  }
}

/** The end of net_rx_action(): put back what is left, re-raise, send the RPS IPIs. */
// dev.c: net_rx_action()
function finishRun(cpu: CpuState, splice: boolean): void {
  const run = cpu.run!;
  const sd = cpu.sd;
  if (splice) {
    // list + sd->poll_list + repoll becomes sd->poll_list.
    const list = run.list;
    for (const n of sd.poll_list) list.push(n);
    for (const n of run.repoll) list.push(n);
    if (run.repoll.length > 0) run.repoll.length = 0;
    for (const n of list) n.listed = true;
    run.list = sd.poll_list;
    if (run.list.length > 0) run.list.length = 0;
    sd.poll_list = list;
    if (list.length > 0) cpu.raiseNetRx("repoll");
    else sd.in_net_rx_action = false;
    if (!cpu.threadsMode) flushRpsIpis(cpu, cpu.busyUntil, false);
  }
  cpu.run = null;
  if (run.task) {
    // ksoftirqd: loop while NET_RX is pending, else sleep.
    if (cpu.softirqPending) cpu.enqueueTask(run.task);
    else {
      run.task.state = "interruptible";
      cpu.deferToKsoftirqd = false;
    }
    return;
  }
  if (!cpu.softirqPending) return;
  // __do_softirq(): restart, unless it has run too long, too often, or a task wants the CPU.
  cpu.softirqRestarts++;
  if (
    cpu.softirqRestarts >= MAX_SOFTIRQ_RESTART ||
    cpu.busyUntil - cpu.softirqChainStartNs >= MAX_SOFTIRQ_TIME_NS ||
    cpu.runqueue.length > 0
  ) {
    cpu.wakeKsoftirqd();
    cpu.softirqRestarts = 0;
  }
}

/** napi_poll() begins: n->poll(n, weight), with the weight read now. */
// dev.c: __napi_poll()
function startPoll(cpu: CpuState, n: Napi, ctx: ExecContext): void {
  cpu.polling = n;
  cpu.pollWork = 0;
  cpu.pollQuota = n.weight;
  cpu.pollFresh = true;
  cpu.pollCtx = ctx;
}

/** One step of the poll in progress; true when n->poll() has returned (cpu.pollWork = its work). */
function pollStep(cpu: CpuState, n: Napi): boolean {
  return n.kind === "device" ? devicePollStep(cpu, n) : processBacklogStep(cpu);
}

/** napi_poll() returns: a NAPI that used its whole weight goes on the repoll list, still scheduled. */
// dev.c: napi_poll()
function napiPollDone(cpu: CpuState, n: Napi, repoll: Napi[] | null): number {
  const work = cpu.pollWork;
  cpu.polling = null;
  if (work >= cpu.pollQuota && repoll !== null) {
    n.listed = true;
    repoll.push(n);
  }
  return work;
}

/**
 * A NIC driver's poll (virtio-net's virtnet_poll, say): it takes packets from its ring until the
 * quota or until the ring is empty — packets DMA'd while it works are taken too — and then
 * napi_complete_done() re-arms the IRQ, after a last look at the ring. Each step takes what the
 * ring holds at its start; when more arrived meanwhile, the next step goes on from there.
 */
// virtio_net.c: virtnet_poll(); dev.c: napi_complete_done()
function devicePollStep(cpu: CpuState, n: Napi): boolean {
  const s = cpu.sources.get(n.queue);
  if (!s) return true;
  const quota = cpu.pollQuota;
  const start = Math.max(cpu.now, cpu.busyUntil);
  nicFillRing(cpu, s, start);
  let t = start;
  let work = cpu.pollWork;
  const before = work;
  const ring = s.ring;
  while (work < quota && ring.length > 0) {
    const flow = ring.peekFlow();
    const seq = ring.peekSeq();
    const inject = ring.peekInject();
    ring.shift();
    t += cpu.costs.nic_rx_per_packet_ns;
    t += netifReceiveSkb(cpu, s, flow, seq, inject, t);
    work++;
  }
  cpu.charge(cpu.pollCtx, t - start);
  cpu.pollWork = work;
  if (work >= quota) return true;
  // Packets that reached the ring while this step ran: the driver takes them before completing.
  if (work > before && s.gen.peekNs() <= t) return false;
  n.state &= ~NAPI_STATE_SCHED; // napi_complete_done(): the IRQ is armed again
  rehomeSources(cpu);
  return true;
}

/**
 * One step of process_backlog(): the first sends pending IPIs; each processes the process queue
 * up to the quota. The input queue is looked at under the lock at the moment the process queue
 * has drained — the start of the next step, once what was enqueued meanwhile has arrived: empty,
 * the backlog completes (state &= THREADED) and only a later enqueue schedules it again (and
 * IPIs); not empty, it is spliced onto the process queue and the loop goes on in this poll.
 */
// dev.c: process_backlog()
function processBacklogStep(cpu: CpuState): boolean {
  const sd = cpu.sd;
  const start = Math.max(cpu.now, cpu.busyUntil);
  if (cpu.pollFresh) {
    cpu.pollFresh = false;
    sd.backlog.weight = cpu.cfg.sysctls.dev_weight * cpu.cfg.sysctls.dev_weight_rx_bias; // dev_rx_weight
    if (!cpu.threadsMode) flushRpsIpis(cpu, start, false);
  }
  const pq = sd.process_queue;
  if (pq.length === 0) {
    if (sd.input_pkt_queue.length === 0) {
      // We own the lock: a plain write, keeping only THREADED.
      sd.backlog.state &= NAPI_STATE_THREADED;
      return true;
    }
    sd.input_pkt_queue.spliceTailInto(pq);
  }
  const quota = cpu.pollQuota;
  let t = start;
  let work = cpu.pollWork;
  let done = false;
  while (pq.length > 0) {
    t += processCostNs(cpu, pq.peekSource(), pq.peekInject(), t);
    netifReceiveSkbCore(cpu, pq.peekFlow(), pq.peekSeq(), pq.peekInject(), t);
    rfsPassed(cpu, pq.peekEnqueuer());
    pq.shift();
    sd.input_queue_head++;
    if (++work >= quota) {
      done = true;
      break;
    }
  }
  cpu.pollWork = work;
  assert(sd.input_queue_tail - sd.input_queue_head === sd.input_pkt_queue.length + pq.length, "backlog: enqueued - left != queued");
  assert(pq.length <= cpu.backlogBound, "process_queue longer than netdev_max_backlog allows");
  cpu.charge(cpu.pollCtx, t - start);
  rfsReport(cpu, t);
  return done;
}

/**
 * backlog_napi/N: smpboot_thread_fn() runs run_backlog_napi() while thread_should_run() (the
 * SCHED_THREADED bit) holds, else sleeps. Threaded polling counts no time_squeeze.
 */
// dev.c: run_backlog_napi()
export function backlogThreadStep(cpu: CpuState, task: Task): void {
  const sd = cpu.sd;
  if (cpu.polling === null) {
    if (!(sd.backlog.state & NAPI_STATE_SCHED_THREADED)) {
      task.state = "interruptible";
      return;
    }
    sd.in_napi_threaded_poll = true;
    startPoll(cpu, sd.backlog, "task");
  }
  if (!pollStep(cpu, sd.backlog)) return; // step() resumes it before any other task
  const work = napiPollDone(cpu, sd.backlog, null);
  sd.in_napi_threaded_poll = false;
  // Repoll (the whole weight used), or loop back to thread_should_run().
  if (work >= cpu.pollQuota || sd.backlog.state & NAPI_STATE_SCHED_THREADED) cpu.enqueueTask(task);
  else task.state = "interruptible";
}

/** ksoftirqd/N: run NET_RX while it is pending. */
// softirq.c: run_ksoftirqd()
export function ksoftirqdStep(cpu: CpuState, task: Task): void {
  if (!cpu.softirqPending) {
    task.state = "interruptible";
    cpu.deferToKsoftirqd = false;
    return;
  }
  netRxAction(cpu, "task", task);
}

