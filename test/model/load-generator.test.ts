// The load generator under rate commands: a source stopped by a rate of 0 (or one too low for its
// phase) resumes at a later rate, as `POST /control/rate` promises (both engines share the model).
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoadGenerator } from "../../model/load.ts";
import { phasesOf } from "../../model/sources.ts";
import { config } from "./fixtures.ts";

/** Take every arrival before toNs; count those at or after fromNs. */
function arrivalsBetween(g: LoadGenerator, fromNs: number, toNs: number): number {
  let n = 0;
  while (g.peekNs() < toNs) if (g.take() >= fromNs) n++;
  return n;
}

for (const kind of ["constant", "poisson"] as const) {
  test(`${kind}: a rate of 0 stops a source, and a later rate starts it again`, () => {
    const cfg = config({ rate: { kind, pps: 100_000 }, durationNs: 10_000_000 });
    const g = new LoadGenerator(0, phasesOf(cfg, 0), 1);
    assert.ok(arrivalsBetween(g, 0, 2_000_000) > 150, "it sends at first");
    g.setRate(0, 2_000_000);
    assert.equal(g.peekNs(), Infinity, "stopped");
    g.setRate(200_000, 4_000_000);
    assert.ok(g.peekNs() >= 4_000_000 && g.peekNs() < 4_100_000, `resumed at ${g.peekNs()}`);
    const n = arrivalsBetween(g, 4_000_000, 6_000_000);
    assert.ok(n > 300 && n < 500, `${n} arrivals in 2 ms at 200 kpps`);
  });
}

test("a rate too low for the rest of the phase stops the source until the next rate", () => {
  const cfg = config({ rate: { kind: "constant", pps: 100_000 }, durationNs: 10_000_000 });
  const g = new LoadGenerator(0, phasesOf(cfg, 0), 1);
  arrivalsBetween(g, 0, 1_000_000);
  g.setRate(1, 1_000_000); // one arrival now, the next 1 s later: past the phase
  assert.equal(arrivalsBetween(g, 1_000_000, 3_000_000), 1);
  assert.equal(g.peekNs(), Infinity);
  g.setRate(100_000, 3_000_000);
  assert.equal(arrivalsBetween(g, 3_000_000, 4_000_000), 100);
});
