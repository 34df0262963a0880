// `softnet-emu reproduce`: every built-in claim holds (exit 0); a claim that does not hold is
// named FAIL with its numbers (exit 1); a broken claims file is a usage error naming the field.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BUILTIN_CLAIMS } from "../../cli/reproduce.ts";
import type { ClaimOutcome } from "../../report/claims.ts";
import { cli, tempDir } from "./helpers.ts";

const SCENARIOS = join(import.meta.dirname, "../../examples/reproduce");

describe("softnet-emu reproduce", () => {
  it("reproduces every claim of the patch series and of docs/DESIGN.md §1.9", async () => {
    const json = join(tempDir(), "claims.json");
    const o = await cli(["reproduce", "--json", json]);
    assert.equal(o.code, 0, o.stdout + o.stderr);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { ok: boolean; passed: number; total: number; claims: ClaimOutcome[] };
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.claims.map((c) => c.id), [
      "rt-warning",
      "rt-ksoftirqd",
      "stall-without-patch1",
      "loopback-local-shortcut",
      "loopback-rps-close",
      "loopback-rps-throughput",
      "hotplug-conservation",
    ]);
    for (const c of doc.claims) {
      assert.ok(c.pass, `${c.id}: ${c.checks.filter((k) => !k.pass).map((k) => `${k.check} [${k.measured}]`).join("; ")}`);
      assert.match(o.stdout, new RegExp(`^PASS  ${c.id}  \\(`, "m"), `${c.id} printed with its verdict`);
      for (const k of c.checks) assert.notEqual(k.measured, "", `${c.id}: '${k.check}' shows what it measured`);
    }
    // The measured numbers tell the story, not just the verdict.
    const shortcut = doc.claims.find((c) => c.id === "loopback-local-shortcut")!.measured;
    assert.ok(shortcut.no_shortcut!.throughput_pps < 0.8 * shortcut.softirq!.throughput_pps);
    assert.match(o.stdout, /ok {4}sum\(ipi\.cpus\.rt_flush_warnings\) > 0 {3}\[sum\(ipi\.cpus\.rt_flush_warnings\) = [1-9]\d*\]/);
    assert.match(o.stdout, /\nall 7 claims reproduced\n$/);
    assert.equal(o.stderr, "", "quiet unless --verbose");
  });

  it("a claim that does not hold is FAIL with its numbers, and the exit status is 1", async () => {
    const dir = tempDir();
    const file = join(dir, "claims.yaml");
    writeFileSync(
      file,
      `claims:
  - id: backwards
    claim: backlog threads on RT warn (they do not)
    source: a test
    scenario: ${join(SCENARIOS, "rt-warning.yaml")}
    runs: { threads: rt-6.6-patched }
    expect:
      - sum(threads.cpus.rt_flush_warnings) > 0
    each:
      - checker.ok
`,
    );
    const o = await cli(["reproduce", "--claims", file]);
    assert.equal(o.code, 1);
    assert.match(o.stdout, /^FAIL  backwards  \(a test\)\n/);
    assert.match(o.stdout, /\n {6}FAIL  sum\(threads\.cpus\.rt_flush_warnings\) > 0 {3}\[sum\(threads\.cpus\.rt_flush_warnings\) = 0\]\n/);
    assert.match(o.stdout, /\n {6}ok {4}every run: checker\.ok {3}\[1 runs\]\n/);
    assert.match(o.stdout, /\n1 of 1 claims NOT reproduced: backwards\n$/);
  });

  it("a broken claims file is one line naming the claim, the field and what is wrong, before any run", async () => {
    const dir = tempDir();
    const file = join(dir, "claims.yaml");
    const builtin = readFileSync(BUILTIN_CLAIMS, "utf8").replace(/^(\s+)scenario: /gm, `$1scenario: ${SCENARIOS}/`);
    writeFileSync(file, builtin.replace("sum(threads.cpus.ipis_sent) == 0", "sum(threads.cpus.ipis_snt) == 0"));
    const o = await cli(["reproduce", "--claims", file]);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /claims\[0\]\.expect\[2\]: 'sum\(threads\.cpus\.ipis_snt\) == 0': unknown field 'threads\.cpus\.ipis_snt'/);
    assert.equal(o.stderr.trim().split("\n").length, 1);
    assert.equal(o.stdout, "");

    writeFileSync(file, "claims:\n  - id: x\n    claim: c\n    source: s\n    scenario: nowhere.yaml\n    runs: { and: 6.6 }\n");
    const alias = await cli(["reproduce", "--claims", file]);
    assert.equal(alias.code, 2);
    assert.match(alias.stderr, /claims\[0\]\.runs\.and: an alias cannot be and, or, not, true or false/);

    const only = await cli(["reproduce", "--only", "rt-warning,nope"]);
    assert.equal(only.code, 2);
    assert.match(only.stderr, /--only: unknown claim 'nope' \(known: rt-warning, rt-ksoftirqd/);
  });
});
