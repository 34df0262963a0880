// NIC interrupt coalescing (ethtool -C rx-usecs / rx-frames): once NAPI re-armed the IRQ, it
// fires rx_usecs after the first packet or at the rx_frames-th, whichever comes first; the poll
// then takes every packet in the ring. Fewer interrupts, more packets per NET_RX run.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { parseScenario } from "../../config/scenario.ts";
import { resolveConfig } from "../../config/resolve.ts";
import { DEFAULT_COSTS } from "../../model/defaults.ts";
import type { RunResults } from "../../model/results.ts";
import { config } from "./fixtures.ts";

/** 200 kpps (one packet every 5 µs) on a queue with its IRQ on CPU 0, no RPS. */
function nic(rx_usecs: number, rx_frames: number): RunResults {
  const cfg = config({ pps: 200_000, rpsCpus: [], durationNs: 5_000_000 });
  cfg.queues[0]!.rx_usecs = rx_usecs;
  cfg.queues[0]!.rx_frames = rx_frames;
  return runInProcess(cfg);
}
/** NIC interrupts on CPU 0: every hardirq entry there is one (nothing sends it IPIs). */
const irqs = (r: RunResults) => r.cpus[0]!.busy_ns.hardirq / DEFAULT_COSTS.irq_entry_ns;

describe("NIC interrupt coalescing", () => {
  it("rx_usecs: one interrupt per rx_usecs of arrivals, and its NET_RX run takes them all", () => {
    const off = nic(0, 0);
    const on = nic(100, 0);
    assert.ok(on.checker.ok && off.checker.ok);
    const perRunOff = off.cpus[0]!.processed / off.cpus[0]!.net_rx_softirqs;
    const perRunOn = on.cpus[0]!.processed / on.cpus[0]!.net_rx_softirqs;
    // 100 µs of 5 µs arrivals, plus those that land while the CPU leaves idle and polls.
    assert.ok(perRunOn >= 20, `${perRunOn.toFixed(1)} packets per NET_RX run with rx_usecs 100`);
    assert.ok(perRunOff < 5, `${perRunOff.toFixed(1)} without coalescing`);
    assert.ok(irqs(on) <= on.totals.injected / 20, `${irqs(on)} interrupts for ${on.totals.injected} packets`);
  });

  it("rx_frames: the interrupt fires at the rx_frames-th packet when that comes before rx_usecs", () => {
    const r = nic(1000, 8);
    const n = r.totals.injected;
    // At least 8 packets per interrupt; more land while the CPU leaves idle and polls (~17 here).
    assert.ok(irqs(r) <= n / 8 && irqs(r) >= n / 40, `${irqs(r)} interrupts for ${n} packets`);
    // rx_usecs alone (1 ms) would allow about 200 per interrupt.
    assert.ok(irqs(nic(1000, 0)) < irqs(r) / 5);
  });

  it("is deterministic and loses nothing", () => {
    const a = nic(50, 16);
    const b = nic(50, 16);
    assert.deepEqual(a.cpus, b.cpus);
    assert.ok(a.checker.ok);
    assert.equal(a.totals.injected, a.totals.processed + a.totals.dropped + a.totals.queued + a.totals.in_flight);
  });

  it("scenario: rx_usecs and rx_frames per queue; negative or fractional values name the field", () => {
    const ok = resolveConfig(parseScenario("queues:\n  - irq_affinity: [0]\n    rx_usecs: 50\n    rx_frames: 32\n", "s.yaml"), {});
    assert.equal(ok.queues[0]!.rx_usecs, 50);
    assert.equal(ok.queues[0]!.rx_frames, 32);
    const defaults = resolveConfig(parseScenario("queues:\n  - irq_affinity: [0]\n", "s.yaml"), {});
    assert.equal(defaults.queues[0]!.rx_usecs, 0);
    assert.equal(defaults.queues[0]!.rx_frames, 0);
    assert.throws(() => parseScenario("queues:\n  - irq_affinity: [0]\n    rx_usecs: -1\n", "s.yaml"), /queues\[0\]\.rx_usecs: must be >= 0/);
    assert.throws(() => parseScenario("queues:\n  - irq_affinity: [0]\n    rx_frames: 2.5\n", "s.yaml"), /queues\[0\]\.rx_frames: 2\.5 is not a whole number/);
    assert.throws(() => parseScenario("queues:\n  - irq_affinity: [0]\n    irq_coalesce_ns: 5\n", "s.yaml"), /irq_coalesce_ns/);
  });
});
