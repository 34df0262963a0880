// The import graph (issue 13), cruised by dependency-cruiser with the rules in .dependency-cruiser.cjs:
// no import circles anywhere, nothing imports cli/ (the top floor), model/ imports nothing outside
// itself (the pure core: no I/O, no clocks, not even node's modules).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";

const ROOT = join(import.meta.dirname, "../..");
const FOLDERS = ["cli", "config", "observe", "transport", "model", "engine", "coordinator", "cpu-node", "chaos", "liveness", "report", "validate", "bench", "scripts"];

interface Cruise {
  summary: { violations: { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }[]; totalCruised: number };
  modules: { source: string }[];
}

async function cruise(): Promise<Cruise> {
  const bin = join(ROOT, "node_modules/.bin/depcruise");
  const { stdout } = await promisify(execFile)(bin, ["--config", ".dependency-cruiser.cjs", "--output-type", "json", ...FOLDERS], { cwd: ROOT, maxBuffer: 64 << 20 });
  return JSON.parse(stdout) as Cruise;
}

test("the import graph: no circles, nothing imports cli/, model/ stands alone", { timeout: 60_000 }, async () => {
  const result = await cruise();
  // Every folder was cruised (a wrong path or config would pass with an empty graph).
  const sources = result.modules.map((m) => m.source);
  for (const folder of FOLDERS) assert.ok(sources.some((s) => s.startsWith(`${folder}/`)), `no module of ${folder}/ was cruised`);
  assert.ok(sources.includes("model/cpu.ts") && sources.includes("cli/main.ts"));
  const lines = result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.cycle ? v.cycle.map((c) => c.name).join(" → ") : v.to}`);
  assert.deepEqual(lines, [], `import rules broken:\n${lines.join("\n")}`);
});
