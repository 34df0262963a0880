// The chaos property (Jepsen/VOPR style): many seeds × random nemesis mixes × every profile but
// threads-without-patch1 — the checker is ok (conservation at every checkpoint, per-flow order where
// the kernel keeps it, no stall), nothing is unaccounted, and everything drains after the heal.
// And a chaos run is a pure function of its inputs: same seed and flags, same JSON.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { planChaos, runChaosInProcess } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import { PROFILE_NAMES } from "../../model/profiles.ts";
import { config } from "../model/fixtures.ts";

const PATCHED_OR_SAFE = PROFILE_NAMES.filter((p) => p !== "threads-without-patch1");
const KINDS = [
  "hotplug:interval=1ms,dwell=600us",
  "hotplug:interval=2ms,dwell=3ms,min_online=2",
  "irq-affinity:interval=1500us",
  "rps:interval=1500us",
  "sysctl:interval=1ms,dwell=800us,min=4,max=64",
  "sysctl:name=netdev_budget,interval=2ms,min=1,max=16",
  "burst:interval=2ms,factor=6,hot_share=0.7",
  "irq-off:interval=1ms,duration=300us",
  "ipi-delay:interval=1ms,extra=150us",
];

// Counterexamples found before, kept as the first cases of every run (fast-check's examples).
const FOUND: [string, number, string[], "nic" | "loopback", number, number[], number | undefined][] = [
  // a rate command sooner than the next arrival (CI, 2026-12-03)
  ["6.6", 2425620237, ["hotplug:interval=1ms,dwell=600us", "hotplug:interval=2ms,dwell=3ms,min_online=2", "irq-affinity:interval=1500us", "sysctl:name=netdev_budget,interval=2ms,min=1,max=16", "burst:interval=2ms,factor=6,hot_share=0.7", "irq-off:interval=1ms,duration=300us", "ipi-delay:interval=1ms,extra=150us"], "nic", 20000, [1, 2, 3], undefined],
  // a NIC queue handed to the CPU itself
  ["6.6", 3573084254, ["hotplug:interval=1ms,dwell=600us"], "nic", 529946, [], undefined],
  // a dead CPU's backlog re-injected under a changed rps map
  ["6.6-patched", 16, ["hotplug:interval=1ms,dwell=600us", "hotplug:interval=2ms,dwell=3ms,min_online=2", "rps:interval=1500us", "sysctl:name=netdev_budget,interval=2ms,min=1,max=16"], "loopback", 960166, [1, 2, 3], undefined],
  // a hand-over passed on by a CPU inside an irq_off section
  ["6.6", 3617651029, ["hotplug:interval=1ms,dwell=600us", "rps:interval=1500us", "sysctl:interval=1ms,dwell=800us,min=4,max=64", "sysctl:name=netdev_budget,interval=2ms,min=1,max=16", "irq-off:interval=1ms,duration=300us", "ipi-delay:interval=1ms,extra=150us"], "nic", 481671, [1, 2, 3], undefined],
  // a re-injection that charges a wake-up
  ["threads-without-local-shortcut", 613994669, ["hotplug:interval=1ms,dwell=600us", "sysctl:name=netdev_budget,interval=2ms,min=1,max=16", "burst:interval=2ms,factor=6,hot_share=0.7", "irq-off:interval=1ms,duration=300us", "ipi-delay:interval=1ms,extra=150us"], "nic", 208722, [2, 3], undefined],
];

describe("chaos runs (property)", () => {
  test("random seeds, loads and nemesis mixes on every profile but threads-without-patch1: ok, accounted, drained", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PATCHED_OR_SAFE),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.subarray(KINDS, { minLength: 1 }),
        fc.constantFrom<"nic" | "loopback">("nic", "loopback"),
        fc.integer({ min: 20_000, max: 1_200_000 }),
        fc.constantFrom<number[]>([], [1, 2, 3], [0, 1, 2, 3], [2, 3]),
        // A receiving task, or none: its socket records get promises of their own (model/lookahead.ts).
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        (profile, seed, kinds, load, pps, rpsCpus, receiver) => {
          const mix = load === "loopback" ? kinds.filter((k) => !k.startsWith("irq-affinity")) : kinds;
          const cfg = config({ profile, seed, load, pps, rpsCpus, durationNs: 6_000_000, receiver });
          const r = runChaosInProcess(planChaos(cfg, mix.map((k) => parseNemesis(k))));
          const why = `${profile} seed ${seed} ${load} ${pps} pps rps [${rpsCpus}] receiver ${receiver ?? "none"} --nemesis ${mix.join(" --nemesis ")}`;
          assert.deepEqual(r.checker.violations, [], why);
          assert.ok(r.checker.ok);
          assert.deepEqual(r.checker.stalls, [], why);
          const t = r.totals;
          assert.equal(t.injected, t.processed + t.dropped, `nothing unaccounted: ${why}`);
          assert.equal(t.queued + t.in_flight, 0, `drained: ${why}`);
          assert.ok(r.chaos!.drained_at_ns !== null && r.chaos!.drained_at_ns >= 6_000_000, why);
          assert.equal(r.chaos!.conservation_held, r.chaos!.checkpoints, why);
          assert.ok(r.cpus.every((c) => c.online), "all online after the heal");
        },
      ),
      { numRuns: 36, examples: FOUND },
    );
  });

  test("same seed and flags: identical faults[] and results; another seed: other faults", () => {
    const run = (seed: number) =>
      runChaosInProcess(planChaos(config({ seed, pps: 400_000, rpsCpus: [1, 2, 3], durationNs: 8_000_000 }), KINDS.map((k) => parseNemesis(k))));
    const a = run(11);
    assert.ok(a.faults!.length > 20);
    assert.equal(JSON.stringify(run(11)), JSON.stringify(a));
    assert.notDeepEqual(run(12).faults, a.faults);
  });
});
