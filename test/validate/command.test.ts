// `softnet-emu validate` as a user runs it: a small subset (one kernel's loopback phases, short
// runs) prints the table and exits 0 only if every relation passes; --json has the numbers;
// bad flags are one line and exit 2.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { RelationRow } from "../../validate/relations.ts";
import { cli, usageErrorLine } from "../cli/spawn.ts";

interface Doc {
  command: string;
  ok: boolean;
  passed: number;
  total: number;
  relations: RelationRow[];
  runs: { label: string; profile: string; kernels: string[]; injected: number }[];
}

describe("softnet-emu validate", () => {
  it("runs one kernel's loopback phases: JSON with both figures per relation, exit code from the verdicts", async () => {
    const o = await cli(["validate", "--only", "loopback", "--kernels", "6.12-generic", "--duration", "30ms", "--jobs", "1", "--json", "-", "--quiet"], 120_000);
    assert.ok(o.code === 0 || o.code === 1, o.stderr);
    assert.equal(o.stderr, "", "--quiet: no progress lines");
    const doc = JSON.parse(o.stdout) as Doc;
    assert.equal(doc.command, "validate");
    assert.equal(o.code, doc.ok ? 0 : 1, "exit 0 exactly when every relation passes");
    assert.equal(doc.total, doc.relations.length);
    assert.equal(doc.passed, doc.relations.filter((r) => r.pass).length);
    assert.deepEqual(doc.runs.map((r) => r.label), ["p1", "p2", "p3", "p4", "p5", "p6", "p7"].map((p) => `loopback ${p} 6.6-patched`));
    for (const r of doc.runs) assert.ok(r.injected > 0, r.label);
    assert.ok(doc.relations.every((r) => r.kernel === "6.12-generic" && r.profile === "6.6-patched"));
    const ids = new Set(doc.relations.map((r) => r.id));
    for (const id of ["loopback.conservation", "loopback.p2.shares", "loopback.sender-netrx-per-rrps", "loopback.rate.0>e>f", "loopback.p5.every-target-drops", "loopback.p7.flow-limit-on-sender"])
      assert.ok(ids.has(id), id);
    // Cross-kernel relations need the threaded kernel, which was not selected: no row rather than a FAIL.
    assert.ok(!ids.has("loopback.ipi≈threads@f"));
    // Whatever the model's dynamics, its books balance and the flow limiter counts where the kernel does.
    const conservation = doc.relations.find((r) => r.id === "loopback.conservation")!;
    assert.deepEqual([conservation.kernel_value, conservation.model_value, conservation.pass], [0, 0, true]);
    assert.equal(doc.relations.find((r) => r.id === "loopback.p7.flow-limit-on-sender")!.pass, true);
  });

  it("prints the table with progress on stderr", async () => {
    const o = await cli(["validate", "--only", "nic", "--kernels", "6.12-generic-threaded", "--duration", "5ms", "--jobs", "1"], 120_000);
    assert.ok(o.code === 0 || o.code === 1, o.stderr);
    // The NIC phases run at the kernel's load relative to its loopback p1 rate: that run comes first.
    assert.match(o.stderr, /^softnet-emu validate: 6 model runs \(6\.6-patched-threads\)\nsoftnet-emu: loopback p1 6\.6-patched-threads: /);
    assert.match(o.stderr, /softnet-emu: nic p2 6\.6-patched-threads \d+kpps rx_usecs \d+: \d+ processed/);
    // Each NIC phase's bursts are replayed (validate/bursts.ts): the kernel's packets per interrupt, the model's, rx_usecs.
    assert.match(o.stderr, /NIC bursts replayed .*\n {2}6\.12-generic-threaded +p1 33\.6→[\d.]+ @\d+us +p2 117→[\d.]+ @\d+us/);
    assert.match(o.stdout, /^nic\.conservation: .*\n {2}6\.12-generic-threaded \(6\.6-patched-threads\) +kernel 0 +model 0 +same +PASS$/m);
    assert.match(o.stdout, /^nic\.threads\.no-ipi: /m);
    assert.match(o.stdout, o.code === 0 ? /\nvalidate: all \d+ relations hold within their tolerances\n$/ : /\nvalidate: \d+ of \d+ relations FAIL: \S/);
  });

  it("--report DIR: a page with a chart per relation and the NIC bursts, and the table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "validate-report-"));
    try {
      const o = await cli(["validate", "--only", "nic", "--kernels", "6.12-generic-threaded", "--duration", "5ms", "--jobs", "1", "--report", dir], 120_000);
      assert.ok(o.code === 0 || o.code === 1, o.stderr);
      assert.match(o.stderr, /softnet-emu validate: report written to .*index\.html/);
      const files = readdirSync(dir);
      for (const f of ["index.html", "nic-bursts.svg", "relation-nic_conservation.svg", "relation-nic_p1_packets_per_netrx.svg"]) assert.ok(files.includes(f), `${f} in ${files.join(" ")}`);
      const html = readFileSync(join(dir, "index.html"), "utf8");
      assert.equal(html.match(/<svg/g)?.length, files.filter((f) => f.endsWith(".svg")).length, "every chart inline");
      assert.match(html, /Every relation/);
      assert.match(html, /nic\.threads\.no-ipi/, "yes/no relations are in the table");
      const svg = readFileSync(join(dir, "relation-nic_p1_packets_per_netrx.svg"), "utf8");
      assert.match(svg, /<title>nic\.p1\.packets-per-netrx<\/title>/);
      assert.match(svg, /6\.12-generic-threaded/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("bad input: one line naming the flag, exit 2", async () => {
    for (const [args, re] of [
      [["validate", "--kernels", "6.2-generic"], /--kernels.*unknown kernel '6\.2-generic'/],
      [["validate", "--only", "loopback,disk"], /--only.*unknown kind 'disk'/],
      [["validate", "--duration", "5"], /--duration/],
      [["validate", "--json", "/nonexistent-dir/x.json"], /--json/],
      [["validate", "--report", "/etc/hostname"], /--report .*not a directory/],
    ] as const) {
      const o = await cli([...args], 60_000);
      assert.equal(o.code, 2, `${args.join(" ")}: ${o.stderr}`);
      assert.match(usageErrorLine(o), re);
    }
  });

  it("--help explains what is compared and how", async () => {
    const o = await cli(["validate", "--help"]);
    assert.equal(o.code, 0);
    for (const s of ["validate/reference/", "validate/scenarios/", "6.1 → 6.6", "docs/CALIBRATION.md", "Exit status: 0 every relation holds"]) assert.ok(o.stdout.includes(s), s);
  });
});
