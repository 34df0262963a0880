// Two races the nemesis found in the model (fixed in model/cpu.ts, model/hotplug.ts): commands that
// fell into a transition in progress were lost, so a healed run never drained.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { config } from "../model/fixtures.ts";

test("an online command that comes while a busy CPU has not gone down yet brings it back (offline, then online)", () => {
  const cfg = config({ pps: 100_000, rpsCpus: [1, 2, 3], durationNs: 4_000_000 });
  cfg.load[0]!.end_ns = 2_000_000;
  // CPU 3 has irqs off for 100 µs: the offline at 1.01 ms is still pending when the online comes.
  const r = runInProcess(cfg, {
    commands: [
      { kind: "irq_off", cpu: 3, duration_ns: 100_000, at_ns: 1_000_000 },
      { kind: "offline", cpu: 3, at_ns: 1_010_000 },
      { kind: "online", cpu: 3, at_ns: 1_050_000 },
    ],
  });
  const cpu3 = r.cpus[3]!;
  assert.equal(cpu3.online, true);
  assert.equal(cpu3.hotplug_offline, 1);
  assert.equal(cpu3.hotplug_online, 1);
  assert.equal(r.totals.queued + r.totals.in_flight, 0, "drained: nothing bounces to a CPU the masks call online");
  assert.equal(r.totals.injected, r.totals.processed + r.totals.dropped);
});

test("a rate command that comes while its NIC queue is handed over to another CPU is not lost", () => {
  const run = (rateAtNs: number) => {
    const cfg = config({ pps: 100_000, durationNs: 6_000_000 });
    cfg.queues[0]!.irq_affinity = [0, 1];
    // CPU 0 goes offline at 2 ms: the queue travels to CPU 1 for hotplug_latency_ns (50 µs).
    return runInProcess(cfg, {
      commands: [
        { kind: "offline", cpu: 0, at_ns: 2_000_000 },
        { kind: "rate", source: 0, pps: 0, at_ns: rateAtNs },
      ],
    }).totals.injected;
  };
  assert.equal(run(2_010_000), 202, "in transit: the load stops at 2.01 ms (100 kpps, first packet at 0)");
  assert.equal(run(2_200_000), 221, "after the hand-over");
});
