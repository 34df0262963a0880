// The wire codec: every message kind survives a round trip, and garbage of any shape is refused
// with MalformedMessage (never another exception), as proto/PROTOCOL.md promises.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { emptyBatch } from "../../model/messages.ts";
import {
  COORDINATOR_ID,
  EnvelopeType,
  MalformedMessage,
  batchToWire,
  commandToWire,
  // The Envelope codec under test; frames (its bytes sealed with the run's secret): auth.test.ts.
  decodeEnvelope as decode,
  encodeEnvelope as encode,
  wireToBatch,
  wireToCommand,
  type Body,
} from "../../transport/codec.ts";

function sampleBatch() {
  const b = emptyBatch(1, 2);
  b.enqueues = { flow: [5, 7], seq: [0, 1], source: [0, 0], inject_ns: [1000, 2500], send_ns: [1370, 2870] };
  b.flushes = { at_ns: [3000], flush_id: [4], raised_softirq: [1] };
  b.queue_handovers = [{ queue: 0, at_ns: 4000, napi_scheduled: true, ring: { flow: [9], seq: [3], source: [0], inject_ns: [3999] }, generator: [1, 2.5, 4294967295] }];
  b.cpu_dead = [{ oldcpu: 3, at_ns: 5000, packets: { flow: [1, 2], seq: [8, 9], source: [1, 1], inject_ns: [10, 20] } }];
  b.forwarded = { flow: [11], seq: [12], source: [0], inject_ns: [100], send_ns: [200] };
  b.rfs_heads = { at_ns: [6000], passed: [17] };
  b.charges = { at_ns: [7000, 7000], kind: [1, 2], flush_id: [4, 0] };
  return b;
}

const NO_STAMP = { report_seq: 0, inject_floor: [], unsure: false };

test("a PeerBatch crosses the wire unchanged", () => {
  const b = sampleBatch();
  const env = decode(encode({ from: 1, vouch_ns: 123_456, body: { kind: "batch", batch: batchToWire(b, { report_seq: 7, inject_floor: [-2, 150, -1], unsure: true }) } }));
  assert.equal(env.from, 1);
  assert.equal(env.vouch_ns, 123_456);
  assert.equal(env.body.kind, "batch");
  if (env.body.kind !== "batch") return;
  assert.equal(env.body.batch.report_seq, 7);
  assert.deepEqual(env.body.batch.inject_floor, [-2, 150, -1]);
  assert.equal(env.body.batch.unsure, true);
  assert.deepEqual(wireToBatch(1, env.body.batch), b);
});

test("an infinite promise survives (a CPU that never sends)", () => {
  const env = decode(encode({ from: 2, vouch_ns: Infinity, body: { kind: "promise" } }));
  assert.equal(env.vouch_ns, Infinity);
  assert.equal(env.body.kind, "promise");
});

test("every message kind round-trips", () => {
  const bodies: Body[] = [
    { kind: "hello", hello: { requested_id: -1, endpoint: "tcp://127.0.0.1:4000", pid: 42 } },
    { kind: "welcome", welcome: { cpu: 3, endpoints: ["a", "b"], config_json: "{}", commands: [{ kind: "offline", at_ns: 5, json: '{"kind":"offline","cpu":1,"at_ns":5}' }], lease_ns: 7, heartbeat_ms: 100, coordinator_timeout_ms: 3000, max_step_ns: 200_000, progress_every_ns: 2_500_000, series_interval_ns: 0, check_interval_ns: 100_000 } },
    { kind: "command", command: commandToWire({ kind: "irq_off", cpu: 2, duration_ns: 50_000, at_ns: 9 }) },
    { kind: "report", report: { final: true, now_ns: 10, counters_json: "{}", tx_packets: [1, 2], rx_packets: [3, 4], lease_wait: false, malformed: [1, 0, 2], dead_receipts: [{ cpu: 1, report_seq: 5, fresh: 3, later: true, unsure: false }], messages_sent: 5, bytes_sent: 600, loop_iterations: 7, waits: 1, max_rss_bytes: 5e7, sample: false, checkpoint: true, seq: 9 } },
    { kind: "done" },
    { kind: "shutdown", reason: "run over" },
    { kind: "error", code: "duplicate_id", message: "cpu id 1 is already taken" },
    { kind: "lease", lease_ns: 1e7, end_ns: 2e7 },
    { kind: "peer_dead", cpu: 2, report_ns: 77, report_seq: 4 },
    { kind: "heartbeat" },
  ];
  for (const body of bodies) assert.deepEqual(decode(encode({ from: COORDINATOR_ID, vouch_ns: 0, body })).body, body);
});

function refused(frame: Uint8Array, kind?: string): void {
  assert.throws(() => decode(frame), (e: unknown) => e instanceof MalformedMessage && (kind === undefined || e.kind === kind));
}

test("a command keeps every field of its kind; a forged one is refused", () => {
  const cmd = { kind: "ipi_delay" as const, cpu: 1, extra_ns: 5000, until_ns: 9e6, at_ns: 2e6 };
  assert.deepEqual(wireToCommand(commandToWire(cmd)), cmd);
  assert.throws(() => wireToCommand({ kind: "reboot", at_ns: 1, json: '{"kind":"reboot","at_ns":1}' }), MalformedMessage);
  assert.throws(() => wireToCommand({ kind: "offline", at_ns: 1, json: "{not json" }), MalformedMessage);
  assert.throws(() => wireToCommand({ kind: "offline", at_ns: 1, json: '{"kind":"offline","cpu":1,"at_ns":2}' }), MalformedMessage);
});

test("a wrong protocol version is refused as bad_version", () => {
  refused(EnvelopeType.encode({ version: 2, from: 0, vouch_ns: 0, promise: {} }).finish(), "bad_version");
});

test("a frame without a body, with an out-of-range sender or with uneven arrays is refused", () => {
  refused(EnvelopeType.encode({ version: 1, from: 0, vouch_ns: 0 }).finish());
  refused(EnvelopeType.encode({ version: 1, from: 70_000, vouch_ns: 0, promise: {} }).finish());
  const b = batchToWire(sampleBatch(), NO_STAMP);
  b.enqueues.seq = [1];
  refused(EnvelopeType.encode({ version: 1, from: 0, vouch_ns: 0, batch: b }).finish());
});

test("every truncation of a valid batch frame is refused or decodes consistently", () => {
  const frame = encode({ from: 1, vouch_ns: 5, body: { kind: "batch", batch: batchToWire(sampleBatch(), NO_STAMP) } });
  for (let len = 0; len < frame.length; len++) {
    try {
      const env = decode(frame.subarray(0, len));
      // A cut at a field boundary can still be a well-formed (shorter) message: it must be consistent.
      if (env.body.kind === "batch") assert.equal(env.body.batch.enqueues.flow.length, env.body.batch.enqueues.seq.length);
    } catch (e) {
      assert.ok(e instanceof MalformedMessage, `length ${len}: ${(e as Error).message}`);
    }
  }
});

test("random bytes never throw anything but MalformedMessage", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof MalformedMessage)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
