// Defaults: the kernel's sysctl defaults (docs/DESIGN.md §1.8) and the cost model's documented figures.
import type { CostModel, Sysctls } from "./config.ts";

export const DEFAULT_SYSCTLS: Readonly<Sysctls> = {
  netdev_max_backlog: 1000,
  netdev_budget: 300,
  netdev_budget_usecs: 8000, // 2 jiffies at HZ=250, Debian's kernels
  dev_weight: 64,
  dev_weight_rx_bias: 1,
  flow_limit_cpu_bitmap: [],
  flow_limit_table_len: 4096,
  rps_sock_flow_entries: 0,
};

export const DEFAULT_HZ = 250;

/**
 * Costs in virtual ns, in the range measured on current x86 servers; every one is a knob
 * (`costs:` in a scenario file). The cross-CPU latencies bound the exact window (docs/DESIGN.md §2.2):
 * the smallest of rps_latency_ns, ipi_latency_ns, wakeup_latency_ns, hotplug_latency_ns, charge_latency_ns.
 */
export const DEFAULT_COSTS: Readonly<CostModel> = {
  nic_rx_per_packet_ns: 250,
  rps_enqueue_per_packet_ns: 120,
  // A handful of cache lines owned by another CPU (~100 ns each in a KVM guest).
  rps_remote_enqueue_ns: 400,
  process_per_packet_ns: 2000,
  send_per_packet_ns: 500,
  copy_per_byte_ps: 250,
  irq_entry_ns: 600,
  softirq_entry_ns: 300,
  ipi_send_ns: 250,
  wakeup_ns: 500,
  charge_latency_ns: 1_000_000,
  ipi_latency_ns: 4000,
  rps_latency_ns: 2000,
  wakeup_latency_ns: 3000,
  context_switch_ns: 2000,
  hotplug_latency_ns: 50_000,
  idle_exit_ns: 10_000,
};

/** The largest window that keeps the window semantics exact for these costs. */
export function exactWindowNs(costs: CostModel): number {
  return Math.min(costs.rps_latency_ns, costs.ipi_latency_ns, costs.wakeup_latency_ns, costs.hotplug_latency_ns, costs.charge_latency_ns);
}

export const DEFAULT_RING_SIZE = 1024;

/**
 * NIC interrupt coalescing defaults (ethtool -C rx-usecs / rx-frames). 0 and 0: an interrupt at
 * the first packet after the NAPI re-armed it. That is virtio-net's default (no coalescing unless
 * the device offers VIRTIO_NET_F_NOTF_COAL, which QEMU's user-mode network does not: the measured
 * reference setup) and what a real NIC with moderation turned off does; batching then comes from
 * NAPI itself, which keeps the IRQ masked while it polls and takes what arrived meanwhile. Real
 * NICs moderate by default — Intel's drivers adapt around 50 µs with no frame count (rx_usecs 50),
 * mlx5 uses 8 µs / 32 frames — set per queue in a scenario.
 */
export const DEFAULT_RX_USECS = 0;
export const DEFAULT_RX_FRAMES = 0;
export const DEFAULT_PACKET_BYTES = 64;
