// The coordinator's seams (coordinator/seams.ts): a report whose virtual time goes back, whose seq
// does not increase, or whose counters are negative or another CPU's, is refused — counted as an
// unexpected message and logged — and the run goes on; a broken invariant of the coordinator's own
// is an InvariantError. A fake CPU (a DEALER with the run's secret) plays the buggy process.
import assert from "node:assert/strict";
import { test } from "node:test";
import * as zmq from "zeromq";
import { Coordinator } from "../../coordinator/coordinator.ts";
import { Members, type Member } from "../../coordinator/members.ts";
import { refusal } from "../../coordinator/seams.ts";
import { InvariantError } from "../../model/assert.ts";
import type { CpuCounters } from "../../model/results.ts";
import { WireKey } from "../../transport/auth.ts";
import { decode, encode, type Report } from "../../transport/codec.ts";
import { fakeCounters } from "../observability/fixtures.ts";
import { TEST_SECRET, logSink, scenario, waitFor } from "./helpers.ts";

const KEY = new WireKey(TEST_SECRET);
/** Checkpoints every 1000 ns, samples every 500 ns, to 10 000 ns. */
const SCHED = { endNs: 10_000, checkEveryNs: 1000, sampleEveryNs: 500 };

function report(nowNs: number, seq: number, counters: CpuCounters | undefined): Report {
  return {
    final: false, now_ns: nowNs, ...(counters ? { counters } : {}), tx_packets: [0], rx_packets: [0], lease_wait: false, malformed: [], dead_receipts: [],
    messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq,
  };
}

function member(progressNs: number, last?: Report): Member {
  const members = new Members(1);
  members.add(0, Buffer.from("a"), { requested_id: 0, endpoint: "tcp://127.0.0.1:1", pid: 1 });
  const m = members.get(0)!;
  m.progressNs = progressNs;
  if (last) m.report = last;
  return m;
}

test("refusal: time going back, a seq that does not increase, a negative or foreign counter; a sound report passes", () => {
  const c = fakeCounters(0);
  const last = report(1000, 3, c);
  assert.equal(refusal(member(1000, last), report(1000, 4, c), c, true, SCHED), undefined, "same time, next seq");
  assert.equal(refusal(member(1000, last), report(2000, 0, undefined), undefined, false, SCHED), undefined, "a progress report has no seq");
  assert.match(refusal(member(1000, last), report(999, 4, c), c, true, SCHED)!, /virtual time went back \(999 ns after 1000 ns\)/);
  assert.match(refusal(member(1000, last), report(999, 0, undefined), undefined, false, SCHED)!, /virtual time went back/);
  assert.match(refusal(member(1000, last), report(2000, 3, c), c, true, SCHED)!, /report seq 3 does not increase \(the last was 3\)/);
  assert.match(refusal(member(0), report(2000, 0, c), c, true, SCHED)!, /report seq 0 does not increase/);
  const negative = { ...c, processed: -1 };
  assert.match(refusal(member(0), report(2000, 1, negative), negative, true, SCHED)!, /counters\.processed is negative/);
  const deep = { ...c, drops_by_reason: { ...c.drops_by_reason, cpu_backlog: Number.NaN } } as CpuCounters;
  assert.match(refusal(member(0), report(2000, 1, deep), deep, true, SCHED)!, /counters\.drops_by_reason\.cpu_backlog is negative or not a number/);
  assert.match(refusal(member(0), { ...report(2000, 1, c), tx_packets: [3, -2] }, c, true, SCHED)!, /tx_packets\[1\] is negative/);
  assert.match(refusal(member(0), report(2000, 1, fakeCounters(1)), fakeCounters(1), true, SCHED)!, /its counters are cpu 1's/);
  assert.match(refusal(member(0), report(2000, 1, c), 7 as unknown as CpuCounters, true, SCHED)!, /not an object/);
});

test("refusal: a checkpoint or a sample off the run's schedule (every interval and the end)", () => {
  const c = fakeCounters(0);
  const at = (nowNs: number, flags: Partial<Report>): Report => ({ ...report(nowNs, 1, c), ...flags });
  for (const ok of [1000, 9000, 10_000]) assert.equal(refusal(member(0), at(ok, { checkpoint: true }), c, false, SCHED), undefined, `checkpoint at ${ok}`);
  for (const ok of [500, 1500, 10_000]) assert.equal(refusal(member(0), at(ok, { sample: true }), c, true, SCHED), undefined, `sample at ${ok}`);
  assert.match(refusal(member(0), at(1500, { checkpoint: true }), c, false, SCHED)!, /a checkpoint at 1500 ns is off the schedule \(every 1000 ns to 10000 ns\)/);
  assert.match(refusal(member(0), at(11_000, { checkpoint: true }), c, false, SCHED)!, /a checkpoint at 11000 ns is off the schedule/);
  assert.match(refusal(member(0), at(750, { sample: true }), c, true, SCHED)!, /a sample at 750 ns is off the schedule/);
  assert.match(refusal(member(0), at(500, { sample: true }), c, true, { ...SCHED, sampleEveryNs: 0 })!, /a sample at 500 ns is off the schedule \(every 0 ns/);
  // A stop moved the end to 4200 ns: the end is a stop of both, what lies past it is not.
  const stopped = { ...SCHED, endNs: 4200 };
  assert.equal(refusal(member(0), at(4200, { checkpoint: true, sample: true, final: true }), c, true, stopped), undefined);
  assert.match(refusal(member(0), at(5000, { checkpoint: true }), c, false, stopped)!, /off the schedule/);
});

test("an internal invariant that breaks is an InvariantError (a bug), not a refusal", () => {
  const members = new Members(2);
  members.add(1, Buffer.from("a"), { requested_id: 1, endpoint: "x", pid: 1 });
  assert.throws(() => members.add(1, Buffer.from("b"), { requested_id: 1, endpoint: "y", pid: 2 }), InvariantError);
  assert.throws(() => members.add(2, Buffer.from("c"), { requested_id: 2, endpoint: "z", pid: 3 }), InvariantError);
});

test("a running coordinator refuses a forged CPU's bad reports, logs them, and goes on", { timeout: 30_000 }, async () => {
  const sink = logSink();
  const cfg = scenario({ cpus: 1, rps_cpus: [0] });
  const coordinator = new Coordinator({
    cfg, bind: "tcp://127.0.0.1:*", heartbeatMs: 50, cpuTimeoutMs: 60_000, exitsWatched: true, coordinatorTimeoutMs: 60_000,
    registerTimeoutMs: 60_000, stallTimeoutMs: 60_000, leaseSpanNs: 1_000_000, maxStepNs: 100_000, secret: KEY, log: sink.log,
  });
  const dealer = new zmq.Dealer({ linger: 0 });
  try {
    dealer.connect(await coordinator.start());
    const send = (r: Report): Promise<void> => dealer.send(encode({ from: 0, vouch_ns: 0, body: { kind: "report", report: r } }, KEY));
    await dealer.send(encode({ from: 0, vouch_ns: 0, body: { kind: "hello", hello: { requested_id: 0, endpoint: "tcp://127.0.0.1:1", pid: process.pid } } }, KEY));
    const [welcome] = await dealer.receive();
    assert.equal(decode(welcome!, KEY).body.kind, "welcome");
    const c = fakeCounters(0);
    await send(report(2000, 1, c));
    assert.ok(await waitFor(() => coordinator.reports()[0]?.report.seq === 1, 10_000), "the sound report is taken");
    await send(report(1000, 2, c)); // time goes back
    await send(report(3000, 1, c)); // seq repeats
    await send(report(3000, 2, { ...c, queued: -4 }));
    await send(report(3000, 2, fakeCounters(3)));
    await send({ ...report(3000, 0, c), checkpoint: true }); // checkpoints are every 100 µs here
    const unexpected = (): number => coordinator.status().malformed_messages["coordinator"]!.unexpected;
    assert.ok(await waitFor(() => unexpected() === 5, 10_000), `refused: ${unexpected()}\n${sink.lines.join("\n")}`);
    for (const why of [/virtual time went back \(1000 ns after 2000 ns\)/, /report seq 1 does not increase/, /counters\.queued is negative/, /its counters are cpu 3's/, /a checkpoint at 3000 ns is off the schedule \(every 100000 ns/])
      assert.ok(sink.lines.some((l) => /^dropped malformed message #\d \(unexpected\) from cpu 0: report refused: /.test(l) && why.test(l)), `${why}\n${sink.lines.join("\n")}`);
    await send(report(3000, 2, c));
    assert.ok(await waitFor(() => coordinator.reports()[0]?.report.seq === 2, 10_000), "the run goes on");
    const status = coordinator.status();
    assert.equal(status.phase, "running");
    assert.equal(status.virtual_ns_by_cpu[0], 3000);
    assert.deepEqual(coordinator.counters(), [c]);
  } finally {
    coordinator.fail("test over");
    coordinator.close();
    dealer.close();
  }
});
