// Which model runs validate plans: each kernel build's costs on top of the scenarios', and a later
// boot of a kernel compared with its first boot's runs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { exactWindowNs } from "../../model/defaults.ts";
import { BUILD_COSTS } from "../../validate/kernels.ts";
import { planRuns } from "../../validate/plan.ts";
import { loadReference } from "../../validate/reference.ts";

const ref = loadReference();

describe("validate's runs", () => {
  const runs = planRuns(ref, { kernels: ["6.1-generic", "6.12-generic", "6.1-generic#run2", "6.1-rt"], kinds: ["loopback"], phases: ["loopback/p2"] });
  const of = (kernel: string) => runs.find((r) => r.kernels.includes(kernel))!;

  it("give a 6.1 build its own costs on top of the scenario's, and 6.12 the scenario's", () => {
    const [k61, k612, rt61] = [of("6.1-generic").cfg, of("6.12-generic").cfg, of("6.1-rt").cfg];
    for (const [cost, value] of Object.entries(BUILD_COSTS["6.1"]!)) {
      assert.equal(k61.costs[cost as keyof typeof k61.costs], value, cost);
      assert.equal(rt61.costs[cost as keyof typeof rt61.costs], value, `6.1-rt ${cost}`);
      assert.notEqual(k612.costs[cost as keyof typeof k612.costs], value, `6.12 ${cost}`);
    }
    // Everything else is the scenario's, the window the latencies' exact one.
    assert.deepEqual({ ...k61.costs, ...BUILD_COSTS["6.1"] }, { ...k612.costs, ...BUILD_COSTS["6.1"] });
    for (const cfg of [k61, k612]) assert.equal(cfg.window_ns, exactWindowNs(cfg.costs));
  });

  it("compare a later boot with its first boot's run", () => {
    assert.deepEqual(of("6.1-generic#run2").kernels, ["6.1-generic", "6.1-generic#run2"]);
    assert.equal(runs.length, 3);
  });
});
