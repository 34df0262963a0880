// The assertion language (report/expr.ts): what it accepts, what it computes, how it refuses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { evaluate, explain, ExpressionError, holds, parseExpression } from "../../report/expr.ts";

const results = {
  totals: { injected: 10, dropped: 3, dropped_by_reason: { cpu_backlog: 3, rx_ring_full: 0 } },
  cpus: [
    { cpu: 0, processed: 1, net_rx_softirqs: 9, online: true },
    { cpu: 1, processed: 6, net_rx_softirqs: 4, online: false },
  ],
  checker: { ok: true },
  profile: "6.6",
};
const value = (src: string) => evaluate(parseExpression(src), results);
const fails = (src: string, message: RegExp) =>
  assert.throws(() => holds(parseExpression(src), results), (err: Error) => err instanceof ExpressionError && message.test(err.message));

describe("assertion expressions", () => {
  it("read paths, list indexes and booleans", () => {
    assert.equal(value("totals.dropped"), 3);
    assert.equal(value("totals.dropped_by_reason.cpu_backlog"), 3);
    assert.equal(value("cpus[1].processed"), 6);
    assert.equal(value("checker.ok"), true);
  });

  it("aggregate over the CPUs with sum, avg, max, min and count", () => {
    assert.equal(value("sum(cpus.processed)"), 7);
    assert.equal(value("avg(cpus.processed)"), 3.5);
    assert.equal(value("max(cpus.net_rx_softirqs)"), 9);
    assert.equal(value("min(cpus.processed)"), 1);
    assert.equal(value("count(cpus.processed)"), 2);
    assert.equal(value("sum(cpus.online)"), 1, "booleans count as 0/1 in a list");
    assert.equal(value("max(totals.dropped, 5)"), 5);
  });

  it("compute with precedence, compare, and combine with and/or/not", () => {
    assert.equal(value("1 + 2 * 3"), 7);
    assert.equal(value("(1 + 2) * 3"), 9);
    assert.equal(value("-totals.dropped + 4"), 1);
    assert.equal(value("totals.injected / 4"), 2.5);
    assert.equal(value("cpus[1].processed <= cpus[0].net_rx_softirqs"), true);
    assert.equal(value("totals.dropped == 0 or checker.ok"), true);
    assert.equal(value("totals.dropped > 0 and not checker.ok"), false);
    assert.equal(value("totals.dropped != 3 || 1e3 == 1000 && 1_000 >= 999.5"), true);
    assert.equal(value("checker.ok == true"), true);
  });

  it("explain lists every measured operand once, in order", () => {
    const e = parseExpression("sum(cpus.processed) > totals.dropped and totals.dropped < 10");
    assert.deepEqual(explain(e, results), [
      { text: "sum(cpus.processed)", value: 7 },
      { text: "totals.dropped", value: 3 },
    ]);
  });

  it("syntax errors name the column", () => {
    assert.throws(() => parseExpression("totals.dropped =="), /column 18/);
    assert.throws(() => parseExpression("totals.dropped = 0"), /unexpected '='/);
    assert.throws(() => parseExpression("1 < 2 < 3"), /do not chain/);
    assert.throws(() => parseExpression("bogus(cpus.processed)"), /unknown function 'bogus'/);
    assert.throws(() => parseExpression("cpus[-1].processed"), /expected an index/);
    assert.throws(() => parseExpression("x".repeat(2000)), /longer than/);
  });

  it("refuses what it cannot evaluate, saying why", () => {
    fails("totals.droped == 0", /unknown field 'totals.droped' \('totals' has: injected, dropped/);
    fails("cpus[2].processed > 0", /index out of range \('cpus' has 2: 0-1\)/);
    fails("cpus.processed > 0", /is a list: use sum\(\)/);
    fails("totals > 0", /group of fields/);
    fails("profile == 1", /the text '6.6'/);
    fails("totals.dropped", /not a condition/);
    fails("sum(totals.dropped) > 0", /takes a list/);
    fails("checker.ok + 1 > 0", /true\/false, not a number/);
  });

  it("never runs code: names are data paths only", () => {
    fails("constructor.name == 0", /unknown field 'constructor'/);
    fails("totals.__proto__ == 0", /unknown field 'totals.__proto__'/);
  });
});
