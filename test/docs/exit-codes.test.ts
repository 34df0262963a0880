// One exit-code table: config/exit-codes.ts is the source, the README's "Exit status" table shows it,
// and no other document keeps a table of its own that could drift.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { EXIT, EXIT_HELP } from "../../config/exit-codes.ts";
import { repoFiles } from "./references.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Row {
  code: number;
  name: string;
}

/** The rows of the first table after the heading `### Exit status`: code and `name` cells. */
export function exitTable(markdown: string): Row[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => /^#{2,4}\s+Exit status\s*$/.test(l));
  if (start < 0) throw new Error("no 'Exit status' heading");
  const rows: Row[] = [];
  let inTable = false;
  for (const line of lines.slice(start + 1)) {
    if (/^#{1,6}\s/.test(line)) break;
    if (!line.startsWith("|")) {
      if (inTable) break;
      continue;
    }
    inTable = true;
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (!/^\d+$/.test(cells[0] ?? "")) continue; // the header and the |---| line
    const name = /^`([a-z_]+)`$/.exec(cells[1] ?? "")?.[1];
    if (!name) throw new Error(`exit code ${cells[0]}: the second cell must be its name in backquotes, got '${cells[1]}'`);
    rows.push({ code: Number(cells[0]), name });
  }
  return rows;
}

/** What differs between the table and the source, one line each (empty: they agree). */
export function differences(rows: Row[], source: Record<string, number>): string[] {
  const out: string[] = [];
  const byName = new Map(rows.map((r) => [r.name, r.code]));
  for (const [name, code] of Object.entries(source)) {
    if (!byName.has(name)) out.push(`${name} (${code}) is missing from the table`);
    else if (byName.get(name) !== code) out.push(`${name} is ${code} in the source, ${byName.get(name)} in the table`);
  }
  for (const r of rows) if (!(r.name in source)) out.push(`${r.name} (${r.code}) is in the table, not in the source`);
  if (new Set(rows.map((r) => r.code)).size !== rows.length) out.push("a code appears twice in the table");
  return out;
}

/** Tables of exit codes: a header whose first cell is "code" and rows of at least three of the codes. */
function exitCodeTables(markdown: string, codes: Set<number>): number {
  let tables = 0;
  const blocks: string[][] = [];
  let block: string[] | null = null;
  for (const line of markdown.split("\n")) {
    if (!line.startsWith("|")) block = null;
    else if (block) block.push(line);
    else blocks.push((block = [line]));
  }
  for (const rows of blocks) {
    if (!/^\|\s*code\s*\|/i.test(rows[0] ?? "")) continue;
    const listed = rows.filter((r) => codes.has(Number(r.split("|")[1]?.trim())));
    if (listed.length >= 3) tables++;
  }
  return tables;
}

describe("exit codes", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  it("the README's table lists exactly the codes of config/exit-codes.ts, by name", () => {
    const rows = exitTable(readme);
    assert.deepEqual(differences(rows, EXIT), []);
    assert.equal(rows.length, Object.keys(EXIT).length);
  });

  it("the comparison catches a missing code, a wrong one and an extra one", () => {
    const table = [
      "### Exit status",
      "| code | name | run |",
      "|---|---|---|",
      "| 0 | `ok` | fine |",
      "| 2 | `failed` | wrong code |",
      "| 5 | `extra` | not in the source |",
    ].join("\n");
    const rows = exitTable(table);
    assert.deepEqual(rows, [
      { code: 0, name: "ok" },
      { code: 2, name: "failed" },
      { code: 5, name: "extra" },
    ]);
    assert.deepEqual(differences(rows, { ok: 0, failed: 1, usage: 2 }), [
      "failed is 1 in the source, 2 in the table",
      "usage (2) is missing from the table",
      "extra (5) is in the table, not in the source",
    ]);
    assert.throws(() => exitTable("# nothing here"), /no 'Exit status' heading/);
  });

  it("--help's one-line summary names every code", () => {
    for (const code of Object.values(EXIT)) assert.match(EXIT_HELP, new RegExp(`(^|\\D)${code}(\\D|$)`), `EXIT_HELP lacks ${code}`);
  });

  it("no other document keeps an exit-code table of its own", () => {
    const codes = new Set<number>(Object.values(EXIT));
    assert.equal(exitCodeTables(readme, codes), 1, "README.md has exactly one exit-code table");
    const others = repoFiles(ROOT).filter((f) => f.endsWith(".md") && f !== "README.md");
    assert.ok(others.includes("proto/PROTOCOL.md"), "the markdown files were found");
    for (const f of others) assert.equal(exitCodeTables(readFileSync(join(ROOT, f), "utf8"), codes), 0, `${f} keeps its own exit-code table: link to README.md#exit-status instead`);
  });
});
