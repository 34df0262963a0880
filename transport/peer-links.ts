// The ZeroMQ PeerTransport of a CPU process: one PUSH link per peer, each batch encoded in an
// Envelope that carries the sender's promise (proto/PROTOCOL.md), and promise-only messages when
// the promise moved and no batch carried it. What crossed each link is counted for the reports.
import * as zmq from "zeromq";
import { batchIsEmpty, type PeerBatch } from "../model/messages.ts";
import { InvariantError } from "../model/assert.ts";
import type { WireKey } from "./auth.ts";
import { batchPackets, batchToWire, encode, type Body, type CrashStamp } from "./codec.ts";
import { Link } from "./link.ts";
import type { PeerTransport } from "./transport.ts";

export interface PeerLinksOptions {
  self: number;
  /** Every CPU's peer inbox, by id (our own is not dialled). */
  endpoints: readonly string[];
  key: WireKey;
  /** The crash stamp a batch sent now carries (cpu-node/reporting.ts). */
  stamp: () => CrashStamp;
  /**
   * A link longer than this gets no promise-only message (the next one, once it drained, carries a
   * later promise anyway); batches the caller holds back itself while the links are this long in total.
   */
  softMax: number;
  onDrained: () => void;
  log: (line: string) => void;
}

export class PeerLinks implements PeerTransport {
  /** Per peer, its link; null for ourselves and for a peer declared dead. */
  private readonly links: (Link | null)[];
  /** Per peer, the last promise sent to it (-1: none yet). */
  private readonly sentVouch: Float64Array;
  /** Per peer, the packets the model sent it (a dead peer's too: lost with it). */
  readonly txPackets: Float64Array;

  constructor(private readonly o: PeerLinksOptions) {
    const n = o.endpoints.length;
    this.sentVouch = new Float64Array(n).fill(-1);
    this.txPackets = new Float64Array(n);
    // Bound of each link (asserted by Link.send): batches go out only after the model advanced, and
    // it advances only while the links hold softMax messages or fewer in total (one batch per peer
    // per step); a promise-only message only below softMax. So a link never holds more than softMax + 1.
    this.links = o.endpoints.map((ep, peer) => {
      if (peer === o.self) return null;
      const push = new zmq.Push({ linger: 0, sendHighWaterMark: 1000 });
      push.connect(ep);
      return new Link(push, o.onDrained, (e) => o.log(`link to cpu ${peer}: ${e.message}`), o.softMax + 1);
    });
  }

  send(batch: PeerBatch, vouchNs: number): boolean {
    if (batchIsEmpty(batch)) return false;
    const to = batch.to;
    this.txPackets[to]! += batchPackets(batch);
    // A crashed peer takes nothing: what we would have sent it is lost with it (tx counts it).
    if (this.links[to] === null) return false;
    this.post(to, { kind: "batch", batch: batchToWire(batch, this.o.stamp()) }, vouchNs);
    return true;
  }

  /**
   * Tell every live peer that has not heard it our promise to it (`vouch`: one for all, or one per
   * peer), when it moved by at least `minMoveNs` since the last one it heard (or went to
   * +Infinity). True if any went out.
   */
  vouch(vouch: number | ((to: number) => number), minMoveNs: number): boolean {
    let sent = false;
    for (let p = 0; p < this.links.length; p++) {
      const link = this.links[p];
      const last = this.sentVouch[p]!;
      const vouchNs = typeof vouch === "number" ? vouch : vouch(p);
      if (!link || last >= vouchNs || link.pending >= this.o.softMax) continue;
      if (vouchNs !== Infinity && vouchNs - last < minMoveNs && last >= 0) continue;
      this.post(p, { kind: "promise" }, vouchNs);
      sent = true;
    }
    return sent;
  }

  private post(to: number, body: Body, vouchNs: number): void {
    // A promise taken back would make the peer drop our words as malformed (cpu-node/letters.ts).
    if (vouchNs < this.sentVouch[to]!) throw new InvariantError(`promise to cpu ${to} went back: ${this.sentVouch[to]} -> ${vouchNs} ns`);
    this.sentVouch[to] = vouchNs;
    this.links[to]!.send(encode({ from: this.o.self, vouch_ns: vouchNs, body }, this.o.key));
  }

  /** Messages queued in every link (backpressure). */
  get pending(): number {
    let pending = 0;
    for (const l of this.links) if (l) pending += l.pending;
    return pending;
  }

  /** Messages and bytes sent to peers so far (a dead peer's link no longer counts). */
  stats(): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (const l of this.links) {
      if (!l) continue;
      messages += l.sentMessages;
      bytes += l.sentBytes;
    }
    return { messages, bytes };
  }

  /** A peer declared dead: its link closes, what it still held is dropped. */
  drop(peer: number): void {
    this.links[peer]?.close();
    this.links[peer] = null;
  }

  close(): void {
    for (const l of this.links) l?.close();
  }
}
