// Abort conditions stop an in-process run at the first checkpoint where they hold; a run whose
// conditions never fire is the engine's own run, byte for byte.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConfig } from "../../config/resolve.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { firstAbort, parseConditions } from "../../report/assertions.ts";
import { runChecked } from "../../report/checked-run.ts";

describe("runs with abort conditions", () => {
  it("a condition that never holds changes nothing in the results", () => {
    const cfg = resolveConfig(undefined, { profile: "rt-6.6", duration_ns: 3_000_000, rate_pps: 300_000, offline: [{ cpu: 2, at_ns: 1_000_000 }], online: [{ cpu: 2, at_ns: 2_000_000 }] });
    const never = parseConditions("abort", ["totals.injected < 0"]);
    const checked = runChecked(cfg, { seriesIntervalNs: 250_000, abortIf: (s) => firstAbort(never, s) });
    const plain = runInProcess(cfg, { seriesIntervalNs: 250_000 });
    assert.equal(checked.aborted, undefined);
    assert.equal(JSON.stringify(checked), JSON.stringify(plain));
  });

  it("stops at the first checkpoint where a condition holds, and says which and why", () => {
    // Backlog threads without patch 1: a target stalls and its backlog fills up.
    const cfg = resolveConfig(undefined, { profile: "threads-without-patch1", duration_ns: 60_000_000, rate_pps: 100_000 });
    const conds = parseConditions("abort", ["totals.injected < 0", "max(cpus.backlog_len) >= 500"]);
    const r = runChecked(cfg, { seriesIntervalNs: 1_000_000, abortIf: (s) => firstAbort(conds, s) });
    assert.ok(r.aborted, "aborted");
    assert.equal(r.aborted.condition, "max(cpus.backlog_len) >= 500");
    assert.match(r.aborted.measured, /^max\(cpus\.backlog_len\) = \d+$/);
    assert.ok(r.aborted.at_ns < cfg.duration_ns && (r.aborted.at_ns % 1_000_000 === 0 || r.aborted.at_ns % 600_000 === 0), `at a checkpoint (series sample or conservation check) before the end: ${r.aborted.at_ns}`);
    assert.equal(r.virtual_ns, r.aborted.at_ns, "the results stop where the run stopped");
    assert.ok(Math.max(...r.cpus.map((c) => c.backlog_len)) >= 500);
    assert.equal(r.series?.t_ns.at(-1), r.aborted.at_ns);
    assert.ok(r.checker.ok, "what was injected is still accounted for");
  });
});
