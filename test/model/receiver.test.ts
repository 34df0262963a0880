// The receiving task (model/receiver.ts, issue 12 item 4): a socket on the task's CPU that every
// processed packet goes to, its receive buffer's drops counted by reason (rcvbuf_errors), wake-ups
// by IPI from other CPUs, and the task's CPU time competing with the softirq work of its CPU.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import type { EmuConfig, ReceiverConfig } from "../../model/config.ts";
import type { RunResults } from "../../model/results.ts";
import { truesize } from "../../model/receiver.ts";
import { config, type Opts } from "./fixtures.ts";

const MS = 1_000_000;

function withReceiver(o: Opts, r: Partial<ReceiverConfig> = {}): EmuConfig {
  const cfg = config({ load: "loopback", durationNs: 5 * MS, ...o });
  cfg.receiver = { cpu: 1, rmem: { kind: "bytes", limit: 212_992 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0, ...r };
  return cfg;
}

/** Both stages balance: the backlog's law, and processed = delivered = consumed + queued + rcvbuf_errors + in flight. */
function balanced(r: RunResults): void {
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  const t = r.totals;
  const s = t.socket!;
  assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight);
  assert.equal(s.delivered, t.processed);
  assert.equal(s.delivered, s.consumed + s.queued + s.rcvbuf_errors + s.in_flight);
}

test("a receive buffer too small for the flood: drops counted by reason on the task's CPU, every packet accounted for", () => {
  const r = runInProcess(withReceiver({ rate: { kind: "max" }, rpsCpus: [1, 2, 3] }, { rmem: { kind: "packets", limit: 16 } }));
  balanced(r);
  const s = r.totals.socket!;
  assert.ok(s.rcvbuf_errors > 0, "the task cannot keep up with three CPUs delivering");
  assert.equal(r.cpus[1]!.rcvbuf_errors, s.rcvbuf_errors, "counted where the socket lives");
  assert.ok(s.queued <= 16);
  assert.equal(r.totals.dropped_by_reason.cpu_backlog, 0, "socket drops are not backlog drops");
  assert.ok(r.cpus[1]!.sock_consumed > 0 && r.cpus[1]!.busy_ns.task >= r.cpus[1]!.sock_consumed * 1000, "recvmsg time on CPU 1");
});

test("rmem in bytes counts skb truesize: admitted while the buffer is not above the limit", () => {
  assert.equal(truesize(64), 768);
  assert.equal(truesize(1500), 2304);
  const r = runInProcess(withReceiver({ rate: { kind: "max" }, rpsCpus: [1, 2, 3] }, { rmem: { kind: "bytes", limit: 4 * 768 }, per_packet_ns: 20_000 }));
  balanced(r);
  assert.ok(r.totals.socket!.rcvbuf_errors > 0);
  assert.ok(r.cpus[1]!.sock_queued <= 5, `${r.cpus[1]!.sock_queued} queued: 0, 768, … 3072 bytes in use admit 5`);
});

test("a receiver that keeps up drops nothing; wake-ups from another CPU are IPIs, from its own CPU not", () => {
  const remote = runInProcess(withReceiver({ pps: 50_000 }));
  balanced(remote);
  assert.equal(remote.totals.socket!.rcvbuf_errors, 0);
  const c1 = remote.cpus[1]!;
  assert.ok(c1.sock_wakeups > 0 && c1.sock_wakeup_ipis === c1.sock_wakeups, "processed on CPU 0, woken on CPU 1 by IPI");
  assert.equal(remote.cpus[0]!.sock_delivered, remote.totals.processed);
  const local = runInProcess(withReceiver({ pps: 50_000 }, { cpu: 0 }));
  balanced(local);
  assert.ok(local.cpus[0]!.sock_wakeups > 0);
  assert.equal(local.cpus[0]!.sock_wakeup_ipis, 0);
});

test("the task competes with softirq work on its CPU: a dearer recvmsg slows a sender on that CPU", () => {
  const sent = (per: number) => runInProcess(withReceiver({ rate: { kind: "max" } }, { cpu: 0, per_packet_ns: per })).totals.injected;
  assert.ok(sent(4000) < sent(0) * 0.7, "sender and receiver share CPU 0");
});

test("without a receiver nothing changes: no socket stage in the totals", () => {
  const r = runInProcess(config({ load: "loopback", durationNs: 2 * MS }));
  assert.equal(r.totals.socket, undefined);
  assert.ok(r.cpus.every((c) => c.sock_delivered === 0 && c.sock_in === 0));
});
