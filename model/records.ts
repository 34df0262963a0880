// What a record from a peer does when it takes effect on this CPU (docs/DESIGN.md §2.3): the
// kernel function the enqueuer, the flusher or the dying CPU would have run here, run here.
import type { CpuState } from "./cpu-state.ts";
import { cpuDeadArrived, queueHandoverArrived } from "./hotplug.ts";
import type { Cursor } from "./inbox.ts";
import { RECORD_KIND, SOCKET_RECORD_KIND } from "./messages.ts";
import { chargeArrived, ipiFlushArrived } from "./ipi.ts";
import { enqueueFromRemote, forward } from "./receive.ts";
import { socketEnqueue } from "./receiver.ts";

const { CPU_DEAD: K_CPU_DEAD, QUEUE: K_QUEUE, FORWARD: K_FORWARD, ENQUEUE: K_ENQUEUE, FLUSH: K_FLUSH, RFS: K_RFS, CHARGE: K_CHARGE, HOST: K_HOST } = RECORD_KIND;

/** Apply the record under the cursor, at cur.at. */
export function applyRecord(cpu: CpuState, cur: Cursor): void {
  const b = cur.batch;
  const i = cur.idx;
  switch (cur.kind) {
    case K_ENQUEUE: {
      const e = b.enqueues;
      cpu.c.packets_in++;
      enqueueFromRemote(cpu, b.from, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!, e.send_ns[i]!);
      break;
    }
    case K_FORWARD: {
      const e = b.forwarded;
      cpu.c.packets_in++;
      if (!cpu.online) forward(cpu, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!);
      else cpu.reinject.push(e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!);
      break;
    }
    case K_FLUSH:
      ipiFlushArrived(cpu, b.from, b.flushes.flush_id[i]!, b.flushes.raised_softirq[i]! === 1);
      break;
    case K_QUEUE:
      queueHandoverArrived(cpu, b.queue_handovers[i]!);
      break;
    case K_CPU_DEAD:
      cpuDeadArrived(cpu, b.cpu_dead[i]!);
      break;
    case SOCKET_RECORD_KIND: {
      const e = b.socket;
      socketEnqueue(cpu, b.from, e.flow[i]!, e.seq[i]!, e.source[i]!, e.inject_ns[i]!, e.send_ns[i]!);
      break;
    }
    case K_RFS:
      cpu.rfsPassedSeen[b.from] = Math.max(cpu.rfsPassedSeen[b.from]!, b.rfs_heads.passed[i]!);
      break;
    case K_CHARGE:
      chargeArrived(cpu, cur.at, b.charges.kind[i]!, b.charges.flush_id[i]!);
      break;
    case K_HOST:
      cpu.host?.word(b.from, b.host.at_ns[i]!, b.host.demand[i]!);
      break;
  }
}
