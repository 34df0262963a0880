// What this CPU received from each peer, per report of that peer: the crash policy's evidence
// (coordinator/crash.ts). Every batch carries its sender's crash stamp: the seq of its latest full
// report and, per source, the injection time of the last packet it had taken by then. A packet
// above its source's floor was injected by the sender after that report, so if the sender dies
// with that report as its last, the packet was never in its counters: it is "fresh" and counts
// as injected. Only the counts per stamp are kept; everything else about a dead peer comes from
// the per-link packet totals of the reports.
import type { DeadPeerReceipts, WireBatch } from "../transport/codec.ts";

/** Reports of a peer whose receipts are kept; a crash report older than these is flagged. */
const KEYS_MAX = 8;

interface Bucket {
  fresh: number;
  unsure: boolean;
}

export class Receipts {
  private readonly byPeer: Map<number, Bucket>[];
  /** Per peer, the newest report seq whose bucket was evicted (-1: none). */
  private readonly evicted: Int32Array;

  constructor(cpus: number) {
    this.byPeer = Array.from({ length: cpus }, () => new Map());
    this.evicted = new Int32Array(cpus).fill(-1);
  }

  note(from: number, w: WireBatch): void {
    const key = w.report_seq;
    const map = this.byPeer[from]!;
    let r = map.get(key);
    if (!r) {
      r = { fresh: 0, unsure: false };
      map.set(key, r);
      if (map.size > KEYS_MAX) {
        const oldest = Math.min(...map.keys());
        map.delete(oldest);
        this.evicted[from] = Math.max(this.evicted[from]!, oldest);
      }
    }
    if (w.unsure) r.unsure = true;
    const floor = w.inject_floor;
    const count = (p: { source: number[]; inject_ns: number[] }): void => {
      for (let i = 0; i < p.source.length; i++) {
        const f = floor[p.source[i]!];
        // -2 (or no entry): not the sender's source at its report, so not its injection since.
        if (f !== undefined && f > -2 && p.inject_ns[i]! > f) r.fresh++;
      }
    };
    count(w.enqueues);
    count(w.forwarded);
    for (const q of w.queue_handovers) count(q.ring);
    for (const d of w.cpu_dead) count(d.packets);
  }

  /** The receipts for `cpu`, dead with `reportSeq` as the last report the coordinator has. */
  since(cpu: number, reportSeq: number): DeadPeerReceipts {
    let fresh = 0;
    let later = false;
    let unsure = reportSeq <= this.evicted[cpu]!;
    for (const [key, r] of this.byPeer[cpu]!) {
      if (key < reportSeq) continue; // sent before that report: in its counters
      if (key > reportSeq) later = true;
      else fresh += r.fresh;
      if (r.unsure) unsure = true;
    }
    return { cpu, report_seq: reportSeq, fresh, later, unsure };
  }
}
