// The NIC bursts validate replays (validate/bursts.ts): the kernel's packets per virtio interrupt,
// and the search for the rx_usecs that gives the model the same, on real model runs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { EmuConfig } from "../../model/config.ts";
import { runJobs } from "../../report/pool.ts";
import { fitRxUsecs, kernelPacketsPerIrq, modelPacketsPerIrq, RX_USECS_MIN, withRxUsecs } from "../../validate/bursts.ts";
import { planRuns } from "../../validate/plan.ts";
import { loadReference } from "../../validate/reference.ts";
import { stagedRuns } from "../../validate/stages.ts";

const ref = loadReference();
const runAll = (cfgs: EmuConfig[]) => runJobs(cfgs.map((cfg, i) => ({ label: `t${i}`, cfg })), { parallel: 1 });
// Two NIC phases of one kernel, 50 ms each: the fit's inputs as validate plans them.
const [p1, p2] = planRuns(ref, { kernels: ["6.12-generic"], kinds: ["nic"], phases: ["nic/p1", "nic/p2"], durationNs: 50e6 }).map((r) => r.cfg);

describe("NIC bursts", () => {
  it("a later NIC boot selected alone still gets the loopback p1 run its rates are scaled by (its first boot's profile)", () => {
    const runs = stagedRuns(ref, { kernels: ["6.1-rt#nic2"], kinds: ["nic"] });
    assert.deepEqual(runs.filter((r) => r.kind === "loopback").map((r) => [r.phase, r.profile]), [["p1", "rt-6.6"]]);
    assert.equal(runs.filter((r) => r.kind === "nic" && r.kernels.includes("6.1-rt#nic2")).length, 5);
  });

  it("reads the kernel's packets per interrupt: rx_packets over virtio interrupts", () => {
    assert.equal(kernelPacketsPerIrq(ref.nic["6.12-generic"]!.p1!), 238359 / 16309);
    assert.equal(kernelPacketsPerIrq({ ...ref.nic["6.12-generic"]!.p1!, virtioIrqs: 0 }), undefined);
  });

  it("finds the rx_usecs that gives each run its target, reports what that rx_usecs gives, the same every time", async () => {
    const targets = [15, 120];
    const fits = await fitRxUsecs([p1!, p2!], targets, runAll);
    fits.forEach((f, i) => {
      assert.equal(f.kernel, targets[i]);
      assert.ok(Math.abs(Math.log(f.model / f.kernel)) < Math.log(1.02), `within 2 %: ${JSON.stringify(f)}`);
    });
    // Longer bursts need a longer coalescing time.
    assert.ok(fits[1]!.rxUsecs > fits[0]!.rxUsecs, JSON.stringify(fits));
    // The model's figure is what a run at that rx_usecs gives, not the target.
    const again = await runAll(fits.map((f, i) => withRxUsecs([p1!, p2!][i]!, f.rxUsecs)));
    assert.deepEqual(again.map(modelPacketsPerIrq), fits.map((f) => f.model));
    assert.deepEqual(await fitRxUsecs([p1!, p2!], targets, runAll), fits);
  });

  it("says so when the target is out of reach: the nearest end and its own figure", async () => {
    // Fewer packets per interrupt than one interrupt per arrival (and the stalls) can give.
    const [f] = await fitRxUsecs([p1!], [1.01], runAll);
    assert.equal(f!.rxUsecs, RX_USECS_MIN);
    assert.ok(f!.model > 1.5, JSON.stringify(f));
  });
});
