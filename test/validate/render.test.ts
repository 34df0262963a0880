// The validate table as text and Markdown (validate/render.ts): one line per row, a row over several
// boots labelled with their number and followed by each boot's figure, the verdict at the end.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RelationRow } from "../../validate/relations.ts";
import { renderMarkdown, renderText } from "../../validate/render.ts";

const rows: RelationRow[] = [
  {
    id: "loopback.rate.e/0",
    kernel: "6.12-generic",
    profile: "6.6-patched",
    what: "e over 0",
    kernel_value: 1.08,
    model_value: 0.78,
    tolerance: "±0.2 (2σ of 3 boots)",
    pass: false,
    band: [0.88, 1.28],
    boots: [
      { kernel: "6.12-generic", value: 0.86 },
      { kernel: "6.12-generic#run2", value: 1.08 },
      { kernel: "6.12-generic#run3", value: 1.1 },
    ],
  },
  { id: "loopback.rate.e>f", kernel: "6.1-rt", profile: "rt-6.6", what: "e > f", kernel_value: true, model_value: true, tolerance: "same", pass: true },
];

describe("validate table", () => {
  it("text: a row over boots names how many and lists each boot's figure under it; the verdict line counts rows", () => {
    const lines = renderText(rows).split("\n");
    assert.match(lines[1]!, /^ {2}6\.12-generic, 3 boots \(6\.6-patched\) +kernel 1\.08 +model 0\.78 +±0\.2 \(2σ of 3 boots\) FAIL$/);
    assert.match(lines[2]!, /^ +boots {2}0\.86 1\.08 1\.10$/);
    assert.match(lines[4]!, /^ {2}6\.1-rt \(rt-6\.6\) +kernel yes +model yes +same +PASS$/);
    assert.equal(lines.at(-2), "validate: 1 of 2 relations FAIL: loopback.rate.e/0");
  });

  it("Markdown: one table row per relation row, the boots in the kernel column", () => {
    const md = renderMarkdown(rows).trim().split("\n");
    assert.equal(md.length, 4);
    assert.equal(md[2], "| `loopback.rate.e/0` | 6.12-generic, 3 boots (6.6-patched) | 1.08 | 0.78 | ±0.2 (2σ of 3 boots) | **FAIL** |");
  });
});
