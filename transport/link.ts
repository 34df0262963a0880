// One outgoing ZeroMQ socket with a small outbox drained by one loop: zeromq.js allows only one
// send() in flight per socket (zeromq.js's own queue example). The main loop never awaits a send, so it
// keeps reading its own inbox while a slow peer pushes back; it only pauses advancing when an
// outbox is long (cpu-node/time.ts step).
//
// The outbox is bounded by its owner's flow control, not by dropping (a lost message would break the
// protocol): each owner says what bound holds (`maxPending`) and a longer outbox is a bug, asserted.
import type * as zmq from "zeromq";
import { InvariantError } from "../model/assert.ts";

export class Link {
  private readonly queue: (Uint8Array | Uint8Array[])[] = [];
  private pumping = false;
  private closed = false;
  sentMessages = 0;
  sentBytes = 0;

  constructor(
    readonly socket: zmq.Writable & zmq.Socket,
    private readonly onDrained: () => void,
    private readonly onError: (err: Error) => void,
    /** The longest the outbox may get, as its owner's flow control guarantees (see its comment there). */
    readonly maxPending = Infinity,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  send(frame: Uint8Array | Uint8Array[]): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxPending) throw new InvariantError(`link outbox over its bound of ${this.maxPending} messages: the sender's flow control failed`);
    this.queue.push(frame);
    this.sentMessages++;
    this.sentBytes += Array.isArray(frame) ? frame.reduce((n, f) => n + f.length, 0) : frame.length;
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        await this.socket.send(this.queue[0]!);
        this.queue.shift();
      }
    } catch (err) {
      if (!this.closed) this.onError(err as Error);
    } finally {
      this.pumping = false;
      this.onDrained();
    }
  }

  /** Close now, dropping what is queued (linger 0): the peer is gone or the run is over. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.socket.linger = 0;
    this.socket.close();
  }
}
