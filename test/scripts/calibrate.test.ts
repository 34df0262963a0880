// scripts/calibrate.ts judges a trial as `softnet-emu validate` would judge the same costs: each
// kernel build's own costs stay on top of the trial's, and a trial the engine would refuse is not run.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { cli, ROOT } from "../cli/spawn.ts";

const run = promisify(execFile);
const args = ["--only", "loopback", "--kernels", "6.1-generic,6.12-generic", "--duration", "50ms"];

interface Row {
  id: string;
  kernel: string;
  model_value: unknown;
  pass: boolean;
}

describe("scripts/calibrate.ts", () => {
  it("starts from validate's figures (6.1's build costs kept) and skips a trial the engine refuses", async () => {
    const dir = mkdtempSync(join(tmpdir(), "calibrate-"));
    const out = join(dir, "fit.json");
    // Halving ipi_latency_ns puts it below rps_latency_ns: the scenarios would be refused.
    const cal = await run(process.execPath, ["--import", "tsx", "scripts/calibrate.ts", ...args, "--knobs", "ipi_latency_ns", "--factors", "0.5", "--passes", "1", "--json", out], { cwd: ROOT });
    assert.match(cal.stderr, /ipi_latency_ns=\d+: not tried \(rps_latency_ns \(\d+\) must be <= ipi_latency_ns/);
    const fit = JSON.parse(readFileSync(out, "utf8")) as { relations: Row[] };
    const val = await cli(["validate", ...args, "--quiet", "--json", "-"], 120_000);
    assert.ok(val.code === 0 || val.code === 1, val.stderr);
    const rows = (JSON.parse(val.stdout) as { relations: Row[] }).relations;
    const pick = (rs: Row[]) => rs.map((r) => [r.id, r.kernel, r.model_value, r.pass]);
    assert.ok(rows.length > 30, `${rows.length} rows`);
    assert.deepEqual(pick(fit.relations), pick(rows));
  });
});
