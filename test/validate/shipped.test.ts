// `softnet-emu validate` on the whole shipped reference (every kernel, every phase, loopback phases
// 1 s long with the reference's receiving task; ~10 s of CPU time, twice for determinism). The
// model does not reproduce every
// relation yet (docs/CALIBRATION.md, "What is left over"): this holds it to the ones it does — any
// row failing outside the documented left-over relations is a regression — and to the relations the
// patch's claims rest on, on every kernel they apply to.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RelationRow } from "../../validate/relations.ts";
import { cli } from "../cli/spawn.ts";

/**
 * The rows docs/CALIBRATION.md lists as not reproduced, with why: the sender's rate ratios, on the
 * boots where they differ from the model's (the later boots `#runN` moved them far more than their
 * tolerance). Exact rows: every other row must pass.
 */
const LEFT_OVER: Record<string, string[]> = {
  "loopback.rate.f/0": ["6.12-generic", "6.12-generic#run2", "6.12-generic#run3", "6.12-generic#run4", "6.1-generic#run3", "6.1-generic#run4"],
  "loopback.rate.e/0": ["6.12-generic#run2", "6.12-generic#run3", "6.12-generic#run4", "6.1-generic#run4"],
  "loopback.rate.0>e>f": ["6.12-generic#run2", "6.12-generic#run3", "6.12-generic#run4", "6.1-generic#run4"],
};
const leftOver = (r: RelationRow) => LEFT_OVER[r.id]?.includes(r.kernel) ?? false;

/** What the patch claims and the kernels showed; these must hold on every kernel (but the left-over rows above). */
const MUST_HOLD = [
  "loopback.conservation",
  "nic.conservation",
  "hotplug.conservation",
  "loopback.rate.0>e>f",
  "loopback.rate.e/0",
  "loopback.rate.e>f",
  "loopback.ipi≈threads@f",
  "loopback.local-shortcut",
  "loopback.sender-netrx-per-rrps",
  "loopback.p2.target-netrx-per-rrps",
  "loopback.threads.no-ipi",
  "nic.threads.no-ipi",
  "loopback.target-squeezes",
  "loopback.p5.every-target-drops",
  "loopback.p5.drop-fraction",
  "nic.p4.every-target-drops",
  "nic.p5.squeeze-jump",
  "loopback.p6.drops-on-target",
  "loopback.p7.flow-limit-on-sender",
  "hotplug.row-absent",
  "hotplug.counters-kept",
  "hotplug.hand-over",
];

describe("softnet-emu validate on the shipped reference", () => {
  it("holds every relation outside the documented left-overs, the patch's on every kernel, deterministically", async () => {
    const a = await cli(["validate", "--json", "-", "--quiet"], 300_000);
    const b = await cli(["validate", "--json", "-", "--quiet"], 300_000);
    assert.equal(a.stderr, "");
    const doc = JSON.parse(a.stdout) as {
      ok: boolean;
      total: number;
      relations: RelationRow[];
      nic_bursts: { kernel: string; phase: string; rx_usecs: number; kernel_packets_per_irq: number; model_packets_per_irq: number }[];
    };
    assert.equal(b.stdout, a.stdout, "same scenarios and seeds → the same figures, bit for bit");
    assert.equal(a.code, doc.ok ? 0 : 1);
    // Every kernel and kind of phase is compared.
    assert.deepEqual(
      [...new Set(doc.relations.map((r) => r.kernel))].sort(),
      [
        "6.1-generic",
        "6.1-generic#run2",
        "6.1-generic#run3",
        "6.1-generic#run4",
        "6.1-rt",
        "6.1-rt#run2",
        "6.12-generic",
        "6.12-generic#run2",
        "6.12-generic#run3",
        "6.12-generic#run4",
        "6.12-generic-threaded",
        "6.12-rt",
      ],
    );
    // Every NIC phase of every kernel ran with its bursts replayed, to within 2 %.
    assert.equal(doc.nic_bursts.length, 25);
    for (const b of doc.nic_bursts)
      assert.ok(Math.abs(Math.log(b.model_packets_per_irq / b.kernel_packets_per_irq)) < Math.log(1.02), JSON.stringify(b));
    const regressions = doc.relations.filter((r) => !r.pass && !leftOver(r));
    assert.deepEqual(regressions.map((r) => `${r.id} ${r.kernel}: kernel ${JSON.stringify(r.kernel_value)} model ${JSON.stringify(r.model_value)}`), []);
    for (const id of MUST_HOLD) {
      const rows = doc.relations.filter((r) => r.id === id && !leftOver(r));
      assert.ok(rows.length > 0, `${id} is compared`);
      for (const r of rows) assert.ok(r.pass, `${id} on ${r.kernel}: kernel ${JSON.stringify(r.kernel_value)} model ${JSON.stringify(r.model_value)}`);
    }
  });
});
