// The resolved configuration of one emulated host: what the model core needs to run.
// Scenario files and CLI flags are parsed into this shape by cli/; the model never reads files.

/** Kernel build and boot switches (docs/DESIGN.md §1.9). */
export interface Profile {
  name: string;
  /** CONFIG_PREEMPT_RT: force-threaded irqs, softirq raised in hardirq wakes ksoftirqd. */
  preempt_rt: boolean;
  /** Backlog NAPI runs in smpboot threads `backlog_napi/N` (patch 2; always on RT after it). */
  backlog_threads: boolean;
  /** Patch 1: `unconditional` sets SCHED_THREADED on every wake-up; `conditional` skips it
   *  when the thread sleeps in TASK_INTERRUPTIBLE (the lost wake-up). */
  threaded_wakeup: "conditional" | "unconditional";
  /** Patch 2's use_local_napi: a backlog scheduled on its own CPU stays in softirq. */
  local_napi_shortcut: boolean;
}

/** The sysctls of docs/DESIGN.md §1.8, with the kernel's names (net.core.*) minus the prefix. */
export interface Sysctls {
  netdev_max_backlog: number;
  netdev_budget: number;
  /** In microseconds, as the sysctl; converted to jiffies with `hz` (at least 1 jiffy... see net_rx_action). */
  netdev_budget_usecs: number;
  dev_weight: number;
  dev_weight_rx_bias: number;
  /** CPUs whose flow limiter is on (net.core.flow_limit_cpu_bitmap). */
  flow_limit_cpu_bitmap: number[];
  flow_limit_table_len: number;
  rps_sock_flow_entries: number;
}

/** Costs of the execution model, in virtual nanoseconds. Defaults in model/defaults.ts. */
export interface CostModel {
  /** Driver RX work per packet in a device NAPI poll (DMA unmap, skb build, GRO). */
  nic_rx_per_packet_ns: number;
  /** get_rps_cpu + enqueue_to_backlog on the enqueuing CPU, per packet. */
  rps_enqueue_per_packet_ns: number;
  /** On top of it when the backlog is another CPU's: the cache lines of its softnet_data (lock,
   *  queue, tail) move to the enqueuing CPU and back. */
  rps_remote_enqueue_ns: number;
  /** __netif_receive_skb_core and the protocol stack up to the socket, per packet. */
  process_per_packet_ns: number;
  /** A loopback sender's sendmsg() down to netif_rx(), per packet. */
  send_per_packet_ns: number;
  /** Copying payload (to the socket on receive, from the user on a loopback send), per byte, in
   *  picoseconds (virtual time stays in whole nanoseconds: the product is rounded). */
  copy_per_byte_ps: number;
  /** Hardirq entry and exit (NIC IRQ, call-function IPI). */
  irq_entry_ns: number;
  /** Entering and leaving net_rx_action (one NET_RX run). */
  softirq_entry_ns: number;
  /** Sending one IPI (net_rps_send_ipi → smp_call_function_single_async), on the enqueuing CPU. */
  ipi_send_ns: number;
  /** wake_up_process() of another CPU's backlog thread, on the waker (try_to_wake_up, the
   *  reschedule IPI when the target runs something else). */
  wakeup_ns: number;
  /** How long after a target decided an IPI or a wake-up the enqueuing CPU pays for it (see
   *  messages.ts ChargeRecords): an emulation delay, not the kernel's; it bounds how far an
   *  enqueuer may run ahead of its targets, so a longer one runs faster. */
  charge_latency_ns: number;
  /** From IPI send to the target seeing it. */
  ipi_latency_ns: number;
  /** From enqueue on a remote backlog to the target seeing the packet (cache-line transfer). */
  rps_latency_ns: number;
  /** From wake_up_process() on another CPU to the thread being runnable there. */
  wakeup_latency_ns: number;
  /** A context switch between tasks on one CPU. */
  context_switch_ns: number;
  /** From the start of CPU hotplug (offline) to dev_cpu_dead running on the survivor. */
  hotplug_latency_ns: number;
  /** Leaving idle when work arrives (C-state exit; a halted vCPU being rescheduled by the host). */
  idle_exit_ns: number;
}

/** One NIC RX queue. */
export interface RxQueueConfig {
  id: number;
  /** CPUs the queue's IRQ may run on; the first online one takes it. */
  irq_affinity: number[];
  /** RX descriptor ring size: packets beyond it are dropped by the NIC (`rx_ring_full`). */
  ring_size: number;
  /** rps_cpus as a list of CPU ids (empty = RPS off on this queue). */
  rps_cpus: number[];
  /** rps_flow_cnt: size of this queue's RFS flow table (0 = no RFS on this queue). */
  rps_flow_cnt: number;
  /**
   * Interrupt coalescing, as `ethtool -C DEV rx-usecs N rx-frames M` sets it: once armed, the IRQ
   * fires rx_usecs after the first packet, or at the rx_frames-th packet if that comes first
   * (0 = no frame count). rx_usecs 0 interrupts at every first packet. Defaults in defaults.ts.
   */
  rx_usecs?: number;
  rx_frames?: number;
}

/** A task that sends UDP over loopback (netif_rx from process context). */
export interface LoopbackSenderConfig {
  id: number;
  cpu: number;
  /** rps_cpus of the loopback device's RX queue. */
  rps_cpus: number[];
  rps_flow_cnt: number;
}

export type RateConfig =
  | { kind: "constant"; pps: number }
  | { kind: "poisson"; pps: number }
  | { kind: "onoff"; pps: number; on_ns: number; off_ns: number }
  /** Closed loop (loopback senders only): send again as soon as the last send's work is done. */
  | { kind: "max"; pps?: undefined };

export type PopularityConfig = { kind: "uniform" } | { kind: "zipf"; s: number };

/** A load phase feeds one source (a NIC queue or a loopback sender) between two times. */
export interface LoadPhaseConfig {
  source: { kind: "nic"; queue: number } | { kind: "loopback"; sender: number };
  start_ns: number;
  end_ns: number;
  rate: RateConfig;
  flows: number;
  popularity: PopularityConfig;
  packet_bytes: number;
  /**
   * An open-loop sender that fell behind (its CPU was busy, stalled, or it was migrated) sends the
   * missed packets back to back when true; by default it resumes its schedule from its late send.
   */
  catch_up?: boolean;
}

/** The receiving task (model/receiver.ts): one UDP socket, read by a task pinned to `cpu`. */
export interface ReceiverConfig {
  cpu: number;
  /** sk_rcvbuf: in bytes of skb truesize (the kernel's accounting), or in packets. */
  rmem: { kind: "bytes" | "packets"; limit: number };
  /** recvmsg() per packet on the task's CPU, before the copy to the user (copy_per_byte_ps). */
  per_packet_ns: number;
  /** Queuing a packet on the socket, on the CPU that processed it (udp_queue_rcv_skb). */
  enqueue_ns: number;
  /** On top of enqueue_ns, per pair of CPUs delivering to the socket (model/socket-contention.ts). */
  contention_ns: number;
}

/** CPU stalls (model/stall.ts): the CPU loses the processor for a while, now and then. */
export interface StallConfig {
  /** Mean gap between the end of one stall and the start of the next, per CPU (exponential). */
  every_ns: number;
  /** Mean stall length (log-normal, before the cut at max_ns). */
  mean_ns: number;
  /** The longest stall. */
  max_ns: number;
  /** CPUs that stall (each on its own seeded schedule). */
  cpus: number[];
  /** A stall may land inside a net_rx_action run (a vCPU is preempted anywhere); false defers it to the run's end. */
  in_softirq: boolean;
}

/** The host the vCPUs share (model/host.ts): fewer cores than vCPUs, handed out in time slices. */
export interface HostConfig {
  /** The host's cores for this guest's vCPUs. */
  cores: number;
  /** The host scheduler's slice: who runs is decided per slice. */
  slice_ns: number;
  /** A vCPU busy for less of a slice than this (while it had a core) wants no share of the next. */
  busy_share: number;
  /** A vCPU leaving idle while every core runs another waits up to this long (uniform); 0: never. */
  wake_wait_ns: number;
  /** The chance that such a waking vCPU waits for a running vCPU's slice to end instead (uniform up to slice_ns). */
  slice_wait: number;
  /** Host work besides the guest's vCPUs, in cores (QEMU's I/O thread, a load generator on the host): it competes for the cores too. */
  others: number;
  /** The chance that a vCPU made to wait holds the socket's lock meanwhile (its peers' deliveries spin); 0: never. */
  lock_hold: number;
}

export interface HotplugEventConfig {
  at_ns: number;
  cpu: number;
  action: "offline" | "online";
}

export interface EmuConfig {
  cpus: number;
  seed: number;
  duration_ns: number;
  /** Synchronisation window (docs/DESIGN.md §2.2). */
  window_ns: number;
  profile: Profile;
  sysctls: Sysctls;
  costs: CostModel;
  /** Timer frequency, for netdev_budget_usecs → jiffies. */
  hz: number;
  /** An idle CPU polls (TIF_POLLING_NRFLAG): IPIs to it are handled by flush_smp_call_function_queue in do_idle. */
  idle_poll: boolean;
  queues: RxQueueConfig[];
  senders: LoopbackSenderConfig[];
  load: LoadPhaseConfig[];
  events: HotplugEventConfig[];
  /** CPU stalls; absent = none. */
  stalls?: StallConfig;
  /** The host's cores shared by the vCPUs; absent = every vCPU has its own. */
  host?: HostConfig;
  /** The receiving task; absent = packets end in the stack (`processed`). */
  receiver?: ReceiverConfig;
  /** softnet_stat format: 13 columns (6.6) or 15 (6.12+: input_qlen, process_qlen). */
  softnet_stat_columns: 13 | 15;
}
