// When a NAPI poll completes, as the kernel decides it: process_backlog() looks at the input
// queue under the lock at the moment its process queue has drained, and a driver's poll takes
// what reached its ring while it ran before napi_complete_done(). Packets that arrive while a
// poll runs are part of that poll: no new IPI, wake-up or interrupt, no new NET_RX run.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cpu } from "../../model/cpu.ts";
import { DEFAULT_COSTS } from "../../model/defaults.ts";
import { emptyBatch, type PeerBatch } from "../../model/messages.ts";
import { NAPI_STATE_SCHED } from "../../model/napi.ts";
import { enqueueToBacklog, processCostNs } from "../../model/receive.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { config } from "./fixtures.ts";

const L = DEFAULT_COSTS;
const idle = (profile = "6.6-patched") => config({ pps: 0, profile });

/** An enqueue record from CPU 0 that takes effect on the target at `atNs` (send + rps_latency_ns). */
function enqueueAt(atNs: number, seq: number): PeerBatch {
  const b = emptyBatch(0, 1);
  b.enqueues.flow.push(7);
  b.enqueues.seq.push(seq);
  b.enqueues.source.push(0);
  b.enqueues.inject_ns.push(atNs);
  b.enqueues.send_ns.push(atNs - L.rps_latency_ns);
  return b;
}

function flushAt(atNs: number, id: number): PeerBatch {
  const b = emptyBatch(0, 1);
  b.flushes.at_ns.push(atNs - L.ipi_latency_ns);
  b.flushes.flush_id.push(id);
  b.flushes.raised_softirq.push(0);
  return b;
}

/** Three packets from CPU 0 at time 0 and their IPI: when the target's poll starts and how long it takes. */
function threePacketsAndTheirIpi(cpu: Cpu): { pollStart: number; drained: number } {
  for (let seq = 0; seq < 3; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
  cpu.deliver(flushAt(L.ipi_latency_ns, 1));
  // The IPI finds the CPU polling in idle (do_idle's flush), which leaves idle, then runs NET_RX.
  const pollStart = L.ipi_latency_ns + L.idle_exit_ns + L.irq_entry_ns + L.softirq_entry_ns;
  return { pollStart, drained: pollStart + 3 * processCostNs(cpu, 0, 0, 0) };
}

describe("process_backlog completes when the input queue is empty as the process queue drains", () => {
  it("a packet enqueued while the poll runs is processed in it: no second IPI, no second NET_RX run", () => {
    const cpu = new Cpu(1, idle("6.6"));
    const { pollStart, drained } = threePacketsAndTheirIpi(cpu);
    cpu.deliver(enqueueAt(pollStart + 1000, 3)); // lands while the first packet is processed
    cpu.advance(drained + 1);
    assert.equal(cpu.ipiOwed[0], 0, "the backlog was still scheduled: the enqueue owes no IPI");
    assert.ok(cpu.sd.backlog.state & NAPI_STATE_SCHED, "the input queue was not empty when the process queue drained");
    cpu.advance(1_000_000);
    assert.equal(cpu.sd.processed, 4);
    assert.equal(cpu.sd.received_rps, 1);
    assert.equal(cpu.c.net_rx_softirqs, 1);
    assert.equal(cpu.sd.backlog.state & NAPI_STATE_SCHED, 0, "completed once both queues were empty");
  });

  it("a packet enqueued after the queues drained schedules the backlog again and owes an IPI", () => {
    const cpu = new Cpu(1, idle("6.6"));
    const { drained } = threePacketsAndTheirIpi(cpu);
    cpu.deliver(enqueueAt(drained + 1000, 3));
    cpu.advance(drained + 1000);
    assert.equal(cpu.sd.backlog.state & NAPI_STATE_SCHED, 0);
    cpu.advance(drained + 1001);
    assert.equal(cpu.ipiOwed[0], 1, "this enqueue scheduled the backlog");
    assert.equal(cpu.sd.processed, 3);
  });

  it("backlog thread: a packet enqueued while the thread polls is its work, not a second wake-up", () => {
    const cpu = new Cpu(1, idle("6.6-patched-threads"));
    for (let seq = 0; seq < 3; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    assert.equal(cpu.c.thread_wakeups, 1);
    // The thread runs once the wake-up has landed and the CPU has left idle: well inside 20 µs.
    cpu.deliver(enqueueAt(L.wakeup_latency_ns + L.idle_exit_ns + L.context_switch_ns + 1000, 3));
    cpu.advance(1_000_000);
    assert.equal(cpu.sd.processed, 4);
    assert.equal(cpu.c.thread_wakeups, 1);
    assert.equal(cpu.sd.backlog.state & NAPI_STATE_SCHED, 0);
    assert.equal(cpu.backlogThread.state, "interruptible");
  });
});

describe("a device poll looks at its ring again before napi_complete_done()", () => {
  it("a packet DMA'd while the poll runs is taken by it: one interrupt, one NET_RX run", () => {
    // Two packets, 12 µs apart; the first one's poll is still running when the second arrives.
    const cfg = config({ pps: 83_334, rpsCpus: [], durationNs: 1_000_000 });
    cfg.load[0]!.end_ns = 20_000;
    const cpu = new Cpu(0, cfg);
    cpu.advance(1_000_000);
    const pollStart = L.idle_exit_ns + L.irq_entry_ns + L.softirq_entry_ns;
    assert.ok(pollStart < 12_000 && pollStart + L.nic_rx_per_packet_ns + processCostNs(cpu, 0, 0, 0) > 12_000, "the second packet lands mid-poll");
    assert.equal(cpu.sd.processed, 2);
    assert.equal(cpu.c.net_rx_softirqs, 1);
    assert.equal(cpu.c.busy_ns.hardirq, L.irq_entry_ns, "the IRQ stayed masked: one interrupt");
  });
});

describe("a target's NET_RX runs against its IPIs, under load (the kernel: 1.01-1.05)", () => {
  // Before the completion rule, an IPI landed inside a running net_rx_action for packets enqueued
  // while the backlog was being polled: 0.24-0.58 NET_RX runs per received_rps.
  for (const load of ["loopback", "nic"] as const) {
    it(`${load}, rps_cpus=e: each IPI starts its own NET_RX run, and few runs come without one`, () => {
      const cfg = config({ load, pps: load === "loopback" ? 1_000_000 : 400_000, rpsCpus: [1, 2, 3], profile: "6.6", durationNs: 20_000_000 });
      const r = runInProcess(cfg);
      for (const c of [1, 2, 3]) {
        const row = r.cpus[c]!;
        assert.ok(row.received_rps > 100, `cpu ${c}: ${row.received_rps} IPIs`);
        const ratio = row.net_rx_softirqs / row.received_rps;
        assert.ok(ratio >= 1 && ratio <= 1.05, `cpu ${c}: ${row.net_rx_softirqs} NET_RX runs for ${row.received_rps} IPIs`);
      }
    });
  }
});
