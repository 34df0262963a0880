// The relations of `softnet-emu validate` on hand-made inputs: each figure computed the same way on
// both sides, the tolerances, and which kernels a relation applies to.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KernelInfo } from "../../validate/kernels.ts";
import { evaluateRelations, RELATIONS, roleShares, shares, within, type CpuDelta, type PhaseData, type RelationRow, type Side } from "../../validate/relations.ts";

const cpu = (o: Partial<CpuDelta> = {}): CpuDelta => ({ proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, netrx: 0, ...o });
const phase = (rate: number, cpus: CpuDelta[], o: Partial<PhaseData> = {}): PhaseData => ({
  sent: cpus.reduce((s, c) => s + c.proc + c.drop, 0),
  rate,
  unaccounted: 0,
  cpus,
  ...o,
});
const IPI: KernelInfo = { name: "k-ipi", profile: "6.6", mode: "ipi", rt: false };
const THREADS: KernelInfo = { name: "k-threads", profile: "6.6-patched-threads", mode: "threads", rt: false };
const side = (loopback: Side["loopback"] = {}, nic: Side["nic"] = {}): Side => ({ loopback, nic, hotplug: {} });

function row(rows: RelationRow[], id: string, kernel = IPI.name): RelationRow {
  const r = rows.find((x) => x.id === id && x.kernel === kernel);
  assert.ok(r, `a row ${id} for ${kernel}`);
  return r;
}

describe("validate relations", () => {
  it("compares numbers, vectors and yes/no within each kind of tolerance", () => {
    assert.equal(within(1.02, 1.06, { kind: "abs", abs: 0.05 }), true);
    assert.equal(within(1.02, 1.08, { kind: "abs", abs: 0.05 }), false);
    assert.equal(within(4, 7.9, { kind: "factor", factor: 2 }), true);
    assert.equal(within(4, 1.9, { kind: "factor", factor: 2 }), false);
    assert.equal(within(4, 0, { kind: "factor", factor: 2 }), false);
    assert.equal(within(0, 0, { kind: "factor", factor: 2 }), true);
    assert.equal(within([0.3, 0.7], [0.35, 0.65], { kind: "abs", abs: 0.1 }), true);
    assert.equal(within([0.3, 0.7], [0.45, 0.55], { kind: "abs", abs: 0.1 }), false);
    assert.equal(within([0.3, 0.7], [1], { kind: "abs", abs: 1 }), false, "vectors of different lengths never match");
    assert.equal(within(true, true, { kind: "same" }), true);
    assert.equal(within(true, false, { kind: "same" }), false);
    assert.equal(within(0, 1, { kind: "same" }), false);
  });

  it("shares: per CPU, or CPU 0's then the others' largest first (the hash picks the targets)", () => {
    const cpus = [cpu({ proc: 0 }), cpu({ proc: 10 }), cpu({ proc: 30 }), cpu()];
    assert.deepEqual(shares(cpus), [0, 0.25, 0.75, 0]);
    assert.deepEqual(roleShares(cpus), [0, 0.75, 0.25, 0]);
    assert.deepEqual(roleShares([cpu({ proc: 1 }), cpu({ proc: 2 }), cpu({ proc: 1 })]), [0.25, 0.5, 0.25]);
    assert.deepEqual(shares([cpu(), cpu()]), [0, 0]);
  });

  it("shares: ±0.15 per CPU with rps e, ±0.20 with rps f (four shares compared at once)", () => {
    // The same shapes on p2 (rps e) and p3 (rps f): CPU 0's share 0.18 apart.
    const k = [cpu({ proc: 32 }), cpu({ proc: 24 }), cpu({ proc: 24 }), cpu({ proc: 20 })];
    const m = [cpu({ proc: 14 }), cpu({ proc: 34 }), cpu({ proc: 28 }), cpu({ proc: 24 })];
    const rows = evaluateRelations([IPI], { [IPI.name]: side({ p2: phase(1, k), p3: phase(1, k) }) }, { [IPI.name]: side({ p2: phase(1, m), p3: phase(1, m) }) });
    assert.equal(row(rows, "loopback.p2.shares").pass, false);
    assert.equal(row(rows, "loopback.p2.shares").tolerance, "±0.15");
    assert.equal(row(rows, "loopback.p3.shares").pass, true);
    assert.equal(row(rows, "loopback.p3.shares").tolerance, "±0.2");
    // 0.21 apart fails rps f too.
    const far = [cpu({ proc: 11 }), cpu({ proc: 37 }), cpu({ proc: 28 }), cpu({ proc: 24 })];
    const rows2 = evaluateRelations([IPI], { [IPI.name]: side({ p3: phase(1, k) }) }, { [IPI.name]: side({ p3: phase(1, far) }) });
    assert.equal(row(rows2, "loopback.p3.shares").pass, false);
  });

  it("computes the IPI-mode figures from the rows: sender NET_RX per IPI, target NET_RX per IPI, packets per IPI", () => {
    // Sender CPU 0 raised 100 NET_RX runs to send 100 IPIs; targets ran 102 NET_RX for 400 packets.
    const p2 = phase(900, [cpu({ netrx: 100 }), cpu({ proc: 200, rrps: 50, netrx: 51 }), cpu({ proc: 100, rrps: 25, netrx: 26 }), cpu({ proc: 100, rrps: 25, netrx: 25 })]);
    const kernel = side({ p2 });
    const model = side({ p2: phase(900, [cpu({ netrx: 100 }), cpu({ proc: 200, rrps: 10, netrx: 40 }), cpu({ proc: 100, rrps: 10, netrx: 30 }), cpu({ proc: 100, rrps: 80, netrx: 30 })]) });
    const rows = evaluateRelations([IPI], { [IPI.name]: kernel }, { [IPI.name]: model });
    assert.equal(row(rows, "loopback.sender-netrx-per-rrps").kernel_value, 1);
    assert.equal(row(rows, "loopback.sender-netrx-per-rrps").pass, true);
    assert.equal(row(rows, "loopback.p2.target-netrx-per-rrps").kernel_value, 1.02);
    assert.equal(row(rows, "loopback.p2.target-netrx-per-rrps").pass, true, "100/100 is within ±0.05 of 1.02");
    assert.equal(row(rows, "loopback.p2.packets-per-ipi").kernel_value, 4);
    assert.equal(row(rows, "loopback.p2.target-netrx-per-packet").kernel_value, 102 / 400);
    assert.equal(row(rows, "loopback.p2.target-netrx-per-packet").model_value, 100 / 400);
    // The shares differ by 0 on CPU 0 and ≤ 0.1 elsewhere.
    assert.deepEqual(row(rows, "loopback.p2.shares").kernel_value, [0, 0.5, 0.25, 0.25]);
  });

  it("fails a relation the model misses and names it; IPI-only relations are not applied to threads", () => {
    const p2 = phase(900, [cpu({ netrx: 100 }), cpu({ proc: 300, rrps: 100, netrx: 102 }), cpu({ proc: 50 }), cpu({ proc: 50 })]);
    const bad = phase(900, [cpu({ netrx: 10 }), cpu({ proc: 300, rrps: 10, netrx: 30 }), cpu({ proc: 50 }), cpu({ proc: 50 })]);
    const rows = evaluateRelations([IPI, THREADS], { [IPI.name]: side({ p2 }), [THREADS.name]: side({ p2 }) }, { [IPI.name]: side({ p2: bad }), [THREADS.name]: side({ p2: bad }) });
    const r = row(rows, "loopback.p2.target-netrx-per-rrps");
    assert.equal(r.model_value, 3);
    assert.equal(r.pass, false);
    assert.equal(r.tolerance, "±0.05");
    assert.equal(rows.some((x) => x.kernel === THREADS.name && x.id === "loopback.p2.target-netrx-per-rrps"), false);
    // Backlog threads: any received_rps or target NET_RX in the model fails no-ipi.
    assert.equal(row(rows, "loopback.threads.no-ipi", THREADS.name).kernel_value, 100 + 102);
  });

  it("a phase the model did not run is a FAIL with no value; a phase the kernel lacks is no row", () => {
    const p1 = phase(1000, [cpu({ proc: 100, netrx: 100 }), cpu(), cpu(), cpu()]);
    const rows = evaluateRelations([IPI], { [IPI.name]: side({ p1 }) }, {});
    const r = row(rows, "loopback.p1.sender-netrx-per-packet");
    assert.equal(r.model_value, null);
    assert.equal(r.pass, false);
    assert.equal(rows.some((x) => x.id === "loopback.p2.shares"), false);
  });

  it("rate orderings: 0 > e > f and the ratios to rps 0", () => {
    const mk = (r1: number, r2: number, r3: number) =>
      side({ p1: phase(r1, [cpu({ proc: 1, netrx: 1 })]), p2: phase(r2, [cpu({ proc: 1 })]), p3: phase(r3, [cpu({ proc: 1 })]) });
    const rows = evaluateRelations([IPI], { [IPI.name]: mk(76.8, 65.8, 41.8) }, { [IPI.name]: mk(100, 460, 300) });
    assert.equal(row(rows, "loopback.rate.0>e>f").kernel_value, true);
    assert.equal(row(rows, "loopback.rate.0>e>f").model_value, false);
    assert.equal(row(rows, "loopback.rate.0>e>f").pass, false);
    assert.ok(Math.abs((row(rows, "loopback.rate.e/0").kernel_value as number) - 65.8 / 76.8) < 1e-12);
    assert.equal(row(rows, "loopback.rate.e>f").pass, true);
  });

  it("one remote target (p4) speeds the sender up: a model that charges it as much as doing the work itself fails", () => {
    const mk = (r1: number, r4: number) => side({ p1: phase(r1, [cpu({ proc: 1, netrx: 1 })]), p4: phase(r4, [cpu(), cpu({ proc: 1 })]) });
    const rows = (model: number) => evaluateRelations([IPI], { [IPI.name]: mk(76.8, 130.56) }, { [IPI.name]: mk(100, model) });
    const faster = row(rows(158), "loopback.rate.e-one-flow/0");
    assert.ok(Math.abs((faster.kernel_value as number) - 1.7) < 1e-9);
    assert.equal(faster.model_value, 1.58);
    assert.equal(faster.pass, true);
    assert.equal(row(rows(100), "loopback.rate.e-one-flow/0").pass, false, "no gain from RPS to one target");
    assert.equal(row(rows(238), "loopback.rate.e-one-flow/0").pass, false, "a remote enqueue as cheap as 6.12's RPS path would need for rps e");
    assert.equal(
      evaluateRelations([THREADS], { [THREADS.name]: mk(1, 2) }, { [THREADS.name]: mk(1, 2) }).some((r) => r.id === "loopback.rate.e-one-flow/0"),
      false,
      "IPI mode, generic kernels: the ones measured over many boots",
    );
  });

  it("the sender's rate over a kernel's boots: one row, the median boot, the tolerance widened to the boots' spread", () => {
    const mk = (r1: number, r2: number, r3: number) =>
      side({ p1: phase(r1, [cpu({ proc: 1, netrx: 1 })]), p2: phase(r2, [cpu({ proc: 1 })]), p3: phase(r3, [cpu({ proc: 1 })]) });
    const boots: KernelInfo[] = [IPI, ...[2, 3, 4, 5].map((n) => ({ ...IPI, name: `${IPI.name}#run${n}`, repeatOf: IPI.name }))];
    // e/0 per boot: 0.8, 1.1, 0.9, 1.2, 0.7 → median 0.9; deviations 0.1, 0.2, 0, 0.3, 0.2 → MAD 0.2.
    const e0 = [0.8, 1.1, 0.9, 1.2, 0.7];
    const kernels = Object.fromEntries(boots.map((b, i) => [b.name, mk(100, 100 * e0[i]!, 50)]));
    const model = mk(100, 62, 40);
    const models = Object.fromEntries(boots.map((b) => [b.name, model]));
    const rows = evaluateRelations(boots, kernels, models);
    const e = rows.filter((r) => r.id === "loopback.rate.e/0");
    assert.deepEqual(e.map((r) => r.kernel), [IPI.name], "one row, on the first boot");
    assert.ok(Math.abs((e[0]!.kernel_value as number) - 0.9) < 1e-12);
    assert.deepEqual(e[0]!.boots!.map((b) => b.kernel), boots.map((b) => b.name));
    // 2 × 1.4826 × 0.2 = 0.593 → ±0.6: 0.62 passes (it would fail at ±0.15).
    assert.equal(e[0]!.tolerance, "±0.6 (2σ of 5 boots)");
    assert.deepEqual(e[0]!.band!.map((x) => Math.round(x * 100) / 100), [0.3, 1.5]);
    assert.equal(e[0]!.model_value, 0.62);
    assert.equal(e[0]!.pass, true);
    // f/0 is 0.5 on every boot: no spread, the tolerance stays ±0.15, and the model's 0.40 passes.
    const f = row(rows, "loopback.rate.f/0");
    assert.equal(f.tolerance, "±0.15");
    assert.equal(f.pass, true);
    // The ordering is the median boot's: e/0 0.9 < 1 and f/0 0.5 < 0.9, though two boots had e > 0.
    const order = rows.filter((r) => r.id === "loopback.rate.0>e>f");
    assert.equal(order.length, 1);
    assert.equal(order[0]!.kernel_value, true);
    assert.deepEqual(order[0]!.boots!.map((b) => b.value), [true, false, true, false, true]);
    // e > f likewise, as the median boot's f/e; relations of one boot each keep a row per boot.
    assert.equal(rows.filter((r) => r.id === "loopback.rate.e>f").length, 1);
    assert.equal(rows.filter((r) => r.id === "loopback.p1.sender-netrx-per-packet").length, 5);
    // A later boot without the phases (a NIC boot) adds no figure: one boot with a figure lists none.
    const nicOnly: KernelInfo = { ...IPI, name: "k-other", repeatOf: "k-other0" };
    const first: KernelInfo = { ...IPI, name: "k-other0" };
    const lone = evaluateRelations([first, nicOnly], { [first.name]: mk(100, 80, 50), [nicOnly.name]: side() }, { [first.name]: model, [nicOnly.name]: model });
    assert.equal(lone.find((r) => r.id === "loopback.rate.e/0")!.boots, undefined);
    // A later boot selected alone is its own group of one: its own figure, the tolerance as declared.
    const alone = evaluateRelations(boots, { [boots[3]!.name]: kernels[boots[3]!.name]! }, models);
    const a = alone.find((r) => r.id === "loopback.rate.e/0")!;
    assert.equal(a.kernel, boots[3]!.name);
    assert.equal(a.kernel_value, 1.2);
    assert.equal(a.tolerance, "±0.15");
    assert.equal(a.boots, undefined);
  });

  it("IPI ≈ threads at f and the local shortcut compare two kernels' runs on each side", () => {
    const K12: KernelInfo = { name: "6.12-generic", profile: "6.6-patched", mode: "ipi", rt: false };
    const K12T: KernelInfo = { name: "6.12-generic-threaded", profile: "6.6-patched-threads", mode: "threads", rt: false };
    const mk = (p1: number, p3: number) => side({ p1: phase(p1, [cpu({ proc: 1, netrx: 1 })]), p3: phase(p3, [cpu({ proc: 1 })]) });
    const rows = evaluateRelations([K12, K12T], { [K12.name]: mk(76.8, 41.8), [K12T.name]: mk(74.3, 38.8) }, { [K12.name]: mk(100, 50), [K12T.name]: mk(60, 50) });
    const f = row(rows, "loopback.ipi≈threads@f", K12.name);
    assert.ok(Math.abs((f.kernel_value as number) - 38.8 / 41.8) < 1e-12);
    assert.equal(f.model_value, 1);
    assert.equal(f.pass, true);
    const s = row(rows, "loopback.local-shortcut", K12.name);
    assert.equal(s.model_value, 0.6);
    assert.equal(s.pass, false);
    assert.equal(rows.some((x) => x.id === "loopback.local-shortcut" && x.kernel === K12T.name), false, "one row, under the IPI kernel");
  });

  it("p6 and p7: where drops and flow_limit_count land", () => {
    const p6 = phase(1, [cpu(), cpu(), cpu({ proc: 10, drop: 5 }), cpu()]);
    const p7 = phase(1, [cpu({ fl: 5 }), cpu(), cpu(), cpu({ proc: 10, drop: 5 })]);
    const wrong6 = phase(1, [cpu({ fl: 3 }), cpu(), cpu({ proc: 10, drop: 5 }), cpu()]);
    const wrong7 = phase(1, [cpu(), cpu(), cpu({ proc: 10, drop: 5, fl: 5 }), cpu()]);
    const rows = evaluateRelations([IPI], { [IPI.name]: side({ p6, p7 }) }, { [IPI.name]: side({ p6: wrong6, p7: wrong7 }) });
    assert.equal(row(rows, "loopback.p6.drops-on-target").kernel_value, true);
    assert.equal(row(rows, "loopback.p6.drops-on-target").model_value, false, "flow_limit_count on the sender in p6 is wrong");
    assert.equal(row(rows, "loopback.p7.flow-limit-on-sender").kernel_value, true);
    assert.equal(row(rows, "loopback.p7.flow-limit-on-sender").model_value, false, "counted on the target, not the enqueuer");
    assert.equal(row(rows, "loopback.p7.drops-before-limiter").kernel_value, 0, "the limiter counted every drop");
  });

  it("p7: the drops the limiter did not count, in ms of sending — a start-up transient, not a share of the drops", () => {
    // 400 of 1000 drops uncounted at 100 kpps: 4 ms, a warm-up; a model whose limiter never
    // counts (every drop a backlog overflow) is 10 ms of drops here and 1000 ms at a million.
    const kernel = phase(100_000, [cpu({ fl: 600 }), cpu({ proc: 10, drop: 1000 }), cpu(), cpu()]);
    const unlimited = phase(100_000, [cpu(), cpu({ proc: 10, drop: 100_000 }), cpu(), cpu()]);
    const rows = evaluateRelations([IPI], { [IPI.name]: side({ p7: kernel }) }, { [IPI.name]: side({ p7: unlimited }) });
    const r = row(rows, "loopback.p7.drops-before-limiter");
    assert.deepEqual([r.kernel_value, r.model_value, r.pass], [4, 1000, false]);
  });

  it("conservation: the worst phase's unaccounted packets, exactly 0 to pass", () => {
    const ok = phase(1, [cpu({ proc: 1, netrx: 1 })]);
    const rows = evaluateRelations(
      [IPI],
      { [IPI.name]: side({ p1: ok, p2: ok }) },
      { [IPI.name]: side({ p1: ok, p2: { ...ok, unaccounted: -3 } }) },
    );
    assert.equal(row(rows, "loopback.conservation").kernel_value, 0);
    assert.equal(row(rows, "loopback.conservation").model_value, 3);
    assert.equal(row(rows, "loopback.conservation").pass, false);
  });

  it("every relation has an id, a description, a tolerance and a reason", () => {
    const ids = RELATIONS.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, "ids are unique");
    for (const r of RELATIONS) {
      assert.match(r.id, /^(loopback|nic|hotplug)\./);
      assert.ok(r.what.length > 10 && r.why.length > 10, r.id);
    }
  });
});
