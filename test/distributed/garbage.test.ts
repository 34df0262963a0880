// Bad input on the wire (issue 3, and the authenticated transport): raw garbage, truncated frames, a
// wrong protocol version and well-formed but unexpected messages, sent to a CPU's peer socket and to
// the coordinator's socket in the middle of a run, are counted and dropped; so are well-formed
// frames without the run's secret (no tag, or a tag made with another secret), among them the forged
// Promise that used to let a CPU run ahead of its peer, and frames over the size limit. The run still
// gives the exact results.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as zmq from "zeromq";
import { runProcesses, type RunningRun } from "../../coordinator/run-processes.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { WireKey, envelopeBytes } from "../../transport/auth.ts";
import { COORDINATOR_ID, EnvelopeType, decodeEnvelope, encode, encodeEnvelope, type Envelope } from "../../transport/codec.ts";
import { ALL_CPUS, TEST_SECRET, assertEquivalent, logSink, scenario, waitFor } from "./helpers.ts";

/** The run's key: what a buggy peer that has the secret would seal its bad frames with. */
const KEY = new WireKey(TEST_SECRET);
/** Another secret: a process of another run, or one that guessed. */
const WRONG = new WireKey(Buffer.alloc(32, 0x42));

const GARBAGE = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff);
const wrongVersion = EnvelopeType.encode({ version: 9, from: 0, vouch_ns: 1e9, promise: {} }).finish();
const reportEnv: Envelope = { from: 0, vouch_ns: 5, body: { kind: "report", report: { final: true, now_ns: 1, tx_packets: [1, 2, 3], rx_packets: [], lease_wait: false, malformed: [], dead_receipts: [], messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq: 1 } } };
const validEnvelope = encodeEnvelope(reportEnv);
const truncated = validEnvelope.subarray(0, validEnvelope.length - 7);
const unexpectedOnPeer = encodeEnvelope({ from: 0, vouch_ns: 0, body: { kind: "hello", hello: { requested_id: 0, endpoint: "x", pid: 1 } } });
/** The attack that was measured: CPU 0 "promises" to send nothing before 1e18 ns. */
const forgedPromise: Envelope = { from: 0, vouch_ns: 1e18, body: { kind: "promise" } };
const forgedHello: Envelope = { from: 0, vouch_ns: 0, body: { kind: "hello", hello: { requested_id: -1, endpoint: "tcp://127.0.0.1:1", pid: 4242 } } };

/** Frames without the run's secret: every one is "unauthenticated". */
const unauthenticated = (env: Envelope): Uint8Array[] => [encodeEnvelope(env), encode(env, WRONG), encode(env, KEY.anonymous)];
const ZERO_COUNTS = { decode_error: 0, bad_version: 0, unexpected: 0, unauthenticated: 0 };

async function attack(run: RunningRun): Promise<{ refusal: Envelope | undefined }> {
  const push = new zmq.Push({ linger: 0 });
  push.connect(run.children[1]!.endpoint);
  // Sealed with the run's secret (a buggy peer): refused for what they are, as before.
  for (const frame of [GARBAGE, truncated, wrongVersion, unexpectedOnPeer]) await push.send(KEY.seal(frame));
  await push.send([GARBAGE, GARBAGE]); // a multi-part message nobody sends
  // Without the secret: raw garbage, a frame too short for a tag, and the forged promise three ways.
  for (const frame of [GARBAGE, Uint8Array.of(1, 2, 3), ...unauthenticated(forgedPromise)]) await push.send(frame);
  // The other targets get only the forged promise, without and with a wrong secret.
  const others = [2, 3].map((cpu) => {
    const p = new zmq.Push({ linger: 0 });
    p.connect(run.children[cpu]!.endpoint);
    return p;
  });
  for (const p of others) for (const frame of unauthenticated(forgedPromise).slice(0, 2)) await p.send(frame);
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(run.endpoint);
  // Unregistered and sealed: garbage, a truncated frame, a wrong version, then a report before any hello.
  for (const frame of [GARBAGE, truncated, wrongVersion, validEnvelope]) await dealer.send(KEY.seal(frame));
  // Unsealed: a report (three ways), and a hello with a wrong secret, which the coordinator answers.
  for (const frame of unauthenticated(reportEnv)) await dealer.send(frame);
  await dealer.send(encode(forgedHello, WRONG));
  const [answer] = (await Promise.race([dealer.receive(), new Promise<Buffer[]>((r) => setTimeout(() => r([]), 2000))])) as Buffer[];
  await new Promise((r) => setTimeout(r, 200));
  for (const p of [push, ...others]) p.close();
  dealer.close();
  return { refusal: answer ? decodeEnvelope(envelopeBytes(answer)) : undefined };
}

test("garbage, truncated, wrong-version, unexpected and unauthenticated frames are counted and the run stays exact", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 9, rps_cpus: ALL_CPUS, duration_ns: 20_000_000 });
  const expected = runInProcess(cfg);
  const sink = logSink();
  let running: RunningRun | undefined;
  let attacked: Promise<{ refusal: Envelope | undefined }> | undefined;
  const got = await runProcesses(cfg, {
    pace: 0.02,
    secret: TEST_SECRET,
    log: sink.log,
    onRunning: (run) => {
      running = run;
      attacked = new Promise((resolve) => setTimeout(() => resolve(attack(run)), 300));
    },
  });
  assertEquivalent(expected, got, cfg.seed);
  const status = running!.status();
  assert.deepEqual(status.malformed_messages["cpu 1"], { decode_error: 3, bad_version: 1, unexpected: 1, unauthenticated: 5 });
  assert.deepEqual(status.malformed_messages["coordinator"], { decode_error: 2, bad_version: 1, unexpected: 1, unauthenticated: 4 });
  assert.deepEqual(status.malformed_messages["cpu 0"], ZERO_COUNTS);
  for (const cpu of [2, 3]) assert.deepEqual(status.malformed_messages[`cpu ${cpu}`], { ...ZERO_COUNTS, unauthenticated: 2 });
  assert.ok(sink.lines.some((l) => /\[cpu 1\] dropped malformed message .*bad_version/.test(l)), "the CPU logs what it dropped");
  assert.ok(sink.lines.some((l) => /\[cpu 2\] dropped malformed message .*\(unauthenticated\).*claiming to be 'promise' from 0/.test(l)), "and who the forger claimed to be");
  assert.ok(sink.lines.some((l) => /\[coordinator\] dropped malformed message .*unregistered peer/.test(l)), "the coordinator logs the sender");
  // The hello with a wrong secret got an answer nobody can verify: Error{auth}, tag all zeros.
  const { refusal } = await attacked!;
  assert.deepEqual(refusal, { from: COORDINATOR_ID, vouch_ns: 0, body: { kind: "error", code: "auth", message: "wrong or missing secret" } });
});

test("the forged Promise (from 0, vouch_ns 1e18) pushed to every target as soon as the run starts is dropped: results exact", { timeout: 60_000 }, async () => {
  // Unpaced: CPU 0's real promises trail far behind 1e18 when it lands (without the tag check
  // this run ends with other counters: the targets run ahead to the lease, past CPU 0's batches).
  const cfg = scenario({ seed: 4, rate_pps: 500_000, rps_cpus: ALL_CPUS, duration_ns: 40_000_000 });
  const expected = runInProcess(cfg);
  let running: RunningRun | undefined;
  const got = await runProcesses(cfg, {
    log: () => {},
    onRunning: (run) => {
      running = run;
      for (const cpu of [1, 2, 3]) {
        const p = new zmq.Push({ linger: 0 });
        p.connect(run.children[cpu]!.endpoint);
        void (async () => {
          for (const frame of unauthenticated(forgedPromise)) await p.send(frame);
          setTimeout(() => p.close(), 500);
        })();
      }
    },
  });
  assertEquivalent(expected, got, cfg.seed);
  for (const cpu of [1, 2, 3]) assert.equal(running!.status().malformed_messages[`cpu ${cpu}`]!.unauthenticated, 3, `cpu ${cpu} dropped all three`);
});

test("frames over --max-frame are dropped with their connection, take no memory, and the run stays exact", { timeout: 60_000 }, async () => {
  // 3 s of wall time at this pace: the sender's reconnections (one per dropped frame) take a while.
  const cfg = scenario({ seed: 5, rps_cpus: ALL_CPUS, duration_ns: 60_000_000 });
  const expected = runInProcess(cfg);
  const sink = logSink();
  let running: RunningRun | undefined;
  let attacked: Promise<void> | undefined;
  // The measured attack: three 100 MB frames (a CPU process ended at 272 MB RSS), at the default limit.
  const huge = Buffer.alloc(100_000_000, 1);
  const got = await runProcesses(cfg, {
    pace: 0.02,
    log: sink.log,
    onRunning: (run) => {
      running = run;
      attacked = new Promise((resolve) =>
        setTimeout(async () => {
          const push = new zmq.Push({ linger: 0 });
          push.connect(run.children[1]!.endpoint);
          for (let i = 0; i < 3; i++) await push.send(huge);
          // The sender reconnects: what it sends next still arrives (and is refused on its merits).
          await push.send(GARBAGE);
          const dealer = new zmq.Dealer({ linger: 0 });
          dealer.connect(run.endpoint);
          await dealer.send(huge);
          await waitFor(() => (run.status().malformed_messages["cpu 1"]?.unauthenticated ?? 0) >= 1, 2000);
          push.close();
          dealer.close();
          resolve();
        }, 300),
      );
    },
  });
  await attacked;
  assertEquivalent(expected, got, cfg.seed);
  const status = running!.status();
  assert.deepEqual(status.malformed_messages["cpu 1"], { ...ZERO_COUNTS, unauthenticated: 1 }, "the oversized frames never reached the codec; the garbage after them did");
  const rss = running!.coordinator.reports().find((r) => r.cpu === 1)!.report.max_rss_bytes;
  assert.ok(rss < 150e6, `cpu 1 peaked at ${Math.round(rss / 1e6)} MB: no 100 MB frame was taken in`);
  assert.ok(sink.lines.some((l) => /^\[cpu 1\] peer inbox: a connection closed during the run \(#1\): a sender that went away, or a frame over --max-frame \(16777216 bytes\)/.test(l)), "the CPU logs the dropped connection");
  assert.ok(sink.lines.some((l) => /^\[coordinator\] control socket: a connection closed during the run \(#1\)/.test(l)), "so does the coordinator");
});
