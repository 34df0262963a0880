// The lookahead's hotplug rules (model/lookahead.ts): an offline CPU in lock-step with its inputs
// only until every peer is past its offline time, then promising as an idle CPU; a mask change
// holding back only the CPUs it gives or takes a hotplug role. And the promises under adversarial
// schedules (sync-harness.ts): hotplug storms give the in-process engine's counters, with no
// record reaching a CPU after it passed the record's time.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InProcessRun } from "../../engine/inprocess.ts";
import type { EmuConfig } from "../../model/config.ts";
import { Cpu } from "../../model/cpu.ts";
import { lookaheadSlackNs } from "../../model/lookahead.ts";
import { deliverAt, emptyBatch, type CpuCommand } from "../../model/messages.ts";
import { config } from "./fixtures.ts";
import { runSynchronised } from "./sync-harness.ts";

const OFF = 1_000_000;
const ON = 3_000_000;
const L = 2_000; // rps_latency_ns, the smallest cross-CPU latency and the window of config()
const DOWN = OFF + 20_000; // an idle CPU leaves idle (idle_exit_ns) to run its offline transition
/** The hotplug rules alone: an online RPS target's charges (its own rule, tested below) land after the horizon. */
const NO_CHARGES = { charge_latency_ns: 100_000_000 };

/** CPU `id` of a 4-CPU run (NIC on CPU 0, RPS to 1-3) where CPU 2 goes offline at OFF and back at ON. */
function cpuWithHotplug(id: number, online = true): Cpu {
  const events: EmuConfig["events"] = [{ action: "offline", cpu: 2, at_ns: OFF }];
  if (online) events.push({ action: "online", cpu: 2, at_ns: ON });
  return new Cpu(id, config({ pps: 0, rpsCpus: [1, 2, 3], events, costs: NO_CHARGES }));
}

/** An enqueue from CPU 0, sent at sendNs, in a batch to `to`. */
function enqueueBatch(to: number, sendNs: number) {
  const b = emptyBatch(0, to);
  b.enqueues.flow.push(1);
  b.enqueues.seq.push(0);
  b.enqueues.source.push(0);
  b.enqueues.inject_ns.push(sendNs);
  b.enqueues.send_ns.push(sendNs);
  return b;
}

describe("an offline CPU's promise", () => {
  it("follows its inputs until every peer is past its offline time, then promises the next command like an idle CPU", () => {
    const cpu = cpuWithHotplug(2);
    cpu.advance(DOWN);
    assert.equal(cpu.online, false);
    const settled = OFF + lookaheadSlackNs(cpu);
    // A peer may still have decided to enqueue to us before OFF: it would arrive from the input bound on.
    const early = settled - 1;
    assert.equal(cpu.promiseNs(early), deliverAt(early, L, L));
    // Every peer is past OFF: nothing is addressed to us before the online command.
    assert.equal(cpu.promiseNs(settled), deliverAt(ON, L, L));
    assert.ok(cpu.promiseNs(settled) > settled + L, "more than the input bound plus a latency");
    // No command left: it never sends again.
    const gone = cpuWithHotplug(2, false);
    gone.advance(DOWN);
    assert.equal(gone.promiseNs(settled), Infinity);
  });

  it("going down behind a long section, promises the end of that section once every peer is past its offline time", () => {
    const cpu = cpuWithHotplug(2);
    cpu.command({ kind: "irq_off", cpu: 2, duration_ns: 100_000, at_ns: OFF - 1_000 });
    cpu.advance(OFF + 1);
    assert.deepEqual(cpu.pendingHotplug, ["offline"], "still up: the offline transition waits for the section");
    const busyUntil = OFF - 1_000 + 100_000;
    assert.equal(cpu.busyUntil, busyUntil);
    const settled = OFF + lookaheadSlackNs(cpu);
    assert.equal(cpu.promiseNs(settled - 1), deliverAt(settled - 1, L, L), "enqueues decided before OFF may still come");
    assert.equal(cpu.promiseNs(settled), deliverAt(busyUntil, L, L), "its hand-over, when the section ends");
  });

  it("counts what was delivered before the peers went past its offline time: an enqueue is forwarded, an IPI flush is not", () => {
    const cpu = cpuWithHotplug(2);
    cpu.advance(DOWN);
    const settled = OFF + lookaheadSlackNs(cpu);
    const flush = emptyBatch(0, 2);
    flush.flushes.at_ns.push(DOWN); // sent late in a long step that began before OFF (nothing lands before the clock)
    flush.flushes.flush_id.push(1);
    flush.flushes.raised_softirq.push(0);
    cpu.deliver(flush);
    assert.equal(cpu.promiseNs(settled), deliverAt(ON, L, L), "a flush makes an offline CPU send nothing");
    const arrives = DOWN + 5_000; // sent late in a long step that began before OFF
    cpu.deliver(enqueueBatch(2, arrives - L));
    assert.equal(cpu.promiseNs(settled), deliverAt(arrives, L, L), "forwarded to the survivor when it arrives");
    cpu.advance(arrives + 1);
    const [out] = cpu.takeOutbox().filter((b) => b.forwarded.flow.length > 0);
    assert.equal(out?.to, 0, "forwarded to the lowest online CPU");
    assert.deepEqual(out?.forwarded.send_ns, [arrives]);
    assert.equal(cpu.promiseNs(Math.max(settled, arrives + 1)), deliverAt(ON, L, L));
  });
});

describe("a mask change", () => {
  it("holds in lock-step the CPUs it gives or takes a hotplug role, not the others", () => {
    // CPU 0: lowest online and the NIC's owner; CPU 3: neither, before and after CPU 2 goes.
    const [c0, c3] = [cpuWithHotplug(0), cpuWithHotplug(3)];
    for (const c of [c0, c3]) c.advance(OFF + 1);
    assert.equal(c0.lastRoleChangeNs, OFF);
    assert.equal(c3.lastRoleChangeNs, -Infinity);
    const ib = OFF + 1;
    assert.equal(c3.promiseNs(ib), deliverAt(ON, L, L), "CPU 3 receives none of the hand-overs or forwards");
    // CPU 1 becomes the lowest online when CPU 0 goes: it may get CPU 0's backlog and NIC queue.
    const c1 = new Cpu(1, config({ pps: 0, rpsCpus: [1, 2, 3], events: [{ action: "offline", cpu: 0, at_ns: OFF }], costs: NO_CHARGES }));
    c1.advance(OFF + 1);
    assert.equal(c1.lastRoleChangeNs, OFF);
    assert.equal(c1.promiseNs(ib), deliverAt(ib, L, L), "lock-step while CPU 0's hand-overs may arrive");
  });

  it("leaves a CPU that awaits a NIC queue a hand-over's latency ahead of its inputs", () => {
    // CPU 0 comes back while CPU 1 still polls the queue it took: only that hand-over can come.
    const events: EmuConfig["events"] = [{ action: "offline", cpu: 0, at_ns: OFF }, { action: "online", cpu: 0, at_ns: ON }];
    const c0 = new Cpu(0, config({ pps: 0, rpsCpus: [1, 2, 3], events, costs: NO_CHARGES }));
    c0.advance(ON + 1);
    assert.ok(c0.online && !c0.sources.has(0), "up, without its NIC queue");
    const hotplugNs = c0.costs.hotplug_latency_ns;
    for (const ib of [ON + 1, ON + 1_000_000]) assert.equal(c0.promiseNs(ib), deliverAt(ib - lookaheadSlackNs(c0) + hotplugNs, L, L));
  });
});

describe("charges (IPIs and wake-ups the target decides, the enqueuer pays)", () => {
  it("a rate command still to apply bounds the promise: a faster source sends sooner than its next arrival", () => {
    // The NIC on CPU 0 at 20 kpps: after the packet at 0, the next arrives at 50 µs; at 40 µs the rate goes up.
    const cpu = new Cpu(0, config({ pps: 20_000, rpsCpus: [1], costs: NO_CHARGES }));
    cpu.advance(30_000);
    assert.equal(cpu.promiseNs(30_000), deliverAt(50_000, L, L), "the next arrival");
    cpu.command({ kind: "rate", source: 0, pps: 1_200_000, at_ns: 40_000 });
    assert.equal(cpu.promiseNs(30_000), deliverAt(40_000, L, L), "the command: arrivals may come sooner from then on");
  });

  it("an online CPU may charge from its input bound on, charge_latency_ns later; an offline one never", () => {
    const cpu = new Cpu(2, config({ pps: 0, rpsCpus: [1, 2, 3] }));
    const ib = 5_000;
    const charge = cpu.costs.charge_latency_ns;
    assert.ok(charge > L);
    assert.equal(cpu.promiseNs(ib), deliverAt(ib, charge, L), "a flush from ib on may owe an IPI");
    cpu.deliver(enqueueBatch(2, ib - 2 * L)); // takes effect before ib, not applied yet
    assert.equal(cpu.promiseNs(ib), deliverAt(ib, charge, L), "an enqueue is no charge in IPI mode");
    const off = cpuWithHotplug(2, false);
    off.advance(DOWN);
    assert.equal(off.promiseNs(OFF + 10 * L), Infinity);
  });
});

/** One offline/online pair every `everyNs` over `cpus`, each CPU down for `dwellNs`. */
function storm(cpus: number[], everyNs: number, dwellNs: number, endNs: number): CpuCommand[] {
  const out: CpuCommand[] = [];
  let k = 0;
  for (let t = everyNs; t + dwellNs < endNs; t += everyNs) {
    const cpu = cpus[k++ % cpus.length]!;
    out.push({ kind: "offline", cpu, at_ns: t }, { kind: "online", cpu, at_ns: t + dwellNs });
  }
  return out;
}

function inProcessCounters(cfg: EmuConfig, commands: CpuCommand[]): string {
  const run = new InProcessRun(cfg, { commands });
  while (!run.done) run.step();
  return JSON.stringify(run.cpus.map((c) => c.counters()));
}

describe("promises under adversarial schedules", () => {
  // Hotplug storms where each CPU stays down longer than its offline transition can be delayed
  // by a running net_rx_action, the NIC's CPU among those that go.
  const cases: [string, EmuConfig, CpuCommand[]][] = [
    ["NIC at 1 Mpps, RPS to all, CPUs 1-3 cycling", config({ pps: 1_000_000, rpsCpus: [0, 1, 2, 3], flows: 256, durationNs: 3_000_000 }), storm([1, 2, 3], 300_000, 250_000, 3_000_000)],
    ["NIC at 2 Mpps, RPS to 1-3, every CPU cycling", config({ pps: 2_000_000, rpsCpus: [1, 2, 3], flows: 8, durationNs: 3_000_000 }), storm([0, 2, 1, 3], 350_000, 300_000, 3_000_000)],
    ["loopback with backlog threads", config({ load: "loopback", profile: "6.6-patched-threads", pps: 500_000, rpsCpus: [0, 1, 2, 3], durationNs: 3_000_000 }), storm([0, 1, 2, 3], 400_000, 300_000, 3_000_000)],
    ["rt-6.6 in IPI mode", config({ profile: "rt-6.6", pps: 800_000, rpsCpus: [1, 2, 3], durationNs: 3_000_000 }), storm([3, 0, 2], 330_000, 250_000, 3_000_000)],
  ];
  for (const [name, cfg, commands] of cases) {
    it(`${name}: the in-process engine's counters, no record late`, () => {
      const expected = inProcessCounters(cfg, commands);
      for (const seed of [1, 2]) {
        const r = runSynchronised(cfg, seed, commands);
        assert.deepEqual(r.violations, [], `schedule seed ${seed}`);
        assert.equal(JSON.stringify(r.counters), expected, `schedule seed ${seed}`);
      }
    });
  }

  it("a CPU going down behind a long poll, past the survivor's settle window: the survivor waits for its dev_cpu_dead record", () => {
    // CPU 1 is one backlog poll (64 packets × 2 µs) into its net_rx_action when its offline command
    // comes, and goes down ~120 µs later, past the settle window (~60 µs); CPU 0, idle and the lowest
    // online CPU, re-injects the backlog to CPU 2 under the new rps map. Without the record every
    // peer gets when a CPU has gone down, CPU 0 promised past it and CPU 2 ran ahead (seeds 1 and 5).
    const cfg = config({ pps: 3_000_000, rpsCpus: [1], flows: 64, durationNs: 1_600_000 });
    cfg.queues[0]!.irq_affinity = [3]; // the NIC on CPU 3: CPU 0, the survivor, is idle
    const commands: CpuCommand[] = [
      { kind: "offline", cpu: 1, at_ns: 990_000 },
      { kind: "rps", source: 0, cpus: [2], at_ns: 991_000 },
    ];
    const expected = inProcessCounters(cfg, commands);
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const r = runSynchronised(cfg, seed, commands);
      assert.deepEqual(r.violations, [], `schedule seed ${seed}`);
      assert.equal(JSON.stringify(r.counters), expected, `schedule seed ${seed}`);
    }
  });
});

describe("promises per destination: socket records reach only the receiving task's CPU", () => {
  it("an RPS target feeding a remote socket is in lock-step with its inputs towards that CPU only", () => {
    // Receiver on CPU 1; CPU 2 is an idle RPS target: an enqueue from its input bound on is processed
    // and goes on to CPU 1's socket, so CPU 1 may get a record from ib + L on; every other CPU
    // only its charges, charge_latency_ns later (the rule above).
    const cpu = new Cpu(2, config({ pps: 0, rpsCpus: [1, 2, 3], receiver: 1 }));
    const ib = 5_000;
    const charge = cpu.costs.charge_latency_ns;
    assert.equal(cpu.promiseNs(ib), deliverAt(ib, L, L));
    assert.equal(cpu.promiseToNs(ib, 1), deliverAt(ib, L, L), "the socket's CPU");
    for (const to of [0, 3]) assert.equal(cpu.promiseToNs(ib, to), deliverAt(ib, charge, L), `cpu ${to}`);
    // The socket's own CPU delivers locally: one promise for all.
    const own = new Cpu(1, config({ pps: 0, rpsCpus: [1, 2, 3], receiver: 1 }));
    assert.equal(own.promiseToNs(ib, 0), own.promiseNs(ib));
  });

  for (const [name, cfg] of [
    ["NIC at 600 kpps, RPS to 1-3, the socket on CPU 1", config({ pps: 600_000, rpsCpus: [1, 2, 3], receiver: 1, durationNs: 2_000_000 })],
    ["loopback, RPS to all, the socket on CPU 3", config({ load: "loopback", pps: 400_000, rpsCpus: [0, 1, 2, 3], receiver: 3, durationNs: 2_000_000 })],
    ["backlog threads, RPS to 2-3, the socket on CPU 0", config({ profile: "6.6-patched-threads", pps: 500_000, rpsCpus: [2, 3], receiver: 0, durationNs: 2_000_000 })],
  ] as const) {
    it(`${name}: the in-process engine's counters on adversarial schedules, no record late`, () => {
      const expected = inProcessCounters(cfg, []);
      assert.ok(JSON.parse(expected).some((c: { sock_in: number }) => c.sock_in > 300), "the socket takes packets");
      for (const seed of [1, 2, 3]) {
        const r = runSynchronised(cfg, seed);
        assert.deepEqual(r.violations, [], `schedule seed ${seed}`);
        assert.equal(JSON.stringify(r.counters), expected, `schedule seed ${seed}`);
      }
    });
  }
});
