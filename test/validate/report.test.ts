// What `validate --report` draws from the rows (report/validate-report.ts): the tolerance bands,
// which relations get a chart, and the table of every row.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { relationCharts, relationMatrix } from "../../report/validate-report.ts";
import { toleranceBand, within, type RelationRow } from "../../validate/relations.ts";

const row = (id: string, kernel: string, k: RelationRow["kernel_value"], m: RelationRow["model_value"], tolerance: string, pass: boolean): RelationRow => ({
  id,
  kernel,
  profile: "6.6",
  what: id,
  kernel_value: k,
  model_value: m,
  tolerance,
  pass,
});

describe("validate report", () => {
  it("draws a tolerance band as the relation checks it: its ends pass, beyond them fails", () => {
    for (const [k, tol] of [
      [0.5, { kind: "abs", abs: 0.15 }],
      [4, { kind: "factor", factor: 2 }],
    ] as const) {
      const [lo, hi] = toleranceBand(k, tol)!;
      assert.ok(within(k, lo, tol) && within(k, hi, tol), `${lo}..${hi}`);
      assert.ok(!within(k, lo * 0.99, tol) && !within(k, hi * 1.01, tol));
    }
    assert.equal(toleranceBand(1, { kind: "same" }), undefined);
  });

  it("charts relations with one number per kernel, tables every row", () => {
    const rows = [
      { ...row("loopback.rate.f/0", "k1", 0.5, 0.78, "±0.3 (2σ of 2 boots)", false), band: [0.2, 0.8], boots: [{ kernel: "k1", value: 0.4 }, { kernel: "k1#run2", value: 0.6 }] } satisfies RelationRow,
      { ...row("loopback.rate.f/0", "k2", 0.7, 0.78, "±0.15", true), band: [0.55, 0.85] } satisfies RelationRow,
      row("b.shares", "k1", [0.2, 0.8], [0.3, 0.7], "±0.15", true),
      row("c.yes", "k1", true, false, "same", false),
    ];
    const charts = relationCharts(rows);
    assert.deepEqual(charts.map((c) => c.name), ["relation-loopback_rate_f_0"]);
    const values = (charts[0]!.spec as unknown as { data: { values: { kernel: string; who: string; value: number; lo?: number; verdict: string }[] } }).data.values;
    assert.deepEqual(
      values.map((v) => [v.kernel, v.who, v.value, v.lo === undefined ? null : Number(v.lo.toFixed(2)), v.verdict]),
      [
        ["k1", "kernel", 0.5, 0.2, "FAIL"],
        ["k1", "boot", 0.4, null, "FAIL"],
        ["k1", "boot", 0.6, null, "FAIL"],
        ["k1", "model", 0.78, null, "FAIL"],
        ["k2", "kernel", 0.7, 0.55, "PASS"],
        ["k2", "model", 0.78, null, "PASS"],
      ],
    );
    assert.match(charts[0]!.title + JSON.stringify(charts[0]!.spec), /each boot · tolerance per kernel \(the band\)/);
    const m = relationMatrix(rows);
    assert.equal(m.rows.length, 4);
    assert.deepEqual(m.rows[0]!.slice(0, 2), ["loopback.rate.f/0", "k1, 2 boots (6.6)"]);
    assert.deepEqual(m.rows[3], ["c.yes", "k1 (6.6)", "yes", "no", "same", "FAIL"]);
  });
});
