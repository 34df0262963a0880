// The repository stands alone: every path a file cites exists in it, every Markdown link and
// anchor resolves, every cited section of docs/DESIGN.md exists, and nothing points at material
// outside the repository. The parser (./references.ts) is tested first on made-up files, so the
// repository-wide check below cannot pass by finding nothing.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { anchorsOf, checkFile, checkRepository, designSections, treeOf, type Context } from "./references.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const S = "\u00a7"; // the section sign, spelt so that this file's own strings cite nothing

const DESIGN = ["# Design", "## 1. Model", "### 1.5 Threads and the wake-up patch", "## 2. Architecture", "### 2.2 Time", "```", "### 9.9 inside a code block", "```"].join("\n");
const files: Record<string, string> = {
  "docs/DESIGN.md": DESIGN,
  "docs/MODEL.md": "# Model\n## Crossing CPUs\n",
  "model/cpu.ts": "",
  "model/p1.ts": "",
  "model/p2.ts": "",
  "examples/reproduce/claims.yaml": "",
  "README.md": "# softnet-emu\n## Exit status\n",
};
const ctx: Context = { tree: treeOf(Object.keys(files)), sections: designSections(DESIGN), read: (p) => files[p] ?? "" };
const messages = (file: string, text: string) => checkFile(file, text, ctx).map((p) => `${p.line}: ${p.message}`);

describe("the reference parser", () => {
  it("reads the section numbers of docs/DESIGN.md, not those inside code blocks", () => {
    assert.deepEqual([...ctx.sections], ["1", "1.5", "2", "2.2"]);
  });

  it("accepts citations that resolve", () => {
    const ts = [
      `// The lost wake-up (docs/DESIGN.md ${S}1.5, ${S}2.2), see model/cpu.ts and ../model/cpu.ts.`,
      `// The kernel's net/core/dev.c and /proc/net/softnet_stat are not ours; neither is my.yaml.`,
      `const help = "see docs/MODEL.md and examples/reproduce/claims.yaml";`,
      "// The phases model/p1..p2.ts, as a range.",
    ].join("\n");
    assert.deepEqual(messages("cli/x.ts", ts), []);
    const md = `See [the design](DESIGN.md#15-threads-and-the-wake-up-patch), [MODEL.md](MODEL.md#crossing-cpus), [top](../README.md#exit-status), [here](#evidence) and https://example.org/a/b.md.\n# Evidence`;
    assert.deepEqual(messages("docs/KERNEL-EVIDENCE.md", md), []);
  });

  it("finds a missing section, an unnamed document, a missing path and a bare document name", () => {
    const ts = [
      `// Windows (docs/DESIGN.md ${S}2.7).`,
      "",
      `// Defaults of ${S}1.5 live in model/costs.ts; read DESIGN.md. Phases model/p1..p3.ts.`,
      `/** ${S} alone */`,
    ].join("\n");
    assert.deepEqual(messages("model/defaults.ts", ts), [
      `1: cites ${S}2.7, which docs/DESIGN.md does not have`,
      `3: cites ${S}1.5 without naming docs/DESIGN.md before it in the same paragraph`,
      "3: cites model/costs.ts, which is not in the repository",
      "3: cites DESIGN.md, which is neither beside this file nor at the repository's root (write its path, e.g. docs/DESIGN.md)",
      "3: cites model/p3.ts, which is not in the repository",
      `4: ${S} without a section number of docs/DESIGN.md`,
    ]);
  });

  it("finds broken Markdown links and anchors, and material from outside", () => {
    const md = [
      "[gone](missing.md) [bad anchor](DESIGN.md#99-nowhere) [out](../../x.md)",
      "[exit](../README.md#exit-codes)",
      "Copied from " + ["..", "shared"].join("/") + "/DESIGN.md.",
    ].join("\n");
    assert.deepEqual(messages("docs/NOTES.md", md + "\n[self](#nowhere)\n# Notes"), [
      "1: links to missing.md (docs/missing.md), which is not in the repository",
      "1: links to DESIGN.md#99-nowhere: docs/DESIGN.md has no heading with the anchor #99-nowhere",
      "1: links to ../../x.md, outside the repository",
      "2: links to ../README.md#exit-codes: README.md has no heading with the anchor #exit-codes",
      "3: mentions " + ["..", "shared"].join("/") + ": nothing outside the repository may be cited (copy it in as a fixture with its provenance)",
      "4: links to #nowhere, a heading this file does not have",
    ]);
  });

  it("ignores a test's string literals for paths but not for sections", () => {
    const test = [`const FILE = "examples/x.yaml";`, `it("holds ${S}3.1", () => {});`, "// see examples/nope.yaml"].join("\n");
    assert.deepEqual(messages("test/cli/x.test.ts", test), [
      `2: cites ${S}3.1, which docs/DESIGN.md does not have`,
      `2: cites ${S}3.1 without naming docs/DESIGN.md before it in the same paragraph`,
      "3: cites examples/nope.yaml, which is not in the repository",
    ]);
  });

  it("makes GitHub's anchors", () => {
    const anchors = anchorsOf("## 1.10 Relations to real kernels\n## Containers: podman here, Docker elsewhere\n## Exit status\n## Exit status\n### `--procfs` files");
    assert.deepEqual([...anchors], ["110-relations-to-real-kernels", "containers-podman-here-docker-elsewhere", "exit-status", "exit-status-1", "--procfs-files"]);
  });
});

describe("the repository's references", () => {
  it("all resolve inside the repository", () => {
    const { problems, scanned, sections } = checkRepository(ROOT);
    assert.ok(scanned > 100, `scanned only ${scanned} files`);
    assert.ok(sections.has("1.10") && sections.has("2.2"), "docs/DESIGN.md's sections were read");
    assert.deepEqual(problems.map((p) => `${p.file}:${p.line}: ${p.message}`), []);
  });
});
