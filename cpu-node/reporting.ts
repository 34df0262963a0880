// What a CPU process tells the coordinator (proto/PROTOCOL.md): full reports (counters, per-link
// packet totals, dead peers' receipts, transport statistics; also the heartbeat), light progress
// reports (the coordinator extends leases from them) and checkpoint reports (a consistent cut for
// the conservation check). A full report starts a new crash stamp, which every batch sent after it
// carries, and what we receive is kept per sender's stamp (receipts.ts): the crash policy's evidence.
import type { EmuConfig } from "../model/config.ts";
import type { Cpu } from "../model/cpu.ts";
import { InvariantError } from "../model/assert.ts";
import { settleNs } from "../model/lookahead.ts";
import { sourceCount } from "../model/sources.ts";
import { batchPackets, type Body, type CrashStamp, type DeadPeerReceipts, type Report, type WireBatch } from "../transport/codec.ts";
import type { PeerLinks } from "../transport/peer-links.ts";
import { Receipts } from "./receipts.ts";

/** The main loop's own counts, for the transport statistics of a full report. */
export interface LoopStats {
  iterations: number;
  waits: number;
}

export class Reporting {
  /** Wall time (ms) of the latest full report: the heartbeat is due a heartbeat_ms later. */
  lastReportMs = 0;
  /** Virtual time of the latest report of any kind: a progress report is due progress_every_ns later. */
  lastProgressNs = 0;
  /** Seq and clock of the latest full report, and what batches sent after it carry. */
  private seq = 0;
  private lastReportNs = 0;
  private stamp: CrashStamp;
  /** Per peer, the packets received from it. */
  readonly rxPackets: Float64Array;
  private readonly receipts: Receipts;
  private readonly deadReceipts = new Map<number, DeadPeerReceipts>();
  private maxRssBytes = 0;
  private reportsSent = 0;

  constructor(
    private readonly cpu: Cpu,
    private readonly cfg: EmuConfig,
    private readonly peers: PeerLinks,
    private readonly malformed: readonly number[],
    private readonly loop: LoopStats,
    private readonly finished: () => boolean,
    private readonly send: (body: Body) => void,
  ) {
    const n = cfg.cpus;
    this.rxPackets = new Float64Array(n);
    this.receipts = new Receipts(n);
    this.stamp = { report_seq: 0, inject_floor: this.injectFloors(), unsure: false };
  }

  /** A full report: counters at the current clock, transport statistics (also the heartbeat). */
  report(final: boolean, leaseWait = false, sample = false, checkpoint = false): void {
    const counters = this.cpu.counters();
    this.lastReportMs = performance.now();
    this.lastReportNs = this.cpu.clock;
    this.seq++;
    this.stamp = { report_seq: this.seq, inject_floor: this.injectFloors(), unsure: false };
    this.post({
      final,
      now_ns: this.cpu.clock,
      counters,
      tx_packets: [...this.peers.txPackets],
      rx_packets: [...this.rxPackets],
      lease_wait: leaseWait,
      malformed: [...this.malformed],
      dead_receipts: [...this.deadReceipts.values()],
      ...this.transportStats(),
      sample,
      checkpoint,
      seq: this.seq,
    });
  }

  /** A light report: how far we are (the coordinator extends leases from these). */
  progress(leaseWait: boolean): void {
    this.post({ ...emptyReport(), now_ns: this.cpu.clock, lease_wait: leaseWait });
  }

  /**
   * Counters at a checkpoint for the coordinator's conservation check: a consistent cut, since every
   * CPU reports at exactly this virtual time. Not a crash-policy report (it does not move
   * lastReportNs): batches filled before it may still be in the outbox.
   */
  checkpoint(): void {
    this.post({ ...emptyReport(), now_ns: this.cpu.clock, counters: this.cpu.counters(false), checkpoint: true });
  }

  /** Virtual time only moves on: the coordinator's cuts and samples assume it (reports of a CPU come in order). */
  private post(report: Report): void {
    if (report.now_ns < this.lastProgressNs) throw new InvariantError(`report at ${report.now_ns} ns after one at ${this.lastProgressNs} ns`);
    this.lastProgressNs = report.now_ns;
    this.send({ kind: "report", report });
  }

  /** A batch received from `from`: counted per link, and its fresh packets per the sender's stamp. */
  received(from: number, w: WireBatch): void {
    const packets = batchPackets(w);
    this.rxPackets[from]! += packets;
    if (packets > 0) this.receipts.note(from, w);
  }

  /** `cpu` died with `reportSeq` its last report: what we got from it since goes into every report. */
  peerDead(cpu: number, reportSeq: number): DeadPeerReceipts {
    const receipts = this.receipts.since(cpu, reportSeq);
    this.deadReceipts.set(cpu, receipts);
    return receipts;
  }

  /**
   * The crash stamp of a batch sent now. Unsure while a mask change (hotplug, IRQ move) that could
   * still bring hand-overs and forwards was in effect at or after the report: packets injected
   * elsewhere may then pass through us, and the floors would count them as ours.
   */
  crashStamp(): CrashStamp {
    const unsure = this.cpu.lastMaskChangeNs + settleNs(this.cpu) >= this.lastReportNs;
    if (unsure !== this.stamp.unsure) this.stamp = { ...this.stamp, unsure };
    return this.stamp;
  }

  /** Per source: the last injection this CPU counted (-1: none yet), or -2 if not its source. */
  private injectFloors(): number[] {
    const floors = new Array<number>(sourceCount(this.cfg)).fill(-2);
    for (const s of this.cpu.sources.values()) floors[s.index] = s.lastInjectNs;
    return floors;
  }

  private transportStats(): Pick<Report, "messages_sent" | "bytes_sent" | "loop_iterations" | "waits" | "max_rss_bytes"> {
    const { messages, bytes } = this.peers.stats();
    // getrusage showed up in profiles when called per report: once a second is plenty.
    if (this.loop.iterations === 0 || this.finished() || this.reportsSent++ % 10 === 0) this.maxRssBytes = process.resourceUsage().maxRSS * 1024;
    return { messages_sent: messages, bytes_sent: bytes, loop_iterations: this.loop.iterations, waits: this.loop.waits, max_rss_bytes: this.maxRssBytes };
  }
}

function emptyReport(): Report {
  return {
    final: false, now_ns: 0, tx_packets: [], rx_packets: [], lease_wait: false, malformed: [], dead_receipts: [],
    messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq: 0,
  };
}
