// Each nemesis kind leaves its mark in the counters, against the same seeded run without it.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planChaos, runChaosInProcess } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import type { EmuConfig } from "../../model/config.ts";
import type { RunResults } from "../../model/results.ts";
import { config, type Opts } from "../model/fixtures.ts";

const run = (o: Opts, nemeses: string[], tweak?: (cfg: EmuConfig) => void): RunResults => {
  const cfg = config({ durationNs: 20_000_000, ...o });
  tweak?.(cfg);
  return runChaosInProcess(planChaos(cfg, nemeses.map((n) => parseNemesis(n))), { seriesIntervalNs: 250_000 });
};
const ok = (r: RunResults) => assert.ok(r.checker.ok, r.checker.violations.join("; "));
const maxBacklog = (r: RunResults, cpu: number) => Math.max(...r.series!.cpus[cpu]!.backlog_len);

describe("nemesis effects in the counters", () => {
  test("irq-off: the CPU's backlog piles up while its irqs are off, and with a small backlog it drops", () => {
    const o: Opts = { rpsCpus: [1, 2, 3], pps: 300_000, sysctls: { netdev_max_backlog: 100 } };
    const base = run(o, []);
    const off = run(o, ["irq-off:interval=4ms,duration=1ms,cpu_mask=4"]);
    ok(base);
    ok(off);
    assert.ok(off.cpus[2]!.busy_ns.irqs_off > 0);
    assert.ok(maxBacklog(off, 2) > 3 * maxBacklog(base, 2), `${maxBacklog(off, 2)} vs ${maxBacklog(base, 2)}`);
    assert.ok(off.cpus[2]!.dropped > base.cpus[2]!.dropped, `drops on CPU 2: ${off.cpus[2]!.dropped} vs ${base.cpus[2]!.dropped}`);
  });

  test("ipi-delay: late IPIs raise the latency (IPI mode)", () => {
    const o: Opts = { profile: "6.6-patched", rpsCpus: [1, 2, 3], pps: 50_000 };
    const base = run(o, []);
    const late = run(o, ["ipi-delay:interval=2ms,extra=300us,dwell=2ms,cpu_mask=e"]);
    ok(late);
    assert.ok(late.latency_ns.mean > 2 * base.latency_ns.mean, `mean ${late.latency_ns.mean} vs ${base.latency_ns.mean}`);
    assert.ok(late.latency_ns.p99 > base.latency_ns.p99);
  });

  test("sysctl: netdev_max_backlog turned down under load raises the backlog drops", () => {
    const o: Opts = { rpsCpus: [1, 2, 3], pps: 900_000 };
    const base = run(o, []);
    const low = run(o, ["sysctl:name=netdev_max_backlog,interval=2ms,dwell=1500us,min=4,max=16"]);
    ok(low);
    assert.ok(low.totals.dropped_by_reason.cpu_backlog > base.totals.dropped_by_reason.cpu_backlog + 100, `${low.totals.dropped_by_reason.cpu_backlog} vs ${base.totals.dropped_by_reason.cpu_backlog}`);
  });

  test("rps: a new rps_cpus map moves the processing", () => {
    const o: Opts = { rpsCpus: [1, 2], pps: 200_000 };
    const base = run(o, []);
    const moved = run(o, ["rps:interval=2ms,cpu_mask=8"]);
    ok(moved);
    assert.equal(base.cpus[3]!.processed, 0);
    assert.ok(moved.cpus[3]!.processed > 0.5 * moved.totals.processed, `CPU 3: ${moved.cpus[3]!.processed} of ${moved.totals.processed}`);
    assert.ok(moved.cpus[1]!.processed + moved.cpus[2]!.processed < 0.5 * (base.cpus[1]!.processed + base.cpus[2]!.processed));
  });

  test("irq-affinity: the NIC queue's IRQ (and, without RPS, the processing) moves to another CPU", () => {
    const o: Opts = { rpsCpus: [], pps: 200_000 };
    const base = run(o, []);
    const moved = run(o, ["irq-affinity:interval=2ms,cpu_mask=4"]);
    ok(moved);
    assert.equal(base.cpus[0]!.processed, base.totals.processed);
    assert.ok(moved.cpus[2]!.processed > 0.5 * moved.totals.processed, `CPU 2: ${moved.cpus[2]!.processed} of ${moved.totals.processed}`);
    assert.ok(moved.cpus[2]!.softirq_raises.nic_irq > 0, "the IRQ fires on CPU 2");
  });

  test("burst: load spikes raise the injected count, the hot flow piles onto one CPU", () => {
    const o: Opts = { rpsCpus: [1, 2, 3], pps: 100_000 };
    const base = run(o, []);
    const burst = run(o, ["burst:interval=4ms,duration=2ms,factor=5,hot_share=0.9"]);
    ok(burst);
    assert.ok(burst.totals.injected > 1.5 * base.totals.injected, `${burst.totals.injected} vs ${base.totals.injected}`);
    const spread = (r: RunResults) => Math.max(...r.cpus.map((c) => c.processed)) / r.totals.processed;
    assert.ok(spread(burst) > spread(base) + 0.1, `busiest CPU's share ${spread(burst)} vs ${spread(base)}`);
  });

  test("hotplug: offline/online cycles show in every CPU's hotplug counters; packets of an offline target run on the enqueuing CPU", () => {
    const o: Opts = { rpsCpus: [1, 2, 3], pps: 200_000 };
    const base = run(o, []);
    const hp = run(o, ["hotplug:interval=1ms,dwell=500us,cpu_mask=e"]);
    ok(hp);
    const offs = hp.faults!.filter((f) => f.kind === "offline").length;
    assert.ok(offs >= 10);
    assert.equal(hp.cpus.reduce((s, c) => s + c.hotplug_offline, 0), offs);
    assert.equal(hp.cpus.reduce((s, c) => s + c.hotplug_online, 0), offs, "each came back (by its dwell or the heal)");
    assert.equal(base.cpus[0]!.processed, 0);
    assert.ok(hp.cpus[0]!.processed > 0, "RPS gives -1 for an offline target: CPU 0 processes it");
  });
});
