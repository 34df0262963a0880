// Assertions and abort conditions in scenario files, end to end through the CLI: a failing
// assertion exits 1 and names itself, an abort condition stops the run and says why, a bad
// expression is a one-line usage error pointing at the file's line.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { RunResults } from "../../model/results.ts";
import type { AssertionOutcome } from "../../report/assertions.ts";
import type { Aborted } from "../../report/checked-run.ts";
import { cli, tempDir } from "./helpers.ts";

// Loopback on CPU 0 with RPS to CPUs 1-3, light load: RT in IPI mode warns, nothing drops.
const BASE = `cpus: 4
duration: 3ms
profile: rt-6.6
senders:
  - { cpu: 0, rps_cpus: e }
load:
  - { source: loopback:0, rate: { pps: 50000 } }
`;

function scenario(extra: string): string {
  const file = join(tempDir(), "s.yaml");
  writeFileSync(file, BASE + extra);
  return file;
}

type Checked = RunResults & { assertions?: AssertionOutcome[]; aborted?: Aborted };

describe("assert: and abort: in scenario files", () => {
  it("assertions that hold: exit 0, outcomes in the JSON", async () => {
    const file = scenario("assert:\n  - totals.dropped == 0\n  - sum(cpus.rt_flush_warnings) > 0\n  - cpus[1].received_rps <= cpus[0].net_rx_softirqs\n");
    const json = join(tempDir(), "r.json");
    const o = await cli(["run", "--scenario", file, "--quiet", "--json", json]);
    assert.equal(o.code, 0, o.stderr);
    const r = JSON.parse(readFileSync(json, "utf8")) as Checked;
    assert.deepEqual(r.assertions?.map((a) => a.pass), [true, true, true]);
    assert.match(r.assertions![1]!.measured, /^sum\(cpus\.rt_flush_warnings\) = [1-9]\d*$/);
  });

  it("a failing assertion gives exit 1 and names the assertion and its numbers", async () => {
    const file = scenario("assert:\n  - totals.dropped == 0\n  - sum(cpus.rt_flush_warnings) == 0\n");
    const o = await cli(["run", "--scenario", file, "--quiet"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^softnet-emu: assertion failed: sum\(cpus\.rt_flush_warnings\) == 0 \(sum\(cpus\.rt_flush_warnings\) = [1-9]\d*\)\n$/);
    // The same scenario holds on the patched RT kernel (backlog threads: no IPI, no warning).
    const fixed = await cli(["run", "--scenario", file, "--quiet", "--profile", "rt-6.6-patched"]);
    assert.equal(fixed.code, 0, fixed.stderr);
  });

  it("compare checks the assertions on every profile and names the profile that fails", async () => {
    const file = scenario("assert:\n  - sum(cpus.rt_flush_warnings) == 0\n");
    const o = await cli(["compare", "--scenario", file, "--profiles", "rt-6.6,rt-6.6-patched", "--quiet", "--jobs", "1"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^softnet-emu: rt-6\.6: assertion failed: sum\(cpus\.rt_flush_warnings\) == 0 \(sum\(cpus\.rt_flush_warnings\) = \d+\)\n$/);
  });

  it("an abort condition stops the run at the checkpoint where it holds, exit 1, saying why", async () => {
    const file = scenario("abort:\n  - sum(cpus.rt_flush_warnings) >= 10\n");
    const json = join(tempDir(), "r.json");
    const o = await cli(["run", "--scenario", file, "--quiet", "--json", json, "--series-interval", "100us"]);
    assert.equal(o.code, 1);
    assert.match(o.stderr, /^softnet-emu: aborted at \S+ \(virtual\): abort condition holds: sum\(cpus\.rt_flush_warnings\) >= 10 \(sum\(cpus\.rt_flush_warnings\) = (\d+)\)\n$/);
    const r = JSON.parse(readFileSync(json, "utf8")) as Checked;
    assert.ok(r.aborted && r.aborted.at_ns < 3_000_000, "stopped before the end");
    assert.equal(r.virtual_ns, r.aborted.at_ns);
    assert.equal(r.aborted.at_ns % 100_000, 0, "at a series checkpoint");
    assert.ok(r.cpus.reduce((s, c) => s + c.rt_flush_warnings, 0) >= 10);
    // One checkpoint earlier the condition did not hold yet.
    const k = r.series!.t_ns.length - 2;
    assert.ok(r.series!.t_ns[k]! < r.aborted.at_ns);
  });

  it("bad expressions are usage errors naming the file, the entry and its line, before any run", async () => {
    const syntax = scenario("assert:\n  - totals.dropped = 0\n");
    const o = await cli(["run", "--scenario", syntax, "--quiet"]);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /s\.yaml: assert\[0\]: 'totals\.dropped = 0': unexpected '=' at column 16 \(line 9\)\n$/);

    const path = scenario("abort:\n  - cpus[4].processed > 0\n");
    const p = await cli(["run", "--scenario", path, "--quiet"]);
    assert.equal(p.code, 2);
    assert.match(p.stderr, /s\.yaml: abort\[0\]: 'cpus\[4\]\.processed > 0': 'cpus\[4\]': index out of range \('cpus' has 4: 0-3\)/);

    const notBool = scenario("assert:\n  - totals.dropped\n");
    const b = await cli(["run", "--scenario", notBool, "--quiet"]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /assert\[0\]: 'totals\.dropped': 'totals\.dropped' is a number, not a condition/);
    for (const r of [o, p, b]) assert.equal(r.stderr.trim().split("\n").length, 1);
  });
});
