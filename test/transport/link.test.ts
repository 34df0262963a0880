// transport/link.ts and peer-links.ts: a link's outbox never grows past the bound its owner's flow
// control guarantees (asserted), and a CPU's peer links hold back promise-only messages while a
// link is long, so that bound holds even while a slow peer reads nothing.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import type * as zmq from "zeromq";
import { InvariantError } from "../../model/assert.ts";
import { emptyBatch } from "../../model/messages.ts";
import { WireKey } from "../../transport/auth.ts";
import { Link } from "../../transport/link.ts";
import { PeerLinks } from "../../transport/peer-links.ts";

/** A socket whose sends never complete (a peer that reads nothing), counting what it was given. */
function stuckSocket(): zmq.Writable & zmq.Socket & { given: number; closed: boolean } {
  const s = {
    given: 0,
    closed: false,
    linger: -1,
    send() {
      s.given++;
      return new Promise<void>(() => {});
    },
    close() {
      s.closed = true;
    },
  };
  return s as unknown as zmq.Writable & zmq.Socket & { given: number; closed: boolean };
}

test("a link queues behind a stuck send, up to its bound; one more is a broken invariant", () => {
  const socket = stuckSocket();
  const link = new Link(socket, () => {}, () => {}, 3);
  for (let i = 0; i < 3; i++) link.send(new Uint8Array([i]));
  assert.equal(link.pending, 3);
  assert.equal(socket.given, 1, "one send in flight at a time");
  assert.throws(() => link.send(new Uint8Array([9])), InvariantError);
  link.close();
  assert.equal(link.pending, 0);
  assert.ok(socket.closed);
  link.send(new Uint8Array([1]));
  assert.equal(link.pending, 0, "a closed link takes nothing");
});

// Peer links to inboxes nobody binds. Each test runs without yielding: no send completes meanwhile
// (the pump resumes on a later tick), so the links behave as towards a peer that reads nothing.
const key = new WireKey(WireKey.generateSecret());
const nowhere = "tcp://127.0.0.1:9";
function peerLinks(): PeerLinks {
  const peers = new PeerLinks({
    self: 0,
    endpoints: ["self", nowhere, nowhere],
    key,
    stamp: () => ({ report_seq: 0, inject_floor: [], unsure: false }),
    softMax: 2,
    onDrained: () => {},
    log: () => {},
  });
  opened.push(peers);
  return peers;
}
const opened: PeerLinks[] = [];
after(() => opened.forEach((p) => p.close()));

function batchTo(to: number) {
  const b = emptyBatch(0, to);
  for (const field of Object.values(b.enqueues)) (field as number[]).push(0); // one packet
  return b;
}

test("promise-only messages: sent when the promise moved enough, held back while a link is long", () => {
  const peers = peerLinks();
  assert.equal(peers.vouch(1000, 100), true, "the first promise goes to every peer");
  assert.equal(peers.pending, 2);
  assert.equal(peers.vouch(1050, 100), false, "a move under the smallest latency waits");
  assert.equal(peers.vouch(1100, 100), true);
  assert.equal(peers.pending, 4, "each link now holds softMax messages");
  assert.equal(peers.vouch(5000, 100), false, "no promise-only message on a link that long");
  assert.equal(peers.vouch(Infinity, 100), false, "not even +Infinity: it goes once the link drains");
  assert.equal(peers.pending, 4);
  // A batch still goes (the model advanced while the links were short: one per peer per step).
  assert.equal(peers.send(batchTo(1), 5000), true);
  assert.equal(peers.txPackets[1], 1);
  assert.throws(() => peers.send(batchTo(1), 6000), InvariantError, "a second batch before the link drains breaks the bound of softMax + 1");
});

test("a promise never goes back", () => {
  const peers = peerLinks();
  peers.vouch(1000, 100);
  assert.throws(() => peers.send(batchTo(2), 10), InvariantError);
});

test("an empty batch is not sent; a dead peer's batch is counted but goes nowhere", () => {
  const peers = peerLinks();
  assert.equal(peers.send(emptyBatch(0, 2), 7000), false);
  assert.equal(peers.pending, 0);
  peers.drop(2);
  assert.equal(peers.send(batchTo(2), 7000), false);
  assert.equal(peers.txPackets[2], 1, "lost with the peer, still counted as sent");
  assert.equal(peers.vouch(Infinity, 100), true);
  assert.equal(peers.pending, 1, "only the live peer hears the promise");
});
