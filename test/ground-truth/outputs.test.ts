// The ground-truth script's outputs at the end of its boots (scripts/ground-truth/main.ts writeOut):
// a file that cannot be written is one line and false, never a stack trace that loses the others.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { writeOut } from "../../scripts/ground-truth/main.ts";

test("writeOut writes whole files, creating the folder, and says so", () => {
  const dir = mkdtempSync(join(tmpdir(), "gt-out-"));
  try {
    const lines: string[] = [];
    const file = join(dir, "sub", "cpu-times.json");
    assert.equal(writeOut(file, '{"runs":{}}\n', (l) => lines.push(l)), true);
    assert.equal(readFileSync(file, "utf8"), '{"runs":{}}\n');
    assert.deepEqual(lines, [`wrote ${file}`]);
    assert.deepEqual(readdirSync(join(dir, "sub")), ["cpu-times.json"], "no temporary file left");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a file that cannot be written is one line and false", () => {
  // Its folder's place is taken by a file. (Not /proc: node's recursive mkdir spins there.)
  const dir = mkdtempSync(join(tmpdir(), "gt-out-"));
  try {
    writeFileSync(join(dir, "taken"), "");
    const lines: string[] = [];
    const file = join(dir, "taken", "x.json");
    assert.equal(writeOut(file, "{}\n", (l) => lines.push(l)), false);
    assert.equal(lines.length, 1);
    assert.equal(lines[0], `ground-truth: could not write ${file}: EEXIST`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
