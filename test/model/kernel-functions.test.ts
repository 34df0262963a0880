// Unit tests of the model's kernel functions at their edges, on single Cpu objects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Cpu } from "../../model/cpu.ts";
import { emptyBatch, type CpuDeadHandover } from "../../model/messages.ts";
import { NAPI_STATE_SCHED } from "../../model/napi.ts";
import { ipiFlushArrived } from "../../model/ipi.ts";
import { enqueueToBacklog } from "../../model/receive.ts";
import { getRpsCpu, rpsCpusOf } from "../../model/rps.ts";
import { flowHash, reciprocalScale } from "../../model/rng.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { config } from "./fixtures.ts";

const idle = (o: Parameters<typeof config>[0] = {}) => config({ pps: 0, ...o });

/** A flow that RPS with map `map` sends to `cpu` under seed 1. */
function flowTo(map: number[], cpu: number, seed = 1): number {
  for (let f = 0; ; f++) if (map[reciprocalScale(flowHash(f, seed), map.length)] === cpu) return f;
}

describe("enqueue_to_backlog", () => {
  it("accepts while qlen <= netdev_max_backlog and drops the next, on the target", () => {
    const cpu = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 4 } }));
    for (let seq = 0; seq < 6; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    assert.equal(cpu.sd.input_pkt_queue.length, 5, "qlen 0..4 are all <= 4");
    assert.equal(cpu.sd.dropped, 1);
    assert.equal(cpu.c.drops_by_reason.cpu_backlog, 1);
  });

  it("schedules the backlog only on the empty-queue transition (IPI mode)", () => {
    const cpu = new Cpu(1, idle());
    enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0);
    assert.equal(cpu.ipiOwed[0], 1, "the enqueuer owes an IPI");
    assert.ok(cpu.sd.backlog.state & NAPI_STATE_SCHED);
    cpu.ipiOwed[0] = 0;
    enqueueToBacklog(cpu, 0, 7, 1, 0, 0, 0);
    enqueueToBacklog(cpu, 2, 8, 0, 0, 0, 0);
    assert.equal(cpu.ipiOwed[0], 0);
    assert.equal(cpu.ipiOwed[2], 0, "SCHED was already set: no second IPI");
  });

  it("wakes the backlog thread once per transition (thread mode)", () => {
    const cpu = new Cpu(1, idle({ profile: "6.6-patched-threads" }));
    for (let seq = 0; seq < 3; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    assert.equal(cpu.c.thread_wakeups, 1);
    assert.equal(cpu.c.lost_wakeups, 0);
  });

  it("loses the wake-up of a sleeping thread without patch 1", () => {
    const cpu = new Cpu(1, idle({ profile: "threads-without-patch1" }));
    enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0);
    assert.equal(cpu.c.lost_wakeups, 1);
    cpu.advance(10_000_000);
    assert.equal(cpu.sd.processed, 0, "the thread woke, found no SCHED_THREADED and slept");
    assert.equal(cpu.backlogThread.state, "interruptible");
    enqueueToBacklog(cpu, 0, 7, 1, 0, 0, 10_000_000);
    assert.equal(cpu.c.thread_wakeups, 1, "SCHED stays set: no later enqueue reschedules it");
  });
});

describe("RPS IPIs", () => {
  it("counts received_rps once per IPI, however many packets it serves", () => {
    const cpu = new Cpu(1, idle());
    for (let seq = 0; seq < 3; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    const b = emptyBatch(0, 1);
    b.flushes.at_ns.push(0);
    b.flushes.flush_id.push(1);
    b.flushes.raised_softirq.push(0);
    cpu.deliver(b);
    cpu.advance(1_000_000);
    assert.equal(cpu.sd.received_rps, 1);
    assert.equal(cpu.sd.processed, 3);
    assert.equal(cpu.c.attributed.ipis_sent[0], 1, "the IPI is booked on the sender's row");
  });

  it("sends no IPI to an offline CPU", () => {
    const cpu = new Cpu(1, idle());
    enqueueToBacklog(cpu, 0, 7, 0, 0, 0, 0);
    cpu.online = false;
    ipiFlushArrived(cpu, 0, 1, false);
    assert.equal(cpu.ipiPending, 0);
    assert.equal(cpu.c.attributed.ipis_sent[0], 0);
  });
});

describe("get_rps_cpu", () => {
  it("hashes onto rps_cpus, and gives -1 (handle here) for an offline target without re-hashing", () => {
    const cfg = idle({ rpsCpus: [1, 2, 3] });
    const cpu = new Cpu(0, cfg);
    const s = cpu.sources.get(0)!;
    const f = flowTo([1, 2, 3], 2);
    assert.equal(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, f), 2);
    cpu.onlineMask[2] = 0;
    assert.equal(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, f), -1);
    assert.equal(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, flowTo([1, 2, 3], 3)), 3, "other flows keep their CPU");
    assert.equal(getRpsCpu(cpu, [], s, f), -1, "no map, no RFS: no RPS");
  });

  it("RFS moves a flow to its consumer's CPU only after its old CPU drained it (per-flow order)", () => {
    const cfg = idle({ rpsCpus: [1, 2, 3], rpsFlowCnt: 256, sysctls: { rps_sock_flow_entries: 4096 } });
    const cpu = new Cpu(0, cfg);
    const s = cpu.sources.get(0)!;
    // A flow whose consumer runs on CPU 2.
    let f = 0;
    while (reciprocalScale(flowHash(f, 1 ^ 0x5f5f5f5f), 4) !== 2) f++;
    const slot = flowHash(f, 1) & 255;
    s.rfsCpu[slot] = 1; // the flow last went to CPU 1 ...
    s.rfsLastQtail[slot] = 5; // ... and its last packet is the 5th we queued there
    cpu.rfsPassedSeen[1] = 3; // CPU 1 has let only 3 of ours leave its backlog
    assert.equal(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, f), 1, "still queued on CPU 1: stay, or it could be reordered");
    cpu.rfsPassedSeen[1] = 5;
    assert.equal(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, f), 2, "drained: move to the consumer's CPU");
    cpu.onlineMask[2] = 0;
    assert.notEqual(getRpsCpu(cpu, rpsCpusOf(cpu, 0), s, f), 2, "never to an offline CPU");
  });
});

describe("skb_flow_limit", () => {
  it("only acts from half the backlog, on the enqueuer's table, for CPUs in the bitmap", () => {
    const cpu = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 64, flow_limit_cpu_bitmap: [0] } }));
    for (let seq = 0; seq < 32; seq++) enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0);
    assert.equal(cpu.flowLimit.size, 0, "below half full the limiter is not consulted");
    let refused = 0;
    for (let seq = 32; seq < 65; seq++) if (!enqueueToBacklog(cpu, 0, 7, seq, 0, 0, 0)) refused++;
    // From qlen 32 on the history fills; the 65th slot of one flow (> 64 of 128) is refused.
    assert.ok(refused === 0 && cpu.sd.input_pkt_queue.length === 65);
    assert.equal(cpu.c.attributed.flow_limit_count[0], 0, "33 of the last 128 slots: not over 64");
    assert.equal(enqueueToBacklog(cpu, 0, 7, 65, 0, 0, 0), false, "qlen 65 > max: the backlog drops it");
    assert.equal(cpu.c.drops_by_reason.cpu_backlog, 1);
    const other = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 200, flow_limit_cpu_bitmap: [0] } }));
    for (let seq = 0; seq < 200; seq++) enqueueToBacklog(other, 0, 7, seq, 0, 0, 0);
    assert.ok(other.c.attributed.flow_limit_count[0]! > 0, "one flow over 64 of the last 128: refused");
    assert.equal(other.c.drops_by_reason.flow_limit, other.c.attributed.flow_limit_count[0]);
    assert.equal(other.sd.dropped, other.c.drops_by_reason.flow_limit, "refusals are also the target's drops");
    const notInBitmap = new Cpu(1, idle({ sysctls: { netdev_max_backlog: 200, flow_limit_cpu_bitmap: [1] } }));
    for (let seq = 0; seq < 200; seq++) enqueueToBacklog(notInBitmap, 0, 7, seq, 0, 0, 0);
    assert.equal(notInBitmap.c.drops_by_reason.flow_limit, 0, "the enqueuer's CPU is what the bitmap names");
  });
});

describe("net_rx_action", () => {
  it("counts time_squeeze when the budget runs out", () => {
    const r = runInProcess(config({ pps: 1_000_000, durationNs: 5_000_000, sysctls: { netdev_budget: 8 } }));
    assert.ok(r.cpus[0]!.time_squeeze > r.cpus[0]!.net_rx_softirqs / 4, JSON.stringify(r.cpus[0]));
  });

  it("counts time_squeeze when the time limit (jiffies) runs out with budget to spare", () => {
    // 2 µs a packet: a 1-jiffy round (4 ms at HZ=250) ends near 2,000 packets, well before a budget
    // of 5,000, which a 30 ms overload (~13,000 packets) would reach if time did not end rounds.
    const budget = 5000;
    const r = runInProcess(
      config({ pps: 3_000_000, durationNs: 30_000_000, sysctls: { netdev_budget: budget, netdev_budget_usecs: 1000 } }),
    );
    const c = r.cpus[0]!;
    assert.ok(c.processed > 2 * budget, `enough work to reach the budget: ${c.processed}`);
    assert.ok(c.time_squeeze > 0, "a 1-jiffy limit at HZ=250 ends long rounds");
    const perRound = c.processed / c.net_rx_softirqs;
    assert.ok(perRound < budget / 2, `rounds end on time, not on the budget: ${perRound.toFixed(0)} packets a round`);
  });
});

describe("dev_cpu_dead", () => {
  it("re-injects the dead CPU's packets through netif_rx on the survivor, so RPS steers them again", () => {
    const cfg = idle({ rpsCpus: [1, 2, 3] });
    const cpu0 = new Cpu(0, cfg);
    cpu0.onlineMask[2] = 0;
    const h: CpuDeadHandover = { oldcpu: 2, at_ns: 0, packets: { flow: [], seq: [], source: [], inject_ns: [] } };
    for (let f = 0; f < 32; f++) {
      h.packets.flow.push(f);
      h.packets.seq.push(0);
      h.packets.source.push(0);
      h.packets.inject_ns.push(0);
    }
    const b = emptyBatch(2, 0);
    b.cpu_dead.push(h);
    cpu0.deliver(b);
    cpu0.advance(1_000_000);
    const targets = new Set(cpu0.takeOutbox().filter((x) => x.enqueues.flow.length > 0).map((x) => x.to));
    assert.deepEqual([...targets].sort(), [1, 3], "steered to the online targets, none to the dead CPU");
    assert.ok(cpu0.sd.processed > 0, "flows hashed to the offline CPU are handled on the survivor");
  });

  it("tells every peer it is down: the survivor gets the queues, the others an empty record", () => {
    const cfg = idle({ rpsCpus: [1, 2, 3] });
    const cpu1 = new Cpu(1, cfg);
    // 200 packets from CPU 0 at 980 µs: the offline command finds CPU 1 polling the first 64.
    const b1 = emptyBatch(0, 1);
    for (let f = 0; f < 200; f++) {
      b1.enqueues.flow.push(f);
      b1.enqueues.seq.push(0);
      b1.enqueues.source.push(0);
      b1.enqueues.inject_ns.push(980_000);
      b1.enqueues.send_ns.push(980_000);
    }
    cpu1.deliver(b1);
    cpu1.command({ kind: "offline", cpu: 1, at_ns: 990_000 });
    cpu1.advance(1_500_000);
    const dead = cpu1.takeOutbox().flatMap((b) => b.cpu_dead.map((h) => ({ to: b.to, oldcpu: h.oldcpu, packets: h.packets.flow.length })));
    assert.equal(dead.length, 3, "one record per peer");
    assert.ok(dead.every((d) => d.oldcpu === 1));
    assert.ok(dead.find((d) => d.to === 0)!.packets > 0, "CPU 0, the lowest online, re-injects the backlog");
    assert.deepEqual(dead.filter((d) => d.to !== 0).map((d) => d.packets), [0, 0]);
    // A peer waits for exactly that record (lookahead.ts): its count goes up with the command, down with the record.
    const cpu2 = new Cpu(2, cfg);
    cpu2.command({ kind: "offline", cpu: 1, at_ns: 990_000 });
    cpu2.advance(995_000);
    assert.equal(cpu2.downsAwaited[1], 1);
    const b = emptyBatch(1, 2);
    b.cpu_dead.push({ oldcpu: 1, at_ns: 1_000_000, packets: { flow: [], seq: [], source: [], inject_ns: [] } });
    cpu2.deliver(b);
    cpu2.advance(1_100_000);
    assert.equal(cpu2.downsAwaited[1], 0);
    assert.equal(cpu2.downsAwaitedTotal, 0);
  });

  it("a CPU whose online command came before it went down hands its NIC queue to itself, in time", () => {
    // Busy when both commands come: it goes down after its poll and back up, and sourceOwner() under
    // the mask of that moment is itself. The hand-over takes effect 50 µs later, inside one advance().
    const c0 = new Cpu(0, config({ cpus: 2, pps: 3_000_000, durationNs: 3_000_000 }));
    c0.command({ kind: "offline", cpu: 0, at_ns: 990_000 });
    c0.command({ kind: "online", cpu: 0, at_ns: 991_000 });
    c0.advance(2_000_000);
    const k = c0.counters();
    assert.equal(k.hotplug_offline, 1);
    assert.equal(k.hotplug_online, 1);
    assert.equal(k.late_records, undefined, "nothing taken after the clock passed it");
    assert.ok(c0.sources.has(0), "the NIC queue is back");
    assert.ok(c0.takeOutbox().every((b) => b.to !== 0), "no batch to itself left for the engine");
  });
});
