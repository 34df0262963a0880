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
 * The rows docs/CALIBRATION.md lists as not reproduced, with why. The sender with rps f on 6.12
 * (median boot 0.56 of rps 0's rate, the model 0.77) and so 0 > e > f there (6.12's median boot had
 * e ≥ 0, the model 0.93); p2's batching on 6.12's first boot (3.8 packets per IPI, the model 8.4,
 * just outside ×2); the NIC targets' NET_RX runs beyond their IPIs on 6.1-rt (1.58, the highest of
 * the kernels). Exact rows: every other row must pass.
 */
const LEFT_OVER: Record<string, string[]> = {
  "loopback.rate.f/0": ["6.12-generic"],
  "loopback.rate.0>e>f": ["6.12-generic"],
  "loopback.p2.packets-per-ipi": ["6.12-generic"],
  "loopback.p2.target-netrx-per-packet": ["6.12-generic"],
  "nic.p2.target-netrx-per-rrps": ["6.1-rt"],
};
const leftOver = (r: RelationRow) => LEFT_OVER[r.id]?.includes(r.kernel) ?? false;

/** What the patch claims and the kernels showed; these must hold on every kernel (but the left-over rows above). */
const MUST_HOLD = [
  "loopback.conservation",
  "nic.conservation",
  "hotplug.conservation",
  "loopback.rate.0>e>f",
  "loopback.rate.e/0",
  "loopback.rate.e-one-flow/0",
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
  "loopback.p7.drops-before-limiter",
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
        "6.1-generic#nic2",
        "6.1-generic#run10",
        "6.1-generic#run11",
        "6.1-generic#run12",
        "6.1-generic#run2",
        "6.1-generic#run3",
        "6.1-generic#run4",
        "6.1-generic#run5",
        "6.1-generic#run6",
        "6.1-generic#run7",
        "6.1-generic#run8",
        "6.1-generic#run9",
        "6.1-rt",
        "6.1-rt#nic2",
        "6.1-rt#run2",
        "6.12-generic",
        "6.12-generic#nic2",
        "6.12-generic#run10",
        "6.12-generic#run11",
        "6.12-generic#run12",
        "6.12-generic#run2",
        "6.12-generic#run3",
        "6.12-generic#run4",
        "6.12-generic#run5",
        "6.12-generic#run6",
        "6.12-generic#run7",
        "6.12-generic#run8",
        "6.12-generic#run9",
        "6.12-generic-threaded",
        "6.12-generic-threaded#nic2",
        "6.12-rt",
        "6.12-rt#nic2",
      ],
    );
    // Every NIC phase of every kernel and boot ran with its bursts replayed: to within 2 % but for
    // the phases where a long host wait of the IRQ's CPU makes the figure jump with rx_usecs (3–9 %
    // at seeds 1–5, docs/CALIBRATION.md "NIC bursts"), at most one in ten.
    assert.equal(doc.nic_bursts.length, 50);
    const off = (b: (typeof doc.nic_bursts)[number]) => Math.abs(Math.log(b.model_packets_per_irq / b.kernel_packets_per_irq));
    for (const b of doc.nic_bursts) assert.ok(off(b) < Math.log(1.1), JSON.stringify(b));
    assert.ok(doc.nic_bursts.filter((b) => off(b) >= Math.log(1.02)).length <= 5);
    // On the first measurement (every kernel's first boot and 6.1-rt's second), the reference the
    // project started from, three rows are left over (the rows over several boots aside).
    const firstBoots = doc.relations.filter((r) => !/-generic#run|#nic/.test(r.kernel) && !r.boots);
    assert.ok(firstBoots.length > 150);
    assert.deepEqual(firstBoots.filter((r) => !r.pass).map((r) => `${r.id} ${r.kernel}`), [
      "loopback.p2.target-netrx-per-packet 6.12-generic",
      "loopback.p2.packets-per-ipi 6.12-generic",
      "nic.p2.target-netrx-per-rrps 6.1-rt",
    ]);
    // The sender's rates are compared over every boot of 6.1 and 6.12 generic: one row each.
    for (const id of ["loopback.rate.e/0", "loopback.rate.f/0", "loopback.rate.e-one-flow/0", "loopback.rate.0>e>f", "loopback.rate.e>f"])
      for (const k of ["6.1-generic", "6.12-generic"]) {
        const rows = doc.relations.filter((r) => r.id === id && r.kernel.startsWith(`${k}#`));
        assert.deepEqual(rows, [], `${id}: no row per later boot`);
        assert.equal(doc.relations.find((r) => r.id === id && r.kernel === k)?.boots?.length, 12, `${id} over ${k}'s 12 boots`);
      }
    const regressions = doc.relations.filter((r) => !r.pass && !leftOver(r));
    assert.deepEqual(regressions.map((r) => `${r.id} ${r.kernel}: kernel ${JSON.stringify(r.kernel_value)} model ${JSON.stringify(r.model_value)}`), []);
    for (const id of MUST_HOLD) {
      const rows = doc.relations.filter((r) => r.id === id && !leftOver(r));
      assert.ok(rows.length > 0, `${id} is compared`);
      for (const r of rows) assert.ok(r.pass, `${id} on ${r.kernel}: kernel ${JSON.stringify(r.kernel_value)} model ${JSON.stringify(r.model_value)}`);
    }
  });
});
