// Task work that calls netif_rx() (docs/DESIGN.md §1.7, §1.11): a loopback sender's sendmsg(),
// and dev_cpu_dead()'s re-injection of a dead CPU's backlog. Read beside net/core/dev.c.
import type { CpuState } from "./cpu-state.ts";
import { flushRpsIpis } from "./ipi.ts";
import { netifRx } from "./receive.ts";
import type { Task } from "./task.ts";

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
  // netif_rx may charge on its own (a remote wake-up): what it returns is the rest of its cost.
  const start = Math.max(cpu.now, cpu.busyUntil);
  let t = start;
  while (q.length > 0) {
    t += netifRx(cpu, q.peekFlow(), q.peekSeq(), q.peekSource(), q.peekInject(), t);
    q.shift();
  }
  cpu.charge("task", t - start);
  flushRpsIpis(cpu, cpu.busyUntil, true);
}
