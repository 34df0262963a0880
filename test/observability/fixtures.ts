// Hand-built CpuCounters for tests that must not depend on the engine: distinct, recognisable
// values per CPU and per field so a mixed-up label or column shows up as a wrong number.
import { newCounters } from "../../model/counters.ts";
import { CONTEXTS, DROP_REASONS, LATENCY_BUCKETS_NS, RAISE_SOURCES, type CpuCounters } from "../../model/results.ts";

export function fakeCounters(cpu: number, online = true, scale = 1): CpuCounters {
  const k = (cpu + 1) * scale;
  const record = <K extends string>(keys: readonly K[], base: number): Record<K, number> =>
    Object.fromEntries(keys.map((key, i) => [key, base * k + i])) as Record<K, number>;
  const latency_buckets = Array.from({ length: LATENCY_BUCKETS_NS.length + 1 }, (_, i) => (i % 3) * k + i);
  // Fields no test here reads (socket stage, per-peer attribution) stay as a new CPU has them.
  return {
    ...newCounters(cpu, 0, 0),
    cpu,
    online,
    processed: 100_000 * k + 11,
    dropped: 700 * k + 3,
    time_squeeze: 40 * k + 1,
    received_rps: 900 * k + 5,
    flow_limit_count: 13 * k,
    input_qlen: online ? 7 * (cpu + 1) : 0,
    process_qlen: online ? 3 * (cpu + 1) : 0,
    backlog_scheduled: online,
    ipis_sent: 1000 * k + 2,
    net_rx_softirqs: 1200 * k,
    irq_call_count: 800 * k + 1,
    nic_irqs: [cpu === 0 ? 3000 * scale : 0, 17 * k],
    thread_wakeups: 50 * k,
    lost_wakeups: cpu,
    ksoftirqd_wakeups: 20 * k,
    rt_flush_warnings: cpu === 1 ? 2 : 0,
    softirq_raises: record(RAISE_SOURCES, 100),
    busy_ns: record(CONTEXTS, 1_000_000),
    drops_by_reason: record(DROP_REASONS, 10),
    injected: 100_800 * k,
    queued: online ? 10 * (cpu + 1) : 0,
    reordered: cpu * 2,
    latency_buckets,
    latency_sum_ns: latency_buckets.reduce((a, b) => a + b, 0) * 30_000,
    latency_max_ns: 40_000_000,
    hotplug_offline: online ? 0 : 1,
    hotplug_online: 0,
    now_ns: 2_000_000_000,
  };
}
