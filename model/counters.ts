// A CPU's counters: their start, and the invariants they keep (the shape is model/results.ts CpuCounters).
import { assert } from "./assert.ts";
import { LATENCY_BUCKETS_NS, type CpuCounters } from "./results.ts";

/** n CPUs in the run, `queues` NIC queues. */
export function newCounters(cpu: number, n: number, queues: number): CpuCounters {
  return {
    cpu,
    online: true,
    processed: 0,
    dropped: 0,
    time_squeeze: 0,
    received_rps: 0,
    flow_limit_count: 0,
    input_qlen: 0,
    process_qlen: 0,
    backlog_scheduled: false,
    ipis_sent: 0,
    net_rx_softirqs: 0,
    net_rx_ipi_flushes: 0,
    irq_call_count: 0,
    nic_irqs: new Array<number>(queues).fill(0),
    thread_wakeups: 0,
    lost_wakeups: 0,
    ksoftirqd_wakeups: 0,
    rt_flush_warnings: 0,
    softirq_raises: { nic_irq: 0, rps_ipi: 0, local_enqueue: 0, repoll: 0, hotplug: 0 },
    busy_ns: { hardirq: 0, softirq: 0, task: 0, idle_flush: 0, irqs_off: 0, stalled: 0 },
    drops_by_reason: { rx_ring_full: 0, cpu_backlog: 0, flow_limit: 0 },
    injected: 0,
    queued: 0,
    reordered: 0,
    latency_buckets: new Array<number>(LATENCY_BUCKETS_NS.length + 1).fill(0),
    latency_sum_ns: 0,
    latency_max_ns: 0,
    hotplug_offline: 0,
    hotplug_online: 0,
    now_ns: 0,
    sock_delivered: 0,
    sock_in: 0,
    sock_consumed: 0,
    rcvbuf_errors: 0,
    sock_queued: 0,
    sock_wakeups: 0,
    sock_wakeup_ipis: 0,
    packets_out: 0,
    packets_in: 0,
    attributed: {
      ipis_sent: new Array<number>(n).fill(0),
      flow_limit_count: new Array<number>(n).fill(0),
      ipi_softirq_flushes: Array.from({ length: n }, () => []),
    },
  };
}

/**
 * The invariants a CPU's counters keep, checked at each snapshot (a checkpoint, not the hot path):
 * no count is negative, every backlog drop has its reason, and the socket's packets are accounted
 * for (what came in was read, refused or is still queued).
 */
export function assertCounters(c: CpuCounters): void {
  assertNoNegative(c);
  assert(c.dropped === c.drops_by_reason.cpu_backlog + c.drops_by_reason.flow_limit, "softnet dropped != backlog drops by reason");
  assert(c.sock_in === c.sock_consumed + c.rcvbuf_errors + c.sock_queued, "socket: in != consumed + refused + queued");
}

function assertNoNegative(v: unknown, path = ""): void {
  if (typeof v === "number") assert(!(v < 0), `a negative counter: ${path} = ${v}`);
  else if (Array.isArray(v)) v.forEach((x, i) => assertNoNegative(x, `${path}[${i}]`));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) assertNoNegative(x, path ? `${path}.${k}` : k);
}
