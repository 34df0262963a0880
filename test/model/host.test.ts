// The host the vCPUs share (model/host.ts): fewer cores than vCPUs, shared slice by slice from
// every CPU's demand, which the CPUs tell each other. A busy guest loses time, an idle one does
// not; a host with a core per vCPU changes nothing; and the words between CPUs keep every promise.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InProcessRun, runInProcess } from "../../engine/inprocess.ts";
import type { EmuConfig, HostConfig } from "../../model/config.ts";
import { atLeast, fairShares, HostShare, hostWork } from "../../model/host.ts";
import { config } from "./fixtures.ts";
import { runSynchronised } from "./sync-harness.ts";

const MS = 1_000_000;

function withHost(cfg: EmuConfig, host: Partial<HostConfig> = {}): EmuConfig {
  return { ...cfg, host: { cores: 2, slice_ns: 4 * MS, busy_share: 0.05, wake_wait_ns: 2 * MS, slice_wait: 0, others: 0, lock_hold: 0, ...host } };
}

/** A closed-loop sender on CPU 0 with RPS to CPUs 1-3 and costly processing: every CPU busy. */
function allBusy(): EmuConfig {
  return config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [1, 2, 3], durationNs: 80 * MS, costs: { process_per_packet_ns: 9000 } });
}

/** The same sender without RPS: only CPU 0 works. */
function oneBusy(): EmuConfig {
  return config({ load: "loopback", rate: { kind: "max" }, durationNs: 80 * MS });
}

const stalled = (r: ReturnType<typeof runInProcess>) => r.cpus.map((c) => c.busy_ns.stalled / r.virtual_ns);

describe("fair shares of the host's cores", () => {
  it("every demand is met when they fit", () => {
    assert.deepEqual(fairShares([1, 0.5, 0.25, 0], 2), [1, 0.5, 0.25, 0]);
  });
  it("when they do not: the small ones met, the rest split equally, none above a whole core", () => {
    assert.deepEqual(fairShares([1, 1, 1, 1], 2), [0.5, 0.5, 0.5, 0.5]);
    assert.deepEqual(fairShares([1, 0.2, 0.2, 1], 2), [0.8, 0.2, 0.2, 0.8]);
    assert.deepEqual(fairShares([1, 1, 1], 4), [1, 1, 1]);
    const s = fairShares([0.9, 0.7, 0.6, 0.3, 0.1], 2);
    assert.ok(Math.abs(s.reduce((a, b) => a + b, 0) - 2) < 1e-12, "the cores are all given");
    assert.deepEqual(s.slice(3), [0.3, 0.1]);
    for (const i of [0, 1, 2]) assert.ok(Math.abs(s[i]! - 1.6 / 3) < 1e-12, `share ${i}: ${s[i]}`);
  });
});

describe("the chance that the others take every core", () => {
  it("matches counting every case", () => {
    const ps = [0.9, 0.3, 0.5, 0.7];
    for (let k = 0; k <= 5; k++) {
      let p = 0;
      for (let m = 0; m < 1 << ps.length; m++) {
        let pm = 1;
        let n = 0;
        ps.forEach((q, i) => {
          const on = (m >> i) & 1;
          n += on;
          pm *= on ? q : 1 - q;
        });
        if (n >= k) p += pm;
      }
      assert.ok(Math.abs(atLeast(ps, k) - p) < 1e-12, `k ${k}: ${atLeast(ps, k)} vs ${p}`);
    }
  });
});

describe("a CPU's demand and its wait", () => {
  const cfg: HostConfig = { cores: 2, slice_ns: 4 * MS, busy_share: 0.05, wake_wait_ns: 2 * MS, slice_wait: 0, others: 0, lock_hold: 0 };
  it("is the share of the slice it worked while it had a core; below busy_share, none", () => {
    const h = new HostShare(cfg, 1, 4, 0);
    assert.equal(h.demandAt(4 * MS, 0), 1);
    assert.equal(h.demandAt(1 * MS, 2 * MS), 0.5, "worked half the time it had a core");
    assert.equal(h.demandAt(2 * MS, 2 * MS), 1, "worked all the time it had a core");
    assert.equal(h.demandAt(0.1 * MS, 0), 0, "2.5 % of the slice");
  });
  it("every CPU reaches the same shares from the same words; the one given less waits the rest", () => {
    const hosts = [0, 1, 2, 3].map((self) => new HostShare(cfg, 7, 4, self));
    for (const h of hosts) [1, 1, 0.2, 0].forEach((d, cpu) => h.word(cpu, 4 * MS, d));
    for (const h of hosts) h.decide();
    // Shares 0.9, 0.9, 0.2, 0: CPUs 0 and 1 wait 10 % of the next slice each, somewhere in it.
    const own = hosts.map((h, cpu) => h.waitsNext[cpu]!);
    assert.deepEqual(own.map((w) => w.toNs - w.fromNs), [0.4 * MS, 0.4 * MS, 0, 0]);
    for (const w of own.slice(0, 2)) assert.ok(w.fromNs >= 8 * MS && w.toNs <= 12 * MS);
    assert.ok(hosts.every((h) => h.boundaryNs === 8 * MS));
    // A word for another boundary (forged, or late) changes nothing.
    hosts[0]!.word(1, 4 * MS, 1);
    hosts[0]!.decide();
    const w = hosts[0]!.waitsNext[0]!;
    assert.equal(w.toNs - w.fromNs, 0);
  });
});

describe("every CPU's waits, as every CPU knows them", () => {
  const cfg: HostConfig = { cores: 2, slice_ns: 4 * MS, busy_share: 0.05, wake_wait_ns: 2 * MS, slice_wait: 0, others: 0, lock_hold: 0.5 };
  function decided(words: number[], seed = 7): HostShare[] {
    const hosts = [0, 1, 2, 3].map((self) => new HostShare(cfg, seed, 4, self));
    for (const h of hosts) words.forEach((d, cpu) => h.word(cpu, 4 * MS, d));
    for (const h of hosts) h.decide();
    for (const h of hosts) h.sliceBegins();
    return hosts;
  }

  it("are the same on every CPU, each CPU's own among them, inside the slice", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const hosts = decided([1, 1, 1, 0.6], seed);
      for (const h of hosts) assert.deepEqual(h.waitsNow, hosts[0]!.waitsNow, `seed ${seed}`);
      hosts.forEach((h, cpu) => {
        const w = h.waitsNow[cpu]!;
        assert.ok(w.fromNs >= 8 * MS && w.toNs <= 12 * MS, `seed ${seed} cpu ${cpu}: ${w.fromNs}..${w.toNs}`);
      });
    }
  });

  it("hold the lock about lock_hold of the time, and never when the CPU does not wait", () => {
    let held = 0;
    let waits = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const w = decided([1, 1, 1, 0], seed)[0]!.waitsNow;
      assert.equal(w[3]!.holdsLock, false, "CPU 3 wants nothing, waits for nothing");
      for (const x of w.slice(0, 3)) {
        waits++;
        if (x.holdsLock) held++;
      }
    }
    assert.ok(Math.abs(held / waits - 0.5) < 0.08, `${held} of ${waits}`);
  });

  it("make a delivery spin until the end of the wait of another deliverer that holds the lock", () => {
    const h = decided([1, 1, 1, 1])[0]!;
    // CPU 2 waits holding the lock, CPU 3 without it, CPU 1 not at all; CPU 0 is this one.
    h.waitsNow = [
      { fromNs: 8 * MS, toNs: 12 * MS, holdsLock: true },
      { fromNs: 8 * MS, toNs: 8 * MS, holdsLock: false },
      { fromNs: 9 * MS, toNs: 11 * MS, holdsLock: true },
      { fromNs: 8 * MS, toNs: 10 * MS, holdsLock: false },
    ];
    const all = Uint8Array.of(1, 1, 1, 1);
    assert.equal(h.lockSpinNs(9.5 * MS, all), 1.5 * MS, "CPU 2 holds it until 11 ms");
    assert.equal(h.lockSpinNs(11 * MS, all), 0, "CPU 2 runs again");
    assert.equal(h.lockSpinNs(8.5 * MS, all), 0, "CPU 3 waits without the lock; this CPU's own wait is not a spin");
    assert.equal(h.lockSpinNs(9.5 * MS, Uint8Array.of(1, 1, 0, 1)), 0, "CPU 2 delivers nothing to this socket");
  });
});

describe("the host in a run", () => {
  it("with a core per vCPU it changes nothing", () => {
    const plain = runInProcess(allBusy());
    const host = runInProcess(withHost(allBusy(), { cores: 4 }));
    assert.deepEqual(host.cpus, plain.cpus);
    assert.deepEqual(host.totals, plain.totals);
  });

  it("four busy vCPUs on two cores: each waits about half the time, and every packet is accounted for", () => {
    const r = runInProcess(withHost(allBusy()));
    assert.ok(r.checker.ok, r.checker.violations.join("; "));
    const s = stalled(r);
    for (const [cpu, share] of s.entries()) assert.ok(share > 0.3 && share < 0.6, `cpu ${cpu} waited ${share.toFixed(2)} of the run`);
    assert.ok(r.totals.injected < runInProcess(allBusy()).totals.injected * 0.75, "the sender sends less");
  });

  it("three busy vCPUs on two cores: each waits about a third of the time, once per wait", () => {
    // Waits of a third of a slice start anywhere in its first two thirds: half of them after the
    // next slice's decision (half a slice in), which once replaced them before they began; and a
    // wait that began inside a step was once taken again when its timer came (0.47 of the run).
    const cfg = config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [1, 2], durationNs: 80 * MS, costs: { process_per_packet_ns: 9000 } });
    const r = runInProcess(withHost(cfg, { wake_wait_ns: 0 }));
    assert.ok(r.checker.ok, r.checker.violations.join("; "));
    const s = stalled(r);
    // The first slice has no decision yet: 19 of 20 slices wait, a third each (0.32); a step charged
    // before a boundary counts in the slice it began, so the demands are a little off.
    for (const cpu of [0, 1, 2]) assert.ok(s[cpu]! > 0.25 && s[cpu]! < 0.36, `cpu ${cpu} waited ${s[cpu]!.toFixed(3)} of the run`);
    assert.equal(s[3], 0);
  });

  it("one busy vCPU on two cores never waits, and the idle ones wait for nothing", () => {
    const plain = runInProcess(oneBusy());
    const r = runInProcess(withHost(oneBusy()));
    assert.deepEqual(stalled(r), [0, 0, 0, 0]);
    assert.equal(r.totals.injected, plain.totals.injected);
  });

  it("a busy guest loses time on one core where an idle one does not", () => {
    const r = runInProcess(withHost(oneBusy(), { cores: 1 }));
    assert.equal(stalled(r)[0], 0, "nothing else wants the core");
    const busy = runInProcess(withHost(allBusy(), { cores: 1 }));
    for (const [cpu, share] of stalled(busy).entries()) assert.ok(share > 0.5, `cpu ${cpu} waited ${share.toFixed(2)}`);
  });

  it("slice_wait: a waking vCPU now and then waits out a running vCPU's slice, far beyond wake_wait", () => {
    const cfg = config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [1, 2, 3], receiver: 1, durationNs: 80 * MS });
    const short = runInProcess(withHost(cfg, { wake_wait_ns: 0.1 * MS }));
    const long = runInProcess(withHost(cfg, { wake_wait_ns: 0.1 * MS, slice_wait: 0.2 }));
    const targetsStalled = (r: ReturnType<typeof runInProcess>) => r.cpus.slice(2).reduce((a, c) => a + c.busy_ns.stalled, 0);
    assert.ok(targetsStalled(long) > 1.3 * targetsStalled(short), `${targetsStalled(long)} vs ${targetsStalled(short)} ns`);
    assert.ok(long.checker.ok && short.checker.ok);
  });

  it("lock_hold: with rps f the sender's CPU delivers too and spins while a preempted deliverer holds the lock", () => {
    const cfg = config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [0, 1, 2, 3], receiver: 1, durationNs: 80 * MS, costs: { process_per_packet_ns: 9000 } });
    const free = runInProcess(withHost(cfg));
    const held = runInProcess(withHost(cfg, { lock_hold: 1 }));
    assert.ok(held.checker.ok, held.checker.violations.join("; "));
    assert.ok(held.totals.injected < free.totals.injected * 0.9, `sent ${held.totals.injected} vs ${free.totals.injected}`);
    assert.ok(held.cpus[0]!.busy_ns.softirq > free.cpus[0]!.busy_ns.softirq, "the spinning is CPU 0's softirq time");
  });

  it("lock_hold changes nothing where one CPU delivers", () => {
    const plain = runInProcess(withHost(oneBusy()));
    const held = runInProcess(withHost(oneBusy(), { lock_hold: 1 }));
    assert.deepEqual(held.cpus, plain.cpus);
  });

  it("others: the host's own work takes its share of the cores, so one busy vCPU waits too", () => {
    assert.deepEqual(hostWork(1.5), [1, 0.5]);
    assert.deepEqual(hostWork(0), []);
    const r = runInProcess(withHost(oneBusy(), { others: 2 }));
    // Three busy threads on two cores: two thirds of each slice for CPU 0.
    const s = stalled(r);
    assert.ok(s[0]! > 0.25 && s[0]! < 0.4, `cpu 0 waited ${s[0]!.toFixed(2)} of the run`);
    assert.deepEqual(s.slice(1), [0, 0, 0], "the idle vCPUs want nothing and never wake");
  });

  it("is a pure function of the seed", () => {
    const a = runInProcess(withHost(allBusy()));
    const b = runInProcess(withHost(allBusy()));
    assert.deepEqual(a.cpus, b.cpus);
    const c = runInProcess(withHost({ ...allBusy(), seed: 2 }));
    assert.notDeepEqual(c.cpus.map((x) => x.busy_ns.stalled), a.cpus.map((x) => x.busy_ns.stalled));
  });
});

describe("host words under adversarial schedules", () => {
  const cases: [string, EmuConfig][] = [
    ["loopback, RPS to 1-3, a receiving task on CPU 1", withHost(config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [1, 2, 3], receiver: 1, durationNs: 20 * MS }))],
    [
      "loopback, RPS to all, host work, long waking waits and the socket's lock held while waiting",
      withHost(config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [0, 1, 2, 3], receiver: 1, durationNs: 20 * MS }), { slice_wait: 0.2, others: 0.5, lock_hold: 0.7 }),
    ],
    ["NIC at 600 kpps, RPS to all, CPU 2 offline for a while", withHost(config({ pps: 600_000, rpsCpus: [0, 1, 2, 3], durationNs: 20 * MS, events: [{ at_ns: 5 * MS, cpu: 2, action: "offline" }, { at_ns: 11 * MS, cpu: 2, action: "online" }] }), { cores: 1, slice_ns: 2 * MS })],
  ];
  for (const [name, cfg] of cases) {
    it(`${name}: the in-process engine's counters, no record late`, () => {
      const run = new InProcessRun(cfg, {});
      while (!run.done) run.step();
      const expected = JSON.stringify(run.cpus.map((c) => c.counters()));
      assert.ok(run.cpus.some((c) => c.counters().busy_ns.stalled > 0), "some CPU waits for the host");
      for (const seed of [1, 2]) {
        const r = runSynchronised(cfg, seed);
        assert.deepEqual(r.violations, [], `schedule seed ${seed}`);
        assert.equal(JSON.stringify(r.counters), expected, `schedule seed ${seed}`);
      }
    });
  }
});
