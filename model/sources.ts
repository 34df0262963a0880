// Packet sources: NIC RX queues (a ring filled by DMA, drained by the device NAPI) and loopback
// sender tasks. A source is owned by exactly one CPU at a time — the queue's IRQ CPU, the sender's
// CPU — and moves with its generator state when hotplug moves the IRQ or the task.
import type { EmuConfig, LoadPhaseConfig } from "./config.ts";
import { DEFAULT_RX_FRAMES, DEFAULT_RX_USECS } from "./defaults.ts";
import { LoadGenerator } from "./load.ts";
import { newNapi, type Napi } from "./napi.ts";
import { PacketQueue } from "./packet-queue.ts";

/** NAPI_POLL_WEIGHT: the weight drivers give their device NAPI. */
export const NAPI_POLL_WEIGHT = 64;

export interface SourceState {
  /** Index as in PacketArrays.source: queues first, then senders. */
  index: number;
  kind: "nic" | "sender";
  gen: LoadGenerator;
  /** NIC only: the RX descriptor ring and the device NAPI. */
  ring: PacketQueue;
  ringSize: number;
  /** ethtool rx-usecs (in ns): once armed, the IRQ waits this long after the first packet... */
  coalesceNs: number;
  /** ...or until this many packets are in the ring (ethtool rx-frames; 0 = no frame count). */
  coalesceFrames: number;
  napi: Napi;
  rpsFlowCnt: number;
  /** RFS: rps_dev_flow_table of this queue: flow slot → {cpu, last_qtail}. Reset on a move. */
  rfsCpu: Int32Array;
  rfsLastQtail: Float64Array;
  /**
   * Injection time of the last packet this CPU took from the source (-1: none yet). Injections
   * happen in this order, so it splits what a crash report counted as injected from what came
   * after (coordinator/crash.ts). Written only; the model never reads it.
   */
  lastInjectNs: number;
}

/**
 * Packet sizes by source over time: the packet_bytes of the load phase a packet was injected in.
 * Each CPU builds one table; a packet carries only its source and injection time.
 */
export class PacketSizes {
  private readonly phases: { start: number; end: number; bytes: number }[][];
  /** The size when every phase of the source has the same one (the common case), else -1. */
  private readonly uniform: Int32Array;

  constructor(cfg: EmuConfig) {
    this.phases = Array.from({ length: sourceCount(cfg) }, (_, s) =>
      phasesOf(cfg, s).map((p) => ({ start: p.start_ns, end: p.end_ns, bytes: p.packet_bytes })),
    );
    this.uniform = Int32Array.from(this.phases, (list) =>
      list.length > 0 && list.every((p) => p.bytes === list[0]!.bytes) ? list[0]!.bytes : -1,
    );
  }

  bytes(source: number, injectNs: number): number {
    const u = this.uniform[source]!;
    if (u >= 0) return u;
    const list = this.phases[source];
    if (!list || list.length === 0) return 0;
    for (const p of list) if (injectNs >= p.start && injectNs < p.end) return p.bytes;
    return list[list.length - 1]!.bytes;
  }
}

export function sourceCount(cfg: EmuConfig): number {
  return cfg.queues.length + cfg.senders.length;
}

export function phasesOf(cfg: EmuConfig, index: number): LoadPhaseConfig[] {
  const nq = cfg.queues.length;
  return cfg.load.filter((p) =>
    p.source.kind === "nic" ? p.source.queue === index : nq + p.source.sender === index,
  );
}

export function newSource(cfg: EmuConfig, index: number, generator?: number[]): SourceState {
  const nq = cfg.queues.length;
  const phases = phasesOf(cfg, index);
  const gen = generator
    ? LoadGenerator.restore(index, phases, cfg.seed, generator)
    : new LoadGenerator(index, phases, cfg.seed);
  const q = index < nq ? cfg.queues[index]! : undefined;
  const s = index >= nq ? cfg.senders[index - nq]! : undefined;
  const rpsFlowCnt = (q ?? s)!.rps_flow_cnt;
  return {
    index,
    kind: q ? "nic" : "sender",
    gen,
    ring: new PacketQueue(),
    ringSize: q ? q.ring_size : 0,
    coalesceNs: (q?.rx_usecs ?? DEFAULT_RX_USECS) * 1000,
    coalesceFrames: q?.rx_frames ?? DEFAULT_RX_FRAMES,
    napi: newNapi("device", index, NAPI_POLL_WEIGHT),
    rpsFlowCnt,
    rfsCpu: new Int32Array(rpsFlowCnt).fill(-1),
    rfsLastQtail: new Float64Array(rpsFlowCnt),
    lastInjectNs: -1,
  };
}

/**
 * Which CPU owns a source given the online mask: a queue's IRQ goes to the first online CPU of
 * its affinity mask, else (affinity broken, as the kernel does on offline) the lowest online CPU;
 * a pinned sender runs on its CPU, else it is migrated to the lowest online CPU.
 */
export function sourceOwner(cfg: EmuConfig, index: number, online: Uint8Array): number {
  const nq = cfg.queues.length;
  const wanted = index < nq ? cfg.queues[index]!.irq_affinity : [cfg.senders[index - nq]!.cpu];
  for (const cpu of wanted) if (online[cpu]) return cpu;
  return lowestOnline(online);
}

export function lowestOnline(online: Uint8Array): number {
  for (let cpu = 0; cpu < online.length; cpu++) if (online[cpu]) return cpu;
  return -1;
}
