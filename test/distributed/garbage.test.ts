// Bad input on the wire (issue 3): raw garbage, truncated frames, a wrong protocol version and
// well-formed but unexpected messages, sent to a CPU's peer socket and to the coordinator's socket
// in the middle of a run, are counted and dropped; the run still gives the exact results.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as zmq from "zeromq";
import { runProcesses, type RunningRun } from "../../coordinator/run-processes.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { EnvelopeType, encode } from "../../proto/codec.ts";
import { ALL_CPUS, assertEquivalent, logSink, scenario } from "./helpers.ts";

const GARBAGE = Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff);
const wrongVersion = EnvelopeType.encode({ version: 9, from: 0, vouch_ns: 1e9, promise: {} }).finish();
const validBatchFrame = encode({ from: 0, vouch_ns: 5, body: { kind: "report", report: { final: true, now_ns: 1, counters_json: "{}", tx_packets: [1, 2, 3], rx_packets: [], lease_wait: false, malformed: [], dead_receipts: [], messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq: 1 } } });
const truncated = validBatchFrame.subarray(0, validBatchFrame.length - 7);
const unexpectedOnPeer = encode({ from: 0, vouch_ns: 0, body: { kind: "hello", hello: { requested_id: 0, endpoint: "x", pid: 1 } } });

async function attack(run: RunningRun): Promise<void> {
  const push = new zmq.Push({ linger: 0 });
  push.connect(run.children[1]!.endpoint);
  for (const frame of [GARBAGE, truncated, wrongVersion, unexpectedOnPeer]) await push.send(frame);
  await push.send([GARBAGE, GARBAGE]); // a multi-part message nobody sends
  const dealer = new zmq.Dealer({ linger: 0 });
  dealer.connect(run.endpoint);
  // Unregistered: garbage, a truncated frame, a wrong version, then a report before any hello.
  for (const frame of [GARBAGE, truncated, wrongVersion, validBatchFrame]) await dealer.send(frame);
  await new Promise((r) => setTimeout(r, 200));
  push.close();
  dealer.close();
}

test("garbage, truncated, wrong-version and unexpected frames are counted and the run stays exact", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 9, rps_cpus: ALL_CPUS, duration_ns: 20_000_000 });
  const expected = runInProcess(cfg);
  const sink = logSink();
  let running: RunningRun | undefined;
  const got = await runProcesses(cfg, {
    pace: 0.02,
    log: sink.log,
    onRunning: (run) => {
      running = run;
      setTimeout(() => void attack(run), 300);
    },
  });
  assertEquivalent(expected, got, cfg.seed);
  const status = running!.status();
  assert.deepEqual(status.malformed_messages["cpu 1"], { decode_error: 3, bad_version: 1, unexpected: 1 });
  assert.deepEqual(status.malformed_messages["coordinator"], { decode_error: 2, bad_version: 1, unexpected: 1 });
  for (const cpu of [0, 2, 3]) assert.deepEqual(status.malformed_messages[`cpu ${cpu}`], { decode_error: 0, bad_version: 0, unexpected: 0 });
  assert.ok(sink.lines.some((l) => /\[cpu 1\] dropped malformed message .*bad_version/.test(l)), "the CPU logs what it dropped");
  assert.ok(sink.lines.some((l) => /\[coordinator\] dropped malformed message .*unregistered peer/.test(l)), "the coordinator logs the sender");
});
