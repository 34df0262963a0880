// How one CPU's output reaches the others: with who drives virtual time, the only thing in which the
// two engines differ. The model fills one PeerBatch per peer as it advances (Cpu.takeOutbox) and
// takes a peer's batch with Cpu.deliver; in between, a PeerTransport carries it: in memory to the
// peer's Cpu object (engine/inprocess.ts), or encoded over a ZeroMQ link to the peer's process
// (transport/peer-links.ts, used by cpu-node). Either way the batch goes with the sender's promise
// (proto/PROTOCOL.md): the receiver may advance up to it.
import type { PeerBatch } from "../model/messages.ts";

export interface PeerTransport {
  /**
   * Carry `batch` to CPU `batch.to`; `vouchNs` is the sender's promise as it hands the batch over
   * (nothing it sends later takes effect before then). False when nothing went out (a dead peer,
   * an empty batch a process need not send).
   */
  send(batch: PeerBatch, vouchNs: number): boolean;
}

/**
 * Hand every batch `cpu` filled since the last call to `transport`, each with the promise to its
 * destination (`vouchTo`: promises are per destination, model/lookahead.ts). True if any went out.
 */
export function handOut(cpu: { takeOutbox(): PeerBatch[] }, transport: PeerTransport, vouchTo: (to: number) => number): boolean {
  let sent = false;
  for (const batch of cpu.takeOutbox()) sent = transport.send(batch, vouchTo(batch.to)) || sent;
  return sent;
}
