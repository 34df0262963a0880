// `softnet-emu compare`: every profile in the JSON with its series; a report folder whose SVGs
// are well-formed XML and carry the data (a line per profile, the legend names every profile).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { cli, parseXml, tempDir } from "./helpers.ts";

const PROFILES = ["6.6", "rt-6.6", "rt-6.6-patched"];

describe("softnet-emu compare", () => {
  it("writes every profile's run to the JSON and draws them in the report", async () => {
    const dir = tempDir();
    const json = join(dir, "runs.json");
    const report = join(dir, "report");
    const o = await cli([
      "compare", "--profiles", PROFILES.join(","), "--load", "loopback", "--rate", "50000", "--duration", "4ms",
      "--series-interval", "500us", "--json", json, "--report", report, "--jobs", "2",
    ]);
    assert.equal(o.code, 0, o.stderr);

    // The side-by-side table: a column per profile, the RT warnings only on rt-6.6.
    assert.match(o.stdout, /^ +6\.6 +rt-6\.6 +rt-6\.6-patched\n/);
    assert.match(o.stdout, /\nRT flush warnings +0 +[1-9]\d* +0\n/);
    assert.match(o.stdout, /\nthroughput \(pkt\/s\) +\S+ +\S+ +\S+\n/);
    assert.match(o.stdout, /\nprocessed % per CPU +0\/\d+\/\d+\/\d+ /);

    const doc = JSON.parse(readFileSync(json, "utf8")) as { command: string; profiles: string[]; runs: (RunResults & { assertions: unknown[] })[] };
    assert.equal(doc.command, "compare");
    assert.deepEqual(doc.runs.map((r) => r.profile), PROFILES, "every profile, in the order given");
    for (const r of doc.runs) {
      assert.equal(r.seed, 1);
      assert.equal(r.cpus.length, 4);
      assert.ok(r.totals.injected > 0 && r.totals.injected === doc.runs[0]!.totals.injected, "same seeded load for every profile");
      assert.deepEqual(r.series?.t_ns, [500_000, 1_000_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000, 3_500_000, 4_000_000]);
      assert.equal(r.series?.cpus.length, 4);
    }

    const files = readdirSync(report).sort();
    assert.deepEqual(files, ["backlog.svg", "drops.svg", "index.html", "latency.svg", "per-cpu-dropped.svg", "per-cpu-processed.svg", "processed-rate.svg"]);
    for (const f of files.filter((f) => f.endsWith(".svg"))) {
      const svg = parseXml(readFileSync(join(report, f), "utf8"), f);
      assert.equal(svg.documentElement?.nodeName, "svg", f);
      const texts = Array.from(svg.getElementsByTagName("text")).map((t) => t.textContent ?? "");
      for (const p of PROFILES) assert.ok(texts.includes(p), `${f}: the legend names ${p}`);
      // Each mark carries its data in an aria-label (vega): one per profile at least.
      const labels = Array.from(svg.getElementsByTagName("path")).map((p) => p.getAttribute("aria-label") ?? "");
      for (const p of PROFILES) assert.ok(labels.some((l) => l.endsWith(`profile: ${p}`)), `${f}: a mark for ${p}`);
      assert.ok(texts.some((t) => /\(packets(\/s)?\)|\(µs\)/.test(t)), `${f}: an axis title with its unit`);
    }
    // A time series: one polyline per profile with a vertex per sample, each in its own colour.
    const rate = parseXml(readFileSync(join(report, "processed-rate.svg"), "utf8"), "processed-rate.svg");
    const lines = Array.from(rate.getElementsByTagName("path")).filter((p) => p.getAttribute("aria-roledescription") === "line mark");
    assert.equal(lines.length, PROFILES.length);
    for (const l of lines) assert.equal((l.getAttribute("d") ?? "").split("L").length, 8, "8 samples");
    assert.equal(new Set(lines.map((l) => l.getAttribute("stroke"))).size, PROFILES.length, "one colour per profile");

    const html = readFileSync(join(report, "index.html"), "utf8");
    assert.match(html, /^<!DOCTYPE html>/);
    assert.equal((html.match(/<svg /g) ?? []).length, 6, "the charts are inline: the page stands alone");
    assert.doesNotMatch(html, /<script|<link /, "no script, no external resource");
    assert.match(html, /<th>rt-6\.6-patched<\/th>/);
  });

  it("marks hotplug events and injected faults on the time charts", async () => {
    const dir = tempDir();
    const report = join(dir, "report");
    const o = await cli([
      "compare", "--profiles", "6.6,6.6-patched", "--load", "loopback", "--rate", "50000", "--duration", "4ms",
      "--series-interval", "500us", "--offline", "2@1ms", "--online", "2@3ms", "--report", report, "--jobs", "2", "--quiet",
    ]);
    assert.equal(o.code, 0, o.stderr);
    for (const f of ["processed-rate.svg", "drops.svg", "backlog.svg", "latency.svg"]) {
      const svg = parseXml(readFileSync(join(report, f), "utf8"), f);
      const texts = Array.from(svg.getElementsByTagName("text")).map((t) => t.textContent ?? "");
      assert.ok(texts.includes("cpu 2 offline") && texts.includes("cpu 2 online"), `${f}: labelled markers (${texts.join(" | ")})`);
      const rules = Array.from(svg.getElementsByTagName("*")).filter((p) => p.getAttribute("aria-roledescription") === "rule mark");
      assert.equal(rules.length, 2, `${f}: a rule per event, not one per profile`);
    }
  });

  it("refuses an unknown profile before running anything", async () => {
    const o = await cli(["compare", "--profiles", "6.6,6.7"]);
    assert.equal(o.code, 2);
    assert.match(o.stderr, /unknown profile '6\.7'/);
    assert.equal(o.stderr.split("\n").filter(Boolean).length, 1, "one line");
  });
});
