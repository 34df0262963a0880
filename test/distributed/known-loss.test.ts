// lost_on_crash during the run (coordinator/crash.ts knownLoss): nothing until every CPU still alive
// has answered for the dead one, then the crash account's figure, the same as at the end.
import assert from "node:assert/strict";
import { test } from "node:test";
import { accountCrash, knownLoss, type Member } from "../../coordinator/crash.ts";
import type { Report } from "../../transport/codec.ts";
import { fakeCounters } from "../observability/fixtures.ts";

function report(o: Partial<Report>): Report {
  return {
    final: false, now_ns: 0, tx_packets: [], rx_packets: [], lease_wait: false, malformed: [], dead_receipts: [],
    messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq: 1, ...o,
  };
}

/** CPU 2 died at its report 4, holding 10 packets; 1 and 3 sent it 30 more after that report, it sent 5 out. */
function members(answered: readonly number[]): Member[] {
  const dead = { ...fakeCounters(2), queued: 10, packets_in: 100, packets_out: 40 };
  // Its own row must balance: injected + in − out − processed − dropped = queued.
  const dropped = Object.values(dead.drops_by_reason).reduce((a, b) => a + b, 0);
  dead.injected = dead.queued - dead.packets_in + dead.packets_out + dead.processed + dropped;
  const receipts = (cpu: number) => (answered.includes(cpu) ? [{ cpu: 2, report_seq: 4, fresh: cpu === 1 ? 2 : 0, later: false, unsure: false }] : []);
  return [
    { cpu: 0, dead: false, report: report({ dead_receipts: receipts(0) }), counters: fakeCounters(0) },
    { cpu: 1, dead: false, report: report({ tx_packets: [0, 0, 70, 0], rx_packets: [0, 0, 25, 0], dead_receipts: receipts(1) }), counters: fakeCounters(1) },
    { cpu: 2, dead: true, report: report({ seq: 4, tx_packets: [0, 22, 0, 18], rx_packets: [0, 55, 0, 45] }), counters: dead },
    { cpu: 3, dead: false, report: report({ tx_packets: [0, 0, 60, 0], rx_packets: [0, 0, 20, 0], dead_receipts: receipts(3) }), counters: fakeCounters(3) },
  ];
}

const zero = (cpu: number) => ({ ...fakeCounters(cpu), online: false });

test("lost_on_crash is known once every survivor has answered for the dead CPU, and then is the crash account's", () => {
  assert.equal(knownLoss(members([]), zero), 0, "nobody answered yet");
  assert.equal(knownLoss(members([0, 1]), zero), 0, "CPU 3 has not answered: its link totals are not final");
  const all = members([0, 1, 3]);
  const account = accountCrash(all[2]!, all, zero);
  assert.deepEqual(account.inexact, []);
  // queued 10 + (in 130 − 100) − (out 45 − 40) + fresh 2
  assert.equal(account.lost, 37);
  assert.equal(knownLoss(all, zero), 37);
  // A survivor that died since without answering does not hold CPU 2's figure back (and its own is not known yet).
  const notYet = members([1, 3]).map((m) => (m.cpu === 0 ? { ...m, dead: true } : m));
  assert.equal(knownLoss(notYet, zero), 37);
  assert.equal(knownLoss(all.map((m) => ({ ...m, dead: false })), zero), 0, "no dead CPU, no loss");
});
