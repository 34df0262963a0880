// What `validate --report` draws from the rows (report/validate-report.ts): the tolerance bands,
// which relations get a chart, and the table of every row.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { band, relationCharts, relationMatrix } from "../../report/validate-report.ts";
import type { RelationRow } from "../../validate/relations.ts";

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
  it("draws a tolerance band as the relation checks it", () => {
    assert.deepEqual(band(0.5, "±0.15"), [0.35, 0.65]);
    assert.deepEqual(band(4, "×/÷2"), [2, 8]);
    assert.equal(band(1, "same"), undefined);
  });

  it("charts relations with one number per kernel, tables every row", () => {
    const rows = [
      row("a.rate", "k1", 0.5, 0.78, "±0.15", false),
      row("a.rate", "k1#run2", 0.7, 0.78, "±0.15", true),
      row("b.shares", "k1", [0.2, 0.8], [0.3, 0.7], "±0.15", true),
      row("c.yes", "k1", true, false, "same", false),
    ];
    const charts = relationCharts(rows);
    assert.deepEqual(charts.map((c) => c.name), ["relation-a_rate"]);
    const values = (charts[0]!.spec as unknown as { data: { values: { kernel: string; who: string; value: number; verdict: string }[] } }).data.values;
    assert.deepEqual(
      values.map((v) => [v.kernel, v.who, v.value, v.verdict]),
      [
        ["k1", "kernel", 0.5, "FAIL"],
        ["k1", "model", 0.78, "FAIL"],
        ["k1#run2", "kernel", 0.7, "PASS"],
        ["k1#run2", "model", 0.78, "PASS"],
      ],
    );
    const m = relationMatrix(rows);
    assert.equal(m.rows.length, 4);
    assert.deepEqual(m.rows[3], ["c.yes", "k1 (6.6)", "yes", "no", "same", "FAIL"]);
  });
});
