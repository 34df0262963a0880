// Everything that crosses CPUs, as data. The model emits these into per-peer batches; an engine
// carries them (in memory, or as protobuf over ZeroMQ) and hands them to the target CPU's
// `deliver()`. Nothing here knows about transport.
//
// Timing (docs/DESIGN.md §2.2): a record sent at virtual time `send` with latency L takes effect at
// deliverAt(send, L, window) = max(send + L, next window boundary after send). With a window no
// longer than the smallest latency this is exactly send + L.

/** Packets in flight, as parallel arrays (packed on the wire). */
export interface PacketArrays {
  /** Global flow id. */
  flow: number[];
  /** Per-flow sequence number, from 0. */
  seq: number[];
  /** Source index: NIC queues first (queue id), then loopback senders (queues.length + sender id). */
  source: number[];
  /** Virtual time the packet was injected (arrived at the NIC or was handed to sendmsg). */
  inject_ns: number[];
}

/** A remote enqueue_to_backlog() call, issued by the sender at `send_ns[i]`. */
export interface EnqueueRecords extends PacketArrays {
  send_ns: number[];
}

/**
 * A point where the sender sent its pending RPS IPIs (net_rps_action_and_irq_enable at the end
 * of net_rx_action, or at the start of process_backlog). The sender cannot know which targets
 * it must IPI — the target decides that under its own queue lock — so it tells every target it
 * enqueued to since its last flush; a target whose backlog this sender scheduled takes the IPI.
 */
export interface FlushRecords {
  at_ns: number[];
  /** Sender-local counter, so the IPIs of one flush are counted as one NET_RX run at the sender. */
  flush_id: number[];
  /** 1 when the sender raised NET_RX only to send these IPIs (enqueue from task context). */
  raised_softirq: number[];
}

/** A NIC RX queue moving to another CPU with its ring and generator (IRQ migration). */
export interface QueueHandover {
  queue: number;
  at_ns: number;
  /** The device NAPI was scheduled: it goes on the new CPU's poll_list. */
  napi_scheduled: boolean;
  ring: PacketArrays;
  /** Opaque load-generator state, from LoadGenerator.save(). */
  generator: number[];
}

/** dev_cpu_dead(): the dead CPU's queues, handed to the surviving CPU that re-injects them. */
export interface CpuDeadHandover {
  oldcpu: number;
  at_ns: number;
  /** process_queue first, then input_pkt_queue, as dev_cpu_dead re-injects them. */
  packets: PacketArrays;
}

/** One batch from one CPU to one peer: what the wire carries. */
export interface PeerBatch {
  from: number;
  to: number;
  enqueues: EnqueueRecords;
  flushes: FlushRecords;
  queue_handovers: QueueHandover[];
  cpu_dead: CpuDeadHandover[];
  /** Packets that arrived at an offline CPU and are forwarded to the survivor's netif_rx. */
  forwarded: EnqueueRecords;
  /**
   * RFS only: how many of the peer's packets have left this CPU's backlog (processed, dropped or
   * handed on) — the per-pair form of input_queue_head that get_rps_cpu() compares with last_qtail.
   */
  rfs_heads: { at_ns: number[]; passed: number[] };
  /** Packets queued on the receiving task's socket by this CPU (model/receiver.ts), at send_ns. */
  socket: EnqueueRecords;
  charges: ChargeRecords;
  /** The sender's demand for the host's cores at each slice boundary, 0..1 (model/host.ts). */
  host: { at_ns: number[]; demand: number[] };
}

/**
 * What the receiver owes for work the sender did for it. In the kernel the enqueuing CPU sees
 * under the target's lock whether its enqueue scheduled the target's backlog, and then pays for
 * the IPI it sends (and, from task context, for the NET_RX run it raised to send it) or for the
 * backlog thread it wakes. Here that is decided where the queue lives, so the target tells the
 * enqueuer, which pays when this record lands, charge_latency_ns later.
 */
export interface ChargeRecords {
  /** When the target decided it (the IPI's flush or the enqueue took effect there). */
  at_ns: number[];
  kind: number[];
  /** The enqueuer's flush the IPI belongs to (CHARGE_KIND.IPI_RAISED: its NET_RX run is paid once). */
  flush_id: number[];
}

export const CHARGE_KIND = {
  /** net_rps_send_ipi() from a running net_rx_action or process_backlog: ipi_send_ns. */
  IPI: 0,
  /** The same from a NET_RX run raised only to send IPIs: ipi_send_ns, and softirq_entry_ns once per flush. */
  IPI_RAISED: 1,
  /** wake_up_process() of another CPU's backlog thread: wakeup_ns. */
  WAKEUP: 2,
} as const;
export const CHARGE_KIND_MAX = 2;

export function emptyPacketArrays(): PacketArrays {
  return { flow: [], seq: [], source: [], inject_ns: [] };
}

/** Add one packet, sent at sendNs, to a batch's records (an RPS enqueue, a forward, a socket hand-off). */
export function pushRecord(r: EnqueueRecords, flow: number, seq: number, source: number, injectNs: number, sendNs: number): void {
  r.flow.push(flow);
  r.seq.push(seq);
  r.source.push(source);
  r.inject_ns.push(injectNs);
  r.send_ns.push(sendNs);
}

export function emptyEnqueueRecords(): EnqueueRecords {
  return { ...emptyPacketArrays(), send_ns: [] };
}

export function emptyBatch(from: number, to: number): PeerBatch {
  return {
    from,
    to,
    enqueues: emptyEnqueueRecords(),
    flushes: { at_ns: [], flush_id: [], raised_softirq: [] },
    queue_handovers: [],
    cpu_dead: [],
    forwarded: emptyEnqueueRecords(),
    rfs_heads: { at_ns: [], passed: [] },
    socket: emptyEnqueueRecords(),
    charges: { at_ns: [], kind: [], flush_id: [] },
    host: { at_ns: [], demand: [] },
  };
}

export function batchIsEmpty(b: PeerBatch): boolean {
  return (
    b.enqueues.flow.length === 0 &&
    b.flushes.at_ns.length === 0 &&
    b.queue_handovers.length === 0 &&
    b.cpu_dead.length === 0 &&
    b.forwarded.flow.length === 0 &&
    b.rfs_heads.at_ns.length === 0 &&
    b.socket.flow.length === 0 &&
    b.charges.at_ns.length === 0 &&
    b.host.at_ns.length === 0
  );
}

/**
 * The kinds of record in a batch, in the order records of equal effect time apply: hand-overs and
 * forwards first, then enqueues, IPI flushes, RFS reports.
 */
export const RECORD_KIND = { CPU_DEAD: 0, QUEUE: 1, FORWARD: 2, ENQUEUE: 3, FLUSH: 4, RFS: 5, CHARGE: 6, HOST: 8 } as const;

/** Socket deliveries apply after every other kind at equal times (the stack has run by then); HOST words, which move no packet, come last. */
export const SOCKET_RECORD_KIND = 7;

/** Effect time of a cross-CPU record (docs/DESIGN.md §2.2). */
export function deliverAt(sendNs: number, latencyNs: number, windowNs: number): number {
  const boundary = (Math.floor(sendNs / windowNs) + 1) * windowNs;
  return Math.max(sendNs + latencyNs, boundary);
}

/**
 * What a command argument is, as the process boundary checks it (transport/): a CPU id, an index of
 * a load source or NIC queue, a time in ns, a rate in packets per second, a share in 0..1, a list of
 * CPU ids, a numeric sysctl's name, a sysctl's value.
 */
export type CommandArg = "cpu" | "index" | "ns" | "pps" | "share" | "cpus" | "sysctl" | "value";

interface CommandArgTypes {
  cpu: number;
  index: number;
  ns: number;
  pps: number;
  share: number;
  cpus: number[];
  sysctl: NumericSysctl;
  value: number;
}

/**
 * Every command kind and its arguments, in order: the one list the CpuCommand type, the wire
 * codec's oneof (proto/softnet.proto Command) and its checks derive from.
 */
export const COMMAND_ARGS = {
  offline: { cpu: "cpu" },
  online: { cpu: "cpu" },
  /** Change the offered rate of a load source (index as in PacketArrays.source). */
  rate: { source: "index", pps: "pps" },
  /** A share (0..1) of a source's packets goes to one hot flow from now on (0 = back to normal). */
  hot_flow: { source: "index", share: "share" },
  /** Write a net.core sysctl (name without the prefix), as `sysctl -w` would. */
  sysctl: { key: "sysctl", value: "value" },
  /** Write a source's rps_cpus (/sys/class/net/DEV/queues/rx-N/rps_cpus). */
  rps: { source: "index", cpus: "cpus" },
  /** Write a queue's IRQ affinity (/proc/irq/N/smp_affinity). */
  irq_affinity: { queue: "index", cpus: "cpus" },
  /** The CPU runs with interrupts and softirqs off for a while (a long critical section). */
  irq_off: { cpu: "cpu", duration_ns: "ns" },
  /** RPS IPIs to the CPU arrive extra_ns late until until_ns (a slow interconnect, a busy hypervisor). */
  ipi_delay: { cpu: "cpu", extra_ns: "ns", until_ns: "ns" },
} as const satisfies Record<string, Record<string, CommandArg>>;

export type CommandKind = keyof typeof COMMAND_ARGS;
export const COMMAND_KINDS = Object.keys(COMMAND_ARGS) as CommandKind[];

type ArgsOf<K extends CommandKind> = { -readonly [A in keyof (typeof COMMAND_ARGS)[K]]: CommandArgTypes[(typeof COMMAND_ARGS)[K][A] & CommandArg] };
type CommandOf<K extends CommandKind> = { kind: K } & ArgsOf<K> & { at_ns: number };

/**
 * A command from the coordinator, broadcast to every CPU (each CPU needs the online mask for RPS
 * and IRQ affinity). Takes effect at at_ns, which must not be earlier than any CPU's advance.
 * E.g. { kind: "rate", source: 0, pps: 1e5, at_ns: 2e6 }.
 */
export type CpuCommand = { [K in CommandKind]: { [F in keyof CommandOf<K>]: CommandOf<K>[F] } }[CommandKind];

export type NumericSysctl = Exclude<keyof import("./config.ts").Sysctls, "flow_limit_cpu_bitmap">;
