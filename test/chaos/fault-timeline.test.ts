// faults[] → what /metrics shows of them: every fault counted by its nemesis, the windows of the
// faults that last read from the faults' own params and from the fault that ends each one.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { faultTimeline } from "../../chaos/fault-timeline.ts";
import { planChaos } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import type { Fault } from "../../model/results.ts";
import { config } from "../model/fixtures.ts";

const MIX = [
  "hotplug:interval=1ms,dwell=600us",
  "sysctl:interval=1ms,dwell=800us,min=4,max=64",
  "burst:interval=2ms,duration=1ms",
  "irq-off:interval=1ms,duration=300us",
  "ipi-delay:interval=1ms,dwell=500us",
  "rps:interval=1ms",
];

function plan() {
  return planChaos(config({ seed: 11, pps: 400_000, rpsCpus: [1, 2, 3], durationNs: 12_000_000 }), MIX.map((k) => parseNemesis(k)));
}

const windowsOf = (faults: readonly Fault[], kind: string) => faultTimeline(faults, [], Infinity).windows.filter((w) => w.kind === kind);

describe("fault timeline", () => {
  test("every fault counted once by its nemesis; the run's kinds and heal listed", () => {
    const p = plan();
    const t = faultTimeline(p.faults, p.nemeses, p.chaosNs);
    assert.deepEqual(t.kinds, ["hotplug", "sysctl", "burst", "irq-off", "ipi-delay", "rps", "heal"]);
    assert.deepEqual(
      t.applied,
      p.faults.map((f) => ({ kind: f.nemesis, at_ns: f.at_ns })),
    );
  });

  test("windows: irq-off and ipi-delay from their params, hotplug/sysctl/burst until the fault that ends them, all by the heal", () => {
    const p = plan();
    const f = p.faults;
    const irqOff = f.filter((x) => x.kind === "irq_off");
    assert.deepEqual(
      windowsOf(f, "irq-off"),
      irqOff.map((x) => ({ kind: "irq-off", target: x.target, from_ns: x.at_ns, to_ns: x.at_ns + Number(x.params.duration_ns) })),
    );
    assert.deepEqual(
      windowsOf(f, "ipi-delay").map((w) => w.to_ns),
      f.filter((x) => x.kind === "ipi_delay").map((x) => Number(x.params.until_ns)),
    );
    // hotplug: each offline ends at the next online of that CPU (its own, or the heal's).
    const offline = f.filter((x) => x.nemesis === "hotplug" && x.kind === "offline");
    assert.ok(offline.length > 3);
    for (const [i, w] of windowsOf(f, "hotplug").entries()) {
      const on = f.find((x) => x.kind === "online" && x.target === w.target && x.at_ns > w.from_ns)!;
      assert.deepEqual([w.from_ns, w.to_ns], [offline[i]!.at_ns, on.at_ns]);
      assert.ok(on.nemesis === "heal" || on.at_ns - w.from_ns === offline[i]!.params.dwell_ns, "its dwell");
    }
    // sysctl: a change lasts until its restore; burst: the factor until the rate is back.
    const sysctl = windowsOf(f, "sysctl");
    assert.equal(sysctl.length, f.filter((x) => x.nemesis === "sysctl" && x.params.restore === undefined).length);
    for (const w of sysctl) assert.ok(w.to_ns === Infinity || f.some((x) => x.nemesis === "sysctl" && x.params.restore === 1 && x.at_ns === w.to_ns));
    const burst = windowsOf(f, "burst");
    assert.ok(burst.length > 0);
    for (const w of burst) assert.ok(w.to_ns === Infinity || f.some((x) => x.nemesis === "burst" && x.params.restore === 1 && x.at_ns === w.to_ns));
    // Faults without a duration have no window.
    assert.deepEqual(windowsOf(f, "rps"), []);
    // The heal ends whatever is still open.
    const healed = faultTimeline(f, p.nemeses, p.chaosNs).windows;
    assert.ok(healed.every((w) => w.to_ns <= p.chaosNs && w.from_ns < w.to_ns));
    for (const w of [...sysctl, ...burst].filter((x) => x.to_ns === Infinity))
      assert.ok(healed.some((h) => h.kind === w.kind && h.target === w.target && h.from_ns === w.from_ns && h.to_ns === p.chaosNs), `${w.kind} ${w.target}`);
  });

  test("process faults count from the virtual time they hit; one that never hit is not counted", () => {
    const kill: Fault = { at_ns: 5_000_000, kind: "kill", target: "cpu 3", params: {}, nemesis: "kill" };
    const pause: Fault = { at_ns: 2_000_000, kind: "pause", target: "cpu 2", params: { wall_ns: 1e8 }, nemesis: "pause" };
    const pending = faultTimeline([pause, kill], [], 20_000_000);
    assert.deepEqual(pending.applied, [], "not hit yet");
    const hit = faultTimeline([{ ...pause, params: { ...pause.params, hit_ns: 2_100_000 } }, { ...kill, params: { hit_ns: -1 } }], [], 20_000_000);
    assert.deepEqual(hit.applied, [{ kind: "pause", at_ns: 2_100_000 }]);
    assert.deepEqual(hit.windows, []);
  });
});
