// What real kernels showed (docs/DESIGN.md §1.10), as tests on scenarios like the measured ones:
// 4 CPUs, a loopback sender on CPU 0 or a NIC queue with its IRQ on CPU 0, 64 flows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import type { RunResults } from "../../model/results.ts";
import { config, type Opts } from "./fixtures.ts";

const E = [1, 2, 3];
const F = [0, 1, 2, 3];
/** Load that stops 4 ms before the end (an overloaded sender keeps sending what fell due before:
 *  catch_up, so it offers the rate asked for), so nothing is left in flight when counters are compared. */
const settled = (o: Opts): RunResults => {
  const durationNs = o.durationNs ?? 10_000_000;
  const cfg = config({ ...o, durationNs });
  for (const p of cfg.load) {
    p.end_ns = durationNs - 4_000_000;
    if (p.source.kind === "loopback") p.catch_up = true;
  }
  return runInProcess(cfg);
};
const sum = (r: RunResults, k: "processed" | "dropped" | "received_rps" | "time_squeeze", cpus = [1, 2, 3]) =>
  cpus.reduce((s, c) => s + r.cpus[c]![k], 0);

function conserved(r: RunResults): void {
  const t = r.totals;
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight + t.lost_on_crash);
}

describe("loopback (UDP, sender on CPU 0)", () => {
  it("without RPS: everything on the sender's CPU, one NET_RX run per packet", () => {
    const r = settled({ load: "loopback", pps: 100_000 });
    conserved(r);
    assert.equal(r.cpus[0]!.processed, r.totals.injected);
    assert.equal(r.cpus[0]!.net_rx_softirqs, r.totals.injected);
    for (const c of [1, 2, 3]) assert.equal(r.cpus[c]!.processed, 0);
  });

  // 800 kpps is under load yet within the sender's reach (~0.97 Mpps with a remote enqueue's
  // cost), so the load ends and everything drains before the counters are compared.
  for (const pps of [100_000, 800_000]) {
    it(`IPI mode, rps_cpus=e at ${pps} pps: CPU 0 processes nothing and raises NET_RX only to send IPIs`, () => {
      const r = settled({ load: "loopback", pps, rpsCpus: E, profile: "6.6" });
      conserved(r);
      assert.equal(r.cpus[0]!.processed, 0);
      assert.equal(r.cpus[0]!.net_rx_softirqs, sum(r, "received_rps"), "sender's NET_RX = Σ received_rps");
      assert.equal(r.cpus[0]!.ipis_sent, sum(r, "received_rps"));
      for (const c of E) assert.ok(r.cpus[c]!.received_rps > 0 && r.cpus[c]!.processed > 0);
    });
  }

  // A target's only NAPI is its backlog, polled once per net_rx_action: the run is cut short
  // (time_squeeze) by netdev_budget below the weight or by 2 jiffies going by — a stall, see the
  // netdev_budget=8 test. Without either, a busy target runs NET_RX after NET_RX, unsqueezed.
  it("IPI mode under load: one IPI serves many packets, and a target's NET_RX runs are about its IPIs or its polls", () => {
    const r = settled({ load: "loopback", pps: 2_000_000, rpsCpus: E, profile: "6.6" });
    assert.ok(sum(r, "processed") > 3 * sum(r, "received_rps"), "received_rps far below processed");
    assert.equal(sum(r, "time_squeeze"), 0);
  });

  it("backlog threads: no received_rps and no NET_RX on the targets, counts still on the targets' rows", () => {
    const r = settled({ load: "loopback", pps: 2_000_000, rpsCpus: E, profile: "6.6-patched-threads" });
    conserved(r);
    for (const c of E) {
      const row = r.cpus[c]!;
      assert.equal(row.received_rps, 0);
      assert.equal(row.net_rx_softirqs, 0);
      assert.equal(row.time_squeeze, 0, "threaded polling counts no time_squeeze");
      assert.ok(row.processed > 0 && row.thread_wakeups > 0);
    }
    assert.equal(r.cpus[0]!.net_rx_softirqs, 0, "no IPIs to send: the sender raises nothing");
  });

  for (const rps of [[], F]) {
    it(`backlog threads, rps_cpus=${rps.length ? "f" : "0"}: what stays on CPU 0 goes through NET_RX (use_local_napi)`, () => {
      const r = settled({ load: "loopback", pps: 2_000_000, rpsCpus: rps, profile: "6.6-patched-threads" });
      conserved(r);
      const c0 = r.cpus[0]!;
      assert.ok(c0.processed > 0 && c0.net_rx_softirqs > 0);
      for (const c of [1, 2, 3]) assert.equal(r.cpus[c]!.time_squeeze, 0, "time_squeeze only on CPU 0");
    });
  }

  it("netdev_max_backlog=32: every target drops, counted on the target's row", () => {
    const r = settled({
      load: "loopback",
      pps: 2_000_000,
      flows: 256, // enough flows that every target gets more than it can process
      rpsCpus: E,
      profile: "6.6",
      sysctls: { netdev_max_backlog: 32 },
      // A third of the sender's rate is over each target's capacity by half (not at its edge).
      costs: { process_per_packet_ns: 5000 },
    });
    conserved(r);
    assert.equal(r.cpus[0]!.dropped, 0);
    for (const c of E) assert.ok(r.cpus[c]!.dropped > 0, `cpu ${c} drops`);
  });

  it("flow limit (one flow, netdev_max_backlog=64): counted on the sender's row only when it is in the bitmap", () => {
    const base = { load: "loopback" as const, flows: 1, pps: 2_000_000, rpsCpus: E, profile: "6.6" };
    const sender = settled({ ...base, sysctls: { netdev_max_backlog: 64, flow_limit_cpu_bitmap: [0] } });
    const target = sender.cpus.find((c) => c.processed > 0)!;
    assert.ok(sender.cpus[0]!.flow_limit_count > 0);
    assert.equal(target.flow_limit_count, 0);
    assert.ok(target.dropped >= sender.cpus[0]!.flow_limit_count, "flow-limited packets are in the target's dropped");
    assert.equal(sender.totals.dropped_by_reason.flow_limit, sender.cpus[0]!.flow_limit_count);
    const targets = settled({ ...base, sysctls: { netdev_max_backlog: 64, flow_limit_cpu_bitmap: E } });
    assert.equal(targets.cpus.reduce((s, c) => s + c.flow_limit_count, 0), 0, "targets in the bitmap: 0 despite drops");
    assert.ok(targets.totals.dropped > 0);
  });

  it("the flow-to-CPU mapping changes with the seed (the boot-time hash key)", () => {
    const a = settled({ load: "loopback", pps: 100_000, rpsCpus: E, flows: 8, seed: 1 });
    const b = settled({ load: "loopback", pps: 100_000, rpsCpus: E, flows: 8, seed: 2 });
    assert.notDeepEqual(a.cpus.map((c) => c.processed), b.cpus.map((c) => c.processed));
  });
});

describe("NIC path (RX queue IRQ on CPU 0)", () => {
  for (const pps of [15_000, 50_000]) {
    it(`RPS off at ${pps} pps: all on the IRQ CPU, fewer packets per NET_RX run than the NAPI weight`, () => {
      const r = settled({ pps });
      conserved(r);
      const c0 = r.cpus[0]!;
      assert.equal(c0.processed + c0.dropped, r.totals.injected - r.totals.dropped_by_reason.rx_ring_full);
      assert.ok(c0.processed / c0.net_rx_softirqs < 64);
    });

    it(`IPI mode, rps_cpus=e at ${pps} pps: at most one IPI per target per net_rx_action`, () => {
      const r = settled({ pps, rpsCpus: E, profile: "6.6" });
      conserved(r);
      const c0 = r.cpus[0]!;
      assert.equal(c0.processed, 0);
      for (const c of E) assert.ok(r.cpus[c]!.received_rps <= c0.net_rx_softirqs);
      assert.ok(sum(r, "received_rps") <= 3 * c0.net_rx_softirqs);
      for (const c of E) {
        const row = r.cpus[c]!;
        assert.ok(Math.abs(row.net_rx_softirqs - row.received_rps) <= 0.1 * row.received_rps, "NET_RX runs ≈ received_rps");
      }
    });
  }

  it("IPI mode under a flood with interrupt coalescing: one IPI serves many packets", () => {
    const cfg = config({ pps: 15_000, rpsCpus: E, profile: "6.6" });
    cfg.queues[0]!.rx_usecs = 1000;
    const r = runInProcess(cfg);
    assert.ok(sum(r, "processed") / sum(r, "received_rps") > 3);
  });

  // netdev_budget below the device's weight: CPU 0's every net_rx_action ends squeezed.
  it("backlog threads: no received_rps, no NET_RX on the targets, time_squeeze only on CPU 0", () => {
    const r = settled({ pps: 2_500_000, rpsCpus: E, profile: "6.6-patched-threads", sysctls: { netdev_budget: 32 } });
    conserved(r);
    assert.ok(r.cpus[0]!.time_squeeze > 0);
    for (const c of E) {
      assert.equal(r.cpus[c]!.received_rps, 0);
      assert.equal(r.cpus[c]!.net_rx_softirqs, 0);
      assert.equal(r.cpus[c]!.time_squeeze, 0);
    }
  });

  it("netdev_budget=8: CPU 0 squeezes in most runs; IPI-mode targets squeeze too, threaded ones never", () => {
    const ipi = settled({ pps: 1_000_000, rpsCpus: E, profile: "6.6", sysctls: { netdev_budget: 8 } });
    const c0 = ipi.cpus[0]!;
    assert.ok(c0.time_squeeze > 0.4 * c0.net_rx_softirqs, `${c0.time_squeeze} of ${c0.net_rx_softirqs}`);
    const base = settled({ pps: 1_000_000, rpsCpus: E, profile: "6.6" });
    assert.ok(c0.time_squeeze > 10 * (base.cpus[0]!.time_squeeze + 1), "from tens to thousands");
    assert.ok(sum(ipi, "time_squeeze") > 0);
    const threads = settled({ pps: 1_000_000, rpsCpus: E, profile: "6.6-patched-threads", sysctls: { netdev_budget: 8 } });
    assert.ok(threads.cpus[0]!.time_squeeze > 0);
    assert.equal(sum(threads, "time_squeeze"), 0);
  });

  it("rps_cpus=f: CPU 0 keeps about a quarter and processes it locally", () => {
    const r = settled({ pps: 50_000, rpsCpus: F, flows: 64 });
    const share = r.cpus[0]!.processed / r.totals.processed;
    assert.ok(share > 0.1 && share < 0.4, `share ${share}`);
    assert.equal(r.cpus[0]!.received_rps, 0);
  });

  it("PREEMPT_RT in IPI mode warns in do_softirq_post_smp_call_flush on a target; never with backlog threads or without RT", () => {
    const lines: string[] = [];
    const cfg = config({ pps: 50_000, rpsCpus: E, profile: "rt-6.6" });
    const rt = runInProcess(cfg, { log: (l) => lines.push(l) });
    assert.ok(sum(rt, "received_rps") > 0 && rt.cpus.slice(1).some((c) => c.rt_flush_warnings > 0));
    assert.equal(rt.cpus[0]!.rt_flush_warnings, 0);
    assert.match(lines[0] ?? "", /WARNING: .* at kernel\/softirq.c:\d+ do_softirq_post_smp_call_flush.*flush_smp_call_function_queue <- do_idle/);
    for (const p of ["rt-6.6-patched", "6.6", "6.6-patched", "6.6-patched-threads"]) {
      const r = runInProcess(config({ pps: 50_000, rpsCpus: E, profile: p }));
      assert.equal(r.cpus.reduce((s, c) => s + c.rt_flush_warnings, 0), 0, p);
    }
  });
});

describe("CPU hotplug in the middle of the flood", () => {
  const events = (cpu: number) => [
    { at_ns: 3_000_000, cpu, action: "offline" as const },
    { at_ns: 6_000_000, cpu, action: "online" as const },
  ];

  for (const [name, o] of [
    ["a plain target, rps_cpus=e", { rpsCpus: E, events: events(2) }],
    ["a plain target, rps_cpus=f", { rpsCpus: F, events: events(2) }],
    ["the receiver's CPU", { rpsCpus: F, events: events(0) }],
    ["a target with netdev_max_backlog=32", { rpsCpus: E, events: events(2), sysctls: { netdev_max_backlog: 32 } }],
    ["a target, loopback, backlog threads", { load: "loopback" as const, rpsCpus: E, events: events(3), profile: "6.6-patched-threads" }],
    ["a target, RT", { rpsCpus: E, events: events(1), profile: "rt-6.6" }],
  ] as [string, Opts][]) {
    it(`conserves every packet when the CPU offlined is ${name}`, () => {
      const r = settled({ pps: 1_000_000, durationNs: 10_000_000, ...o });
      conserved(r);
      const cpu = o.events![0]!.cpu;
      assert.equal(r.cpus[cpu]!.hotplug_offline, 1);
      assert.equal(r.cpus[cpu]!.hotplug_online, 1);
      assert.ok(r.cpus[cpu]!.processed > 0);
    });
  }

  it("the offline CPU's row leaves softnet_stat; counters come back kept, never reset", () => {
    const cfg = config({ pps: 1_000_000, rpsCpus: E, profile: "6.6", durationNs: 8_000_000 });
    const during = runInProcess({ ...cfg, duration_ns: 5_000_000, events: [{ at_ns: 3_000_000, cpu: 2, action: "offline" }] });
    const lines = during.softnet_stat.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.deepEqual(lines.map((l) => parseInt(l.split(" ")[12]!, 16)), [0, 1, 3], "13th column: the real CPU index");
    const kept = during.cpus[2]!.processed;
    const after = runInProcess({
      ...cfg,
      events: [
        { at_ns: 3_000_000, cpu: 2, action: "offline" },
        { at_ns: 5_000_000, cpu: 2, action: "online" },
      ],
    });
    assert.ok(after.cpus[2]!.processed > kept, "old counters plus what it does next");
    assert.equal(after.softnet_stat.trim().split("\n").length, 4);
  });

  it("while a target is offline its flows are processed on the enqueuing CPU, without re-hash and without IPIs", () => {
    const r = settled({ pps: 1_000_000, rpsCpus: E, profile: "6.6", events: [{ at_ns: 2_000_000, cpu: 2, action: "offline" }] });
    conserved(r);
    assert.ok(r.cpus[0]!.processed > 1000, `CPU 0 processed ${r.cpus[0]!.processed}`);
    assert.equal(r.cpus[0]!.received_rps, 0);
  });

  it("the returning CPU gets RPS traffic at once", () => {
    const cfg = config({ pps: 1_000_000, rpsCpus: E, profile: "6.6", durationNs: 4_200_000 });
    const r = runInProcess({
      ...cfg,
      events: [
        { at_ns: 1_000_000, cpu: 2, action: "offline" },
        { at_ns: 4_000_000, cpu: 2, action: "online" },
      ],
    }, { seriesIntervalNs: 100_000 });
    const row = r.series!.cpus[2]!;
    const k = r.series!.t_ns.indexOf(4_100_000);
    assert.ok(row.processed[k + 1]! > row.processed[k - 1]!, "processing again within 200 µs");
  });
});
