// The nemesis schedule is a pure function of (config, nemeses, seed): the same inputs give the same
// faults, hotplug keeps min_online CPUs up and never takes an offline CPU twice, and the heal
// brings every CPU back and every knob to the scenario's value.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { planChaos } from "../../chaos/runner.ts";
import { scheduleFaults } from "../../chaos/schedule.ts";
import { parseNemesis, resolveNemesis } from "../../chaos/spec.ts";
import type { EmuConfig } from "../../model/config.ts";
import type { CpuCommand } from "../../model/messages.ts";
import { config } from "../model/fixtures.ts";

const nemeses = (cfg: EmuConfig, ...texts: string[]) => texts.map((t) => resolveNemesis(parseNemesis(t), cfg, "inprocess"));

describe("nemesis schedule", () => {
  test("same config, nemeses and seed: the same faults; another seed: others", () => {
    const cfg = config({ rpsCpus: [1, 2, 3], durationNs: 50_000_000 });
    const all = nemeses(cfg, "hotplug:interval=1ms", "irq-affinity", "rps", "sysctl", "burst", "irq-off", "ipi-delay");
    const a = scheduleFaults(cfg, all, 7);
    assert.deepEqual(scheduleFaults(cfg, all, 7), a);
    assert.notDeepEqual(scheduleFaults(cfg, all, 8).faults, a.faults);
    for (const kind of ["offline", "online", "irq_affinity", "rps", "sysctl", "rate", "hot_flow", "irq_off", "ipi_delay"])
      assert.ok(a.faults.some((f) => f.kind === kind), `a ${kind} fault in 50 ms`);
    assert.deepEqual(a.faults.map((f) => f.at_ns), [...a.faults.map((f) => f.at_ns)].sort((x, y) => x - y), "in time order");
    assert.ok(a.faults.every((f) => f.at_ns >= 0 && f.at_ns < cfg.duration_ns), "inside the chaos phase");
    assert.equal(a.commands.length, a.faults.length);
  });

  test("each nemesis has its own stream: adding one does not move another's faults", () => {
    const cfg = config({ rpsCpus: [1, 2, 3], durationNs: 30_000_000 });
    const alone = scheduleFaults(cfg, nemeses(cfg, "irq-off"), 3).faults;
    const mixed = scheduleFaults(cfg, nemeses(cfg, "irq-off", "burst", "rps"), 3).faults.filter((f) => f.nemesis === "irq-off");
    assert.deepEqual(mixed, alone);
  });

  test("hotplug at 1 event per ms: 1 000 offlines in 1 s, each paired with an online or the heal", () => {
    const cfg = config({ durationNs: 1_000_000_000 });
    const f = scheduleFaults(cfg, nemeses(cfg, "hotplug:interval=1ms,dwell=500us"), 1).faults;
    const offs = f.filter((x) => x.kind === "offline").length;
    assert.ok(offs > 950 && offs <= 1050, `${offs} offlines`);
    assert.ok(f.filter((x) => x.kind === "online").length >= offs - 1);
  });

  test("hotplug never goes below min_online (the scenario's own offlines counted), the heal brings all back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 2, max: 6 }),
        fc.boolean(),
        (seed, minOnline, cpus, withEvents) => {
          fc.pre(minOnline <= cpus);
          const cfg = config({ cpus, durationNs: 20_000_000 });
          if (withEvents) cfg.events = [{ at_ns: 3_000_000, cpu: cpus - 1, action: "offline" }, { at_ns: 12_000_000, cpu: cpus - 1, action: "online" }, { at_ns: 15_000_000, cpu: 0, action: "offline" }];
          const texts = [`hotplug:interval=500us,dwell=2ms,min_online=${minOnline}`, `hotplug:interval=700us,dwell=1ms,min_online=${minOnline}`];
          const plan = planChaos(cfg, texts.map((t) => parseNemesis(t)));
          const timeline: CpuCommand[] = [...cfg.events.map((e) => ({ kind: e.action, cpu: e.cpu, at_ns: e.at_ns }) as CpuCommand), ...plan.commands].sort((a, b) => a.at_ns - b.at_ns);
          const online = new Array<boolean>(cpus).fill(true);
          for (const c of timeline) {
            if (c.kind !== "offline" && c.kind !== "online") continue;
            assert.equal(online[c.cpu], c.kind === "offline", `${c.kind} of CPU ${c.cpu} at ${c.at_ns}: a transition, not a repeat`);
            online[c.cpu] = c.kind === "online";
            const up = online.filter(Boolean).length;
            assert.ok(up >= 1, "never the last CPU");
            if (c.at_ns < cfg.duration_ns && !withEvents) assert.ok(up >= minOnline, `${up} online < min_online ${minOnline} at ${c.at_ns}`);
          }
          assert.ok(online.every(Boolean), "all online after the heal");
        },
      ),
      { numRuns: 200 },
    );
  });

  test("the heal stops the load and puts back every rps_cpus, IRQ affinity and sysctl a nemesis changed", () => {
    const cfg = config({ rpsCpus: [1, 2, 3], durationNs: 20_000_000 });
    const plan = planChaos(cfg, ["rps:interval=1ms", "irq-affinity:interval=1ms", "sysctl:interval=1ms,dwell=5ms", "burst:interval=1ms,duration=5ms"].map((t) => parseNemesis(t)));
    const heal = plan.faults.filter((f) => f.nemesis === "heal");
    assert.ok(heal.every((f) => f.at_ns === 20_000_000));
    const last = new Map<string, CpuCommand>();
    for (const c of plan.commands) last.set(c.kind === "sysctl" ? `sysctl ${c.key}` : "source" in c ? `${c.kind} ${c.source}` : "queue" in c ? `${c.kind} ${c.queue}` : c.kind, c);
    // The last write of each knob (the heal's, unless the nemesis already wrote the original back).
    assert.deepEqual((last.get("rps 0") as { cpus: number[] }).cpus, [1, 2, 3]);
    assert.deepEqual((last.get("irq_affinity 0") as { cpus: number[] }).cpus, [0]);
    assert.equal((last.get("sysctl netdev_max_backlog") as { value: number }).value, 1000);
    assert.deepEqual(last.get("rate 0"), { kind: "rate", source: 0, pps: 0, at_ns: 20_000_000 });
    assert.equal((last.get("hot_flow 0") as { share: number }).share, 0);
    assert.equal(plan.runCfg.duration_ns, 20_000_000 + plan.drainLimitNs);
    assert.ok(plan.runCfg.load.every((p) => p.end_ns <= 20_000_000), "load stops at the heal");
  });
});

test("hotplug leaves a CPU alone from the time a kill nemesis takes it", () => {
  const cfg = config({ durationNs: 30_000_000 });
  const n = ["kill:at=10ms,cpu=2", "hotplug:interval=500us,dwell=300us"].map((t) => resolveNemesis(parseNemesis(t), cfg, "processes"));
  const f = scheduleFaults(cfg, n, 1).faults;
  const touching = f.filter((x) => x.target === "cpu 2" && (x.kind === "offline" || x.kind === "online"));
  assert.ok(touching.length > 0, "before the kill it may be hotplugged");
  assert.ok(touching.every((x) => x.at_ns < 10_000_000), "never after");
});
