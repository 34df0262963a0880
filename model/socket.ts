// The receiving task's socket, on the task's CPU (model/receiver.ts has what is done with it).
import { PacketQueue } from "./packet-queue.ts";
import type { Task } from "./task.ts";

export class Socket {
  readonly queue = new PacketQueue();
  /** sk_rmem_alloc: bytes (truesize) or packets, as rmem is given. */
  used = 0;
  readonly task: Task = { kind: "receiver", source: -1, state: "interruptible", onRq: false };
}
