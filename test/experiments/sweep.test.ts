// `softnet-emu sweep`: one run per value, and the sanity result the model guarantees: on one CPU
// past saturation, more offered load can only mean more drops.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { sweepCharts } from "../../report/sweep-report.ts";
import { cli, parseXml, tempDir } from "./helpers.ts";

const RATES = [200_000, 400_000, 600_000, 1_000_000, 2_000_000, 4_000_000];

describe("softnet-emu sweep", () => {
  it("drops never decrease as the offered rate rises past saturation on one CPU", async () => {
    const dir = tempDir();
    const json = join(dir, "sweep.json");
    // One CPU takes the NIC IRQ and processes everything (RPS off): ~450 kpps at most.
    const o = await cli([
      "sweep", "--knob", "rate", "--values", RATES.join(","), "--cpus", "1", "--rps-cpus", "0", "--duration", "3ms",
      "--json", json, "--report", join(dir, "report"), "--quiet",
    ]);
    assert.equal(o.code, 0, o.stderr);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { knob: string; values: number[]; runs: (RunResults & { value: number })[] };
    assert.equal(doc.knob, "rate");
    assert.deepEqual(doc.runs.map((r) => r.value), RATES);
    const drops = doc.runs.map((r) => r.totals.dropped);
    for (let i = 1; i < drops.length; i++) assert.ok(drops[i]! >= drops[i - 1]!, `drops ${drops.join(", ")}: non-decreasing`);
    assert.equal(drops[0], 0, "below saturation nothing is dropped");
    assert.ok(drops.at(-1)! > 0, "far above it most packets are");
    const processed = doc.runs.map((r) => r.totals.processed);
    assert.ok(Math.max(...processed) <= 1.02 * processed[2]!, `throughput flattens at saturation: ${processed.join(", ")}`);
    for (const r of doc.runs) assert.equal(r.totals.injected, r.totals.processed + r.totals.dropped + r.totals.queued + r.totals.in_flight);

    const report = join(dir, "report");
    assert.deepEqual(readdirSync(report).sort(), ["index.html", "sweep-dropped.svg", "sweep-latency-p99.svg", "sweep-throughput.svg"]);
    const svg = parseXml(readFileSync(join(report, "sweep-dropped.svg"), "utf8"), "sweep-dropped.svg");
    const points = Array.from(svg.getElementsByTagName("path")).filter((p) => p.getAttribute("aria-roledescription") === "point");
    assert.equal(points.length, RATES.length, "a point per value");
    const texts = Array.from(svg.getElementsByTagName("text")).map((t) => t.textContent);
    assert.ok(texts.includes("offered rate (packets/s)") && texts.includes("dropped (packets)"), "axes with units");

    // Rates span 20×: a log axis (a linear one crowds the low rates into the first tenth).
    const runs = doc.runs.map((r) => ({ value: r.value, results: r }));
    for (const chart of sweepCharts("rate", runs))
      assert.deepEqual((chart.spec as { encoding: { x: { scale: unknown } } }).encoding.x.scale, { type: "log" }, chart.name);
    assert.deepEqual((sweepCharts("netdev_budget", runs.slice(0, 2))[0]!.spec as { encoding: { x: { scale: unknown } } }).encoding.x.scale, { zero: false }, "2× apart: linear");

    // The table has a queued column and fits the page: estimate each column's width from its
    // longest cell (8 px a character at 14 px, plus 20 px of padding) against the page's 1180 px.
    const html = readFileSync(join(report, "index.html"), "utf8");
    const rows = [...html.matchAll(/<tr>(.*?)<\/tr>/g)].map((m) => [...m[1]!.matchAll(/<t[hd][^>]*>(.*?)<\/t[hd]>/g)].map((c) => c[1]!));
    assert.ok(rows[0]!.includes("queued"), `header: ${rows[0]!.join(" | ")}`);
    const queued = rows[0]!.indexOf("queued");
    for (const [i, r] of doc.runs.entries()) assert.equal(rows[i + 1]![queued], String(r.totals.queued + r.totals.in_flight));
    const widest = (col: number): number => Math.max(...rows.slice(1).map((r) => r[col]!.length), ...rows[0]![col]!.split(" ").map((w) => w.length));
    const width = rows[0]!.reduce((sum, _, col) => sum + 8 * Math.max(widest(col), col === 2 ? "threads-without-local-shortcut".length : 0) + 20, 0);
    assert.ok(width <= 1180, `the table is about ${width} px wide`);
  });

  it("sweeps a sysctl for several profiles, and checks its values as the sysctl would", async () => {
    const o = await cli([
      "sweep", "--knob", "netdev_max_backlog", "--values", "16,1000", "--profiles", "6.6,6.6-patched-threads",
      "--rate", "2e6", "--duration", "2ms", "--quiet", "--jobs", "1", "--json", "-",
    ]);
    assert.equal(o.code, 0, o.stderr);
    const doc = JSON.parse(o.stdout) as { runs: (RunResults & { value: number })[] };
    assert.deepEqual(doc.runs.map((r) => `${r.profile}@${r.value}`), ["6.6@16", "6.6@1000", "6.6-patched-threads@16", "6.6-patched-threads@1000"]);
    for (const p of ["6.6", "6.6-patched-threads"]) {
      const [small, big] = doc.runs.filter((r) => r.profile === p);
      assert.ok(small!.totals.dropped_by_reason.cpu_backlog > big!.totals.dropped_by_reason.cpu_backlog, `${p}: a small backlog drops more`);
    }
    const bad = await cli(["sweep", "--knob", "netdev_budget", "--values", "300,-1"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--values: netdev_budget '-1'/);
  });
});
