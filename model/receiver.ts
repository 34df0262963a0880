// The receiving task: a UDP socket read by one task pinned to a CPU (recvmsg in a loop, as the
// measured receiver on CPU 1 does). Packets that leave the stack — process_backlog, or the device
// poll without RPS — are queued on the socket by the CPU that processed them (udp_queue_rcv_skb:
// a cost there), dropped when the receive buffer is full (UDP's RcvbufErrors: `rcvbuf_errors`),
// and wake the task (sock_def_readable → try_to_wake_up: from another CPU that is a wake-up IPI
// on the task's CPU). The task then spends CPU time per packet on its own CPU, competing with the
// softirq work there.
//
// The socket belongs to the task's CPU: a delivery from another CPU is a record (messages.ts
// `socket`) applied there, as RPS enqueues are, so the rmem test is decided where the queue lives.
// Read beside net/ipv4/udp.c and net/core/sock.c (docs/DESIGN.md §1.11).
import { assert } from "./assert.ts";
import { pushRecord } from "./messages.ts";
import type { CpuState } from "./cpu-state.ts";
import type { Task } from "./task.ts";

/** skb->truesize of a packet of `bytes`: the head's kmalloc bucket (2^n, at least 512 B, with
 *  headroom and skb_shared_info) plus struct sk_buff — 768 B for a small UDP packet. */
export function truesize(bytes: number): number {
  let head = 512;
  while (head < bytes + 320) head *= 2;
  return head + 256;
}

/** A processed packet goes to the socket (called where __netif_receive_skb() consumed it, at atNs). */
// udp.c: udp_queue_rcv_skb()
export function socketDeliver(cpu: CpuState, flow: number, seq: number, source: number, injectNs: number, atNs: number): void {
  const to = cpu.cfg.receiver!.cpu;
  cpu.c.sock_delivered++;
  if (to === cpu.id) return socketEnqueue(cpu, cpu.id, flow, seq, source, injectNs, atNs);
  pushRecord(cpu.batchTo(to).socket, flow, seq, source, injectNs, atNs);
}

/**
 * __udp_enqueue_schedule_skb() on the socket's CPU: refused when sk_rmem_alloc is already above
 * sk_rcvbuf (bytes), or when the queue holds rmem packets; else queued, and the task woken.
 */
// udp.c: __udp_enqueue_schedule_skb()
export function socketEnqueue(cpu: CpuState, from: number, flow: number, seq: number, source: number, injectNs: number, sendNs: number): void {
  const sock = cpu.socket!;
  const rcv = cpu.cfg.receiver!;
  cpu.c.sock_in++;
  const size = rcv.rmem.kind === "bytes" ? truesize(cpu.packetSizes.bytes(source, injectNs)) : 1;
  if (rcv.rmem.kind === "bytes" ? sock.used > rcv.rmem.limit : sock.used + 1 > rcv.rmem.limit) {
    cpu.c.rcvbuf_errors++;
    return;
  }
  sock.used += size;
  sock.queue.push(flow, seq, source, injectNs, from);
  const task = sock.task;
  if (task.state !== "interruptible") return;
  cpu.c.sock_wakeups++;
  if (from === cpu.id) {
    cpu.wakeTask(task, Math.max(cpu.now, sendNs));
    return;
  }
  // try_to_wake_up() from another CPU queues the task on our wake list and sends an IPI: its
  // handler runs here (hardirq) before the task does.
  cpu.c.sock_wakeup_ipis++;
  cpu.charge("hardirq", cpu.costs.irq_entry_ns);
  cpu.wakeTask(task, cpu.now);
}

/** One recvmsg(): a packet off the socket, copied to the user; the task sleeps on an empty socket. */
// udp.c: udp_recvmsg()
export function receiverStep(cpu: CpuState, task: Task): void {
  const sock = cpu.socket!;
  const q = sock.queue;
  if (q.length === 0) {
    task.state = "interruptible";
    return;
  }
  const rcv = cpu.cfg.receiver!;
  const source = q.peekSource();
  const inject = q.peekInject();
  sock.used -= rcv.rmem.kind === "bytes" ? truesize(cpu.packetSizes.bytes(source, inject)) : 1;
  q.shift();
  assert(sock.used >= 0, "socket: negative sk_rmem_alloc");
  cpu.c.sock_consumed++;
  cpu.charge("task", rcv.per_packet_ns + cpu.copyCostNs(source, inject));
  if (q.length > 0) cpu.enqueueTask(task);
  else task.state = "interruptible";
}
