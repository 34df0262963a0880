// A FIFO of packets in parallel growable arrays: the model's sk_buff_head. No per-packet objects.
import type { PacketArrays } from "./messages.ts";

export class PacketQueue {
  private flow = new Uint32Array(64);
  private seq = new Uint32Array(64);
  private source = new Uint32Array(64);
  private inject = new Float64Array(64);
  /** The CPU that enqueued the packet (RFS accounts per enqueuer). */
  private cpu = new Uint16Array(64);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(flow: number, seq: number, source: number, injectNs: number, enqueuer = 0): void {
    if (this.count === this.flow.length) this.grow();
    const i = (this.head + this.count) & (this.flow.length - 1);
    this.flow[i] = flow;
    this.seq[i] = seq;
    this.source[i] = source;
    this.inject[i] = injectNs;
    this.cpu[i] = enqueuer;
    this.count++;
  }

  /** Index of the oldest packet; read it with the accessors, then call shift(). */
  private get first(): number {
    return this.head;
  }

  peekFlow(): number {
    return this.flow[this.first]!;
  }
  peekSeq(): number {
    return this.seq[this.first]!;
  }
  peekSource(): number {
    return this.source[this.first]!;
  }
  peekInject(): number {
    return this.inject[this.first]!;
  }
  peekEnqueuer(): number {
    return this.cpu[this.first]!;
  }

  shift(): void {
    this.head = (this.head + 1) & (this.flow.length - 1);
    this.count--;
  }

  /** skb_queue_splice_tail_init(this, dst) */
  spliceTailInto(dst: PacketQueue): void {
    if (dst.count === 0) {
      // An empty destination takes our buffers whole, as the kernel relinks list heads.
      [this.flow, dst.flow] = [dst.flow, this.flow];
      [this.seq, dst.seq] = [dst.seq, this.seq];
      [this.source, dst.source] = [dst.source, this.source];
      [this.inject, dst.inject] = [dst.inject, this.inject];
      [this.cpu, dst.cpu] = [dst.cpu, this.cpu];
      [this.head, dst.head] = [dst.head, this.head];
      [this.count, dst.count] = [dst.count, this.count];
      return;
    }
    while (this.count > 0) {
      dst.push(this.peekFlow(), this.peekSeq(), this.peekSource(), this.peekInject(), this.peekEnqueuer());
      this.shift();
    }
  }

  /** Append every packet to `out` (oldest first) and empty the queue. */
  drainInto(out: PacketArrays): void {
    while (this.count > 0) {
      out.flow.push(this.peekFlow());
      out.seq.push(this.peekSeq());
      out.source.push(this.peekSource());
      out.inject_ns.push(this.peekInject());
      this.shift();
    }
  }

  private grow(): void {
    const n = this.flow.length * 2;
    const order = <A extends Uint32Array | Float64Array | Uint16Array>(a: A, b: A): A => {
      for (let k = 0; k < this.count; k++) b[k] = a[(this.head + k) & (this.flow.length - 1)]!;
      return b;
    };
    const flow = order(this.flow, new Uint32Array(n));
    const seq = order(this.seq, new Uint32Array(n));
    const source = order(this.source, new Uint32Array(n));
    const inject = order(this.inject, new Float64Array(n));
    const cpu = order(this.cpu, new Uint16Array(n));
    this.flow = flow;
    this.seq = seq;
    this.source = source;
    this.inject = inject;
    this.cpu = cpu;
    this.head = 0;
  }
}
