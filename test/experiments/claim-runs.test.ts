// A claim whose runs differ in settings, not only in profile: each run may name its own scenario
// (`alias: { profile: P, scenario: FILE }`), relative to the claims file.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ClaimOutcome } from "../../report/claims.ts";
import { cli, tempDir } from "./helpers.ts";

const scenario = (rps: string) => `cpus: 4
seed: 1
duration: 2ms
senders: [{ cpu: 0, rps_cpus: "${rps}" }]
load: [{ source: loopback:0, rate: { kind: constant, pps: 1000000 }, flows: 64 }]
`;

describe("reproduce: runs with their own scenario", () => {
  it("runs each alias on its own scenario and profile, and shows which", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rps0.yaml"), scenario("0"));
    writeFileSync(join(dir, "rpse.yaml"), scenario("e"));
    writeFileSync(
      join(dir, "claims.yaml"),
      `claims:
  - id: rps-on-off
    claim: with rps_cpus=0 no IPI is sent; with e the targets receive them
    source: a test
    scenario: rps0.yaml
    runs:
      off: "6.6"
      on: { profile: "6.6", scenario: rpse.yaml }
      threads: { profile: 6.6-patched-threads, scenario: rpse.yaml }
    expect:
      - sum(off.cpus.received_rps) == 0
      - sum(on.cpus.received_rps) > 0
      - sum(threads.cpus.received_rps) == 0
      - threads.cpus[0].processed == 0
`,
    );
    const o = await cli(["reproduce", "--claims", join(dir, "claims.yaml"), "--json", "-", "--jobs", "1"]);
    assert.equal(o.code, 0, o.stdout + o.stderr);
    const doc = JSON.parse(o.stdout) as { claims: ClaimOutcome[] };
    const c = doc.claims[0]!;
    assert.equal(c.pass, true, JSON.stringify(c.checks));
    assert.deepEqual(c.runs, { off: "6.6", on: "6.6 @ rpse.yaml", threads: "6.6-patched-threads @ rpse.yaml" });
    assert.equal(c.measured.off!.received_rps, 0);
    assert.ok(c.measured.on!.received_rps > 0);
  });

  it("a run's scenario that does not exist, or a mapping without a profile, is one line naming it, exit 2", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rps0.yaml"), scenario("0"));
    const base = `claims:\n  - id: x\n    claim: c\n    source: s\n    scenario: rps0.yaml\n    expect: ["sum(a.cpus.processed) > 0"]\n`;
    writeFileSync(join(dir, "a.yaml"), `${base}    runs: { a: { profile: "6.6", scenario: nowhere.yaml } }\n`);
    const missing = await cli(["reproduce", "--claims", join(dir, "a.yaml")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nowhere\.yaml: cannot read scenario: no such file/);
    assert.equal(missing.stderr.trim().split("\n").length, 1);
    writeFileSync(join(dir, "b.yaml"), `${base}    runs: { a: { scenario: rps0.yaml } }\n`);
    const noProfile = await cli(["reproduce", "--claims", join(dir, "b.yaml")]);
    assert.equal(noProfile.code, 2);
    assert.match(noProfile.stderr, /claims\[0\]\.runs\.a/);
    assert.equal(noProfile.stderr.trim().split("\n").length, 1);
  });
});
