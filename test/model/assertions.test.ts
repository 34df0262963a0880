// The model's assertions (model/assert.ts) fire on a corrupted state — and stay quiet on a sound
// one, including the states the kernel allows (a queue left over a lowered netdev_max_backlog).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvariantError } from "../../model/assert.ts";
import { Cpu } from "../../model/cpu.ts";
import { emptyBatch, pushRecord } from "../../model/messages.ts";
import { nicFillRing } from "../../model/nic.ts";
import { enqueueToBacklog } from "../../model/receive.ts";
import { receiverStep } from "../../model/receiver.ts";
import { aggregate } from "../../engine/aggregate.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { config } from "./fixtures.ts";

const idle = (o: Parameters<typeof config>[0] = {}) => config({ pps: 0, ...o });
const broken = (msg: RegExp) => (e: unknown) => e instanceof InvariantError && msg.test(e.message);

/** Packets put straight into a backlog queue, behind enqueue_to_backlog's back. */
function stuff(cpu: Cpu, q: "input_pkt_queue" | "process_queue", n: number): void {
  for (let i = 0; i < n; i++) cpu.sd[q].push(9, i, 0, 0, 0);
}

describe("backlog bounds", () => {
  it("enqueue_to_backlog: an input queue longer than netdev_max_backlog allows", () => {
    const cpu = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 4 } }));
    stuff(cpu, "input_pkt_queue", 6);
    cpu.sd.input_queue_tail += 6; // keep the count of enqueues right: only the bound is broken
    assert.throws(() => enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0), broken(/netdev_max_backlog/));
  });

  it("stays quiet at the limit and over a lowered one (the kernel trims nothing)", () => {
    const cpu = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 4 } }));
    for (let seq = 0; seq < 8; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    cpu.command({ kind: "sysctl", key: "netdev_max_backlog", value: 1, at_ns: 0 });
    cpu.advance(1);
    assert.ok(cpu.sd.backlogLen > 2);
    for (let seq = 8; seq < 10; seq++) assert.equal(enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0), false);
  });

  it("process_backlog: a process queue longer than any input queue could have been", () => {
    const cpu = new Cpu(0, idle({ sysctls: { netdev_max_backlog: 4 } }));
    enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0); // schedules the backlog: NET_RX runs at the next step
    stuff(cpu, "process_queue", 300);
    cpu.sd.input_queue_tail += 300;
    assert.throws(() => cpu.advance(1_000_000), broken(/process_queue longer/));
  });
});

describe("backlog conservation: enqueued - left = queued", () => {
  it("enqueue_to_backlog finds a packet nobody enqueued", () => {
    const cpu = new Cpu(1, idle());
    enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0);
    stuff(cpu, "input_pkt_queue", 1);
    assert.throws(() => enqueueToBacklog(cpu, 0, 7, 1, 0, 0, 0), broken(/enqueued - left/));
  });

  it("process_backlog finds a packet gone missing", () => {
    const cpu = new Cpu(0, idle());
    for (let seq = 0; seq < 3; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    cpu.sd.input_queue_tail++;
    assert.throws(() => cpu.advance(1_000_000), broken(/enqueued - left/));
  });

  it("holds through whole runs: RPS over IPIs, backlog threads, hotplug", () => {
    for (const profile of ["6.6-patched", "6.6-patched-threads"]) {
      const events = [{ at_ns: 1_000_000, cpu: 2, action: "offline" as const }, { at_ns: 1_500_000, cpu: 2, action: "online" as const }];
      const r = runInProcess(config({ profile, rpsCpus: [1, 2, 3], pps: 600_000, durationNs: 2_000_000, events }));
      assert.ok(r.totals.processed > 100, profile);
    }
  });
});

describe("the NIC ring", () => {
  it("is never longer than its size", () => {
    const cpu = new Cpu(0, config({ pps: 1_000_000 }));
    const s = cpu.sources.get(0)!;
    for (let i = 0; i <= s.ringSize; i++) s.ring.push(1, i, 0, 0, 0);
    assert.throws(() => nicFillRing(cpu, s, 1_000), broken(/NIC ring/));
  });
});

describe("virtual time only moves forward", () => {
  it("a command before the CPU's clock", () => {
    const cpu = new Cpu(0, idle());
    cpu.advance(50_000);
    assert.throws(() => cpu.command({ kind: "rate", source: 0, pps: 1, at_ns: 49_999 }), broken(/command before/));
    cpu.command({ kind: "rate", source: 0, pps: 1, at_ns: 50_000 });
  });

  it("a peer's record that lands before the CPU's clock is taken late, counted, and the run is not exact", () => {
    const cpu = new Cpu(1, idle());
    cpu.advance(50_000);
    assert.equal(cpu.counters().late_records, undefined, "absent while none came late");
    const b = emptyBatch(0, 1);
    pushRecord(b.enqueues, 7, 0, 0, 0, 10_000);
    cpu.deliver(b);
    cpu.advance(60_000);
    const c = cpu.counters();
    assert.equal(c.late_records, 1);
    assert.equal(c.processed + c.queued, 1, "the packet is not lost: it was enqueued, late");
    const checker = aggregate(idle(), [c], { engine: "inprocess", lostOnCrash: 0, violations: [] }).checker;
    assert.equal(checker.ok, false);
    assert.match(checker.violations.join("\n"), /not exact: CPU 1 took 1 record\(s\) from peers after its clock had passed them/);
  });
});

describe("counters at a snapshot", () => {

  it("none is negative", () => {
    const cpu = new Cpu(0, idle());
    cpu.counters();
    cpu.c.busy_ns.softirq = -1;
    assert.throws(() => cpu.counters(), broken(/negative counter/));
  });

  it("every backlog drop has its reason", () => {
    const cpu = new Cpu(0, idle());
    cpu.sd.dropped++;
    assert.throws(() => cpu.counters(false), broken(/drops by reason/));
  });

  it("the socket accounts for what came in", () => {
    const cfg = idle();
    cfg.receiver = { cpu: 0, rmem: { kind: "packets", limit: 100 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 };
    const cpu = new Cpu(0, cfg);
    cpu.c.sock_in++;
    assert.throws(() => cpu.counters(), broken(/socket: in/));
  });

  it("recvmsg() frees no more than was charged to the socket", () => {
    const cfg = idle();
    cfg.receiver = { cpu: 0, rmem: { kind: "packets", limit: 100 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 };
    const cpu = new Cpu(0, cfg);
    cpu.socket!.queue.push(7, 0, 0, 0, 0); // queued without sk_rmem_alloc
    assert.throws(() => receiverStep(cpu, cpu.socket!.task), broken(/sk_rmem_alloc/));
  });
});
