// The inbound record queue: batches delivered from peers, read record by record in effect-time
// order (docs/DESIGN.md §2.2, §2.3). A cursor walks one kind of record in one batch; the heap of
// cursors orders them by (time, kind, sender, batch, index), so ties resolve the same everywhere.
import type { CostModel } from "./config.ts";
import { Heap } from "./heap.ts";
import { RECORD_KIND, SOCKET_RECORD_KIND, deliverAt, type PeerBatch } from "./messages.ts";

/** A cursor over one kind of record in one delivered batch. */
export interface Cursor {
  at: number;
  kind: number;
  from: number;
  batchSeq: number;
  idx: number;
  len: number;
  batch: PeerBatch;
}

const { CPU_DEAD: K_CPU_DEAD, QUEUE: K_QUEUE, FORWARD: K_FORWARD, ENQUEUE: K_ENQUEUE, FLUSH: K_FLUSH, RFS: K_RFS, CHARGE: K_CHARGE, HOST: K_HOST } = RECORD_KIND;

export class Inbox {
  private readonly heap = new Heap<Cursor>(
    (a, b) =>
      a.at < b.at ||
      (a.at === b.at &&
        (a.kind < b.kind || (a.kind === b.kind && (a.from < b.from || (a.from === b.from && (a.batchSeq < b.batchSeq || (a.batchSeq === b.batchSeq && a.idx < b.idx)))))))
  );
  /** Batches delivered so far from each peer: a batch's place among equal-time records. */
  private readonly batchSeqFrom: Int32Array;

  constructor(
    cpus: number,
    private readonly costs: CostModel,
    private readonly windowNs: number,
    /** HOST records' latency (model/host.ts), when the vCPUs share a host. */
    private readonly hostLatencyNs = 0,
  ) {
    this.batchSeqFrom = new Int32Array(cpus);
  }

  deliver(batch: PeerBatch): void {
    const seq = this.batchSeqFrom[batch.from]!++;
    const add = (kind: number, len: number) => {
      if (len > 0) this.heap.push({ at: this.recordAt(batch, kind, 0), kind, from: batch.from, batchSeq: seq, idx: 0, len, batch });
    };
    add(K_CPU_DEAD, batch.cpu_dead.length);
    add(K_QUEUE, batch.queue_handovers.length);
    add(K_FORWARD, batch.forwarded.flow.length);
    add(K_ENQUEUE, batch.enqueues.flow.length);
    add(K_FLUSH, batch.flushes.at_ns.length);
    add(SOCKET_RECORD_KIND, batch.socket.flow.length);
    add(K_RFS, batch.rfs_heads.at_ns.length);
    add(K_CHARGE, batch.charges.at_ns.length);
    add(K_HOST, batch.host.at_ns.length);
  }

  /** The cursor whose record takes effect first. */
  peek(): Cursor | undefined {
    return this.heap.peek();
  }

  /** Every cursor, in no particular order (lookahead.ts reads what is delivered and not applied). */
  all(): readonly Cursor[] {
    return this.heap.all();
  }

  /**
   * The top cursor's record was applied: move to its next record. True while that one still
   * takes effect first (the caller may go on without going back through the heap).
   */
  next(cur: Cursor): boolean {
    if (++cur.idx >= cur.len) {
      this.heap.pop();
      return false;
    }
    cur.at = this.recordAt(cur.batch, cur.kind, cur.idx);
    if (this.heap.topStillFirst()) return true;
    this.heap.updateTop();
    return false;
  }

  /** When record i of a kind takes effect here: its send time plus its kind's latency. */
  private recordAt(b: PeerBatch, kind: number, i: number): number {
    const L = this.costs;
    const w = this.windowNs;
    switch (kind) {
      case K_ENQUEUE:
        return deliverAt(b.enqueues.send_ns[i]!, L.rps_latency_ns, w);
      case SOCKET_RECORD_KIND:
        return deliverAt(b.socket.send_ns[i]!, L.rps_latency_ns, w);
      case K_FORWARD:
        return deliverAt(b.forwarded.send_ns[i]!, L.rps_latency_ns, w);
      case K_FLUSH:
        return deliverAt(b.flushes.at_ns[i]!, L.ipi_latency_ns, w);
      case K_QUEUE:
        return deliverAt(b.queue_handovers[i]!.at_ns, L.hotplug_latency_ns, w);
      case K_CPU_DEAD:
        return deliverAt(b.cpu_dead[i]!.at_ns, L.hotplug_latency_ns, w);
      case K_CHARGE:
        return deliverAt(b.charges.at_ns[i]!, L.charge_latency_ns, w);
      case K_HOST:
        return deliverAt(b.host.at_ns[i]!, this.hostLatencyNs, w);
      default:
        return deliverAt(b.rfs_heads.at_ns[i]!, L.rps_latency_ns, w);
    }
  }
}
