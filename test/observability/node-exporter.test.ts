// The real node_exporter reads the emulated host: --path.procfs on the --procfs folder gives the
// same processed/dropped/squeeze per CPU as the results, and nothing for an offline CPU.
//
// Debian's node_exporter 1.5 labels softnet rows by line number, not by the index column (later
// releases read the index). With CPU 3 offline that makes no difference here (it is the last row);
// with a CPU offline in the middle the labels after it shift down by one. The file must stay the
// kernel's (index column = real CPU): the test accepts either labelling, but says which it saw
// and insists on the values row for row.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ProcfsWriter } from "../../coordinator/procfs.ts";
import type { CpuResult } from "../../model/results.ts";
import { Daemon, findBinary, freePort, runTool, skipUnless, waitFor } from "./harness.ts";
import { observedRun } from "./runs.ts";

const SERIES = {
  node_softnet_processed_total: (c: CpuResult) => c.processed,
  node_softnet_dropped_total: (c: CpuResult) => c.dropped,
  node_softnet_times_squeezed_total: (c: CpuResult) => c.time_squeeze,
} as const;

/** name → cpu label → value, from node_exporter's exposition text. */
function softnetSeries(text: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const m of text.matchAll(/^(node_softnet_\w+)\{cpu="(\d+)"\} (\S+)$/gm)) {
    const [, name, cpu, value] = m as unknown as [string, string, string, string];
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)!.set(cpu, Number(value));
  }
  return out;
}

describe("prometheus-node-exporter on the emulated procfs", { skip: skipUnless("prometheus-node-exporter") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-ne-"));
  const daemons: Daemon[] = [];
  after(async () => {
    for (const d of daemons) await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function scrape(rows: readonly CpuResult[], name: string): Promise<Map<string, Map<string, number>>> {
    const procfs = join(dir, name);
    const w = await ProcfsWriter.open({ dir: procfs, columns: 13 });
    await w.final(rows);
    const port = await freePort();
    const ne = Daemon.start("node_exporter", findBinary("prometheus-node-exporter")!, [
      `--path.procfs=${procfs}`,
      "--collector.disable-defaults",
      "--collector.softnet",
      `--web.listen-address=127.0.0.1:${port}`,
    ]);
    daemons.push(ne);
    const text = await waitFor("node_exporter /metrics", async () => {
      if (!ne.running) throw new Error(`node_exporter exited: ${ne.output}`);
      const r = await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
      return r?.ok ? r.text() : undefined;
    });
    assert.match(text, /node_scrape_collector_success\{collector="softnet"\} 1/, "the softnet collector read the file");
    await ne.stop();
    return softnetSeries(text);
  }

  /** cpu label per online row: the real CPU (index column) or the line number (node_exporter <= 1.5). */
  function labelling(series: Map<string, Map<string, number>>, online: CpuResult[]): "index" | "line" {
    const labels = [...(series.get("node_softnet_processed_total")?.keys() ?? [])].sort((a, b) => +a - +b);
    const byIndex = online.map((c) => String(c.cpu));
    const byLine = online.map((_, i) => String(i));
    if (labels.join() === byIndex.join()) return "index";
    if (labels.join() === byLine.join()) return "line";
    assert.fail(`cpu labels ${labels.join()} are neither the CPU ids ${byIndex.join()} nor line numbers ${byLine.join()}`);
  }

  function assertRows(series: Map<string, Map<string, number>>, online: CpuResult[], mode: "index" | "line"): void {
    for (const [name, value] of Object.entries(SERIES)) {
      const got = series.get(name);
      assert.ok(got, `${name} missing`);
      assert.equal(got.size, online.length, `${name}: one series per online CPU, none for offline ones`);
      online.forEach((c, line) => {
        const label = mode === "index" ? String(c.cpu) : String(line);
        assert.equal(got.get(label), value(c), `${name}{cpu="${label}"} (CPU ${c.cpu})`);
      });
    }
  }

  it("reports the results' processed/dropped/squeeze per CPU and no line for the offline CPU", async () => {
    const run = observedRun("lost-wakeup");
    const online = run.results.cpus.filter((c) => c.online);
    assert.deepEqual(online.map((c) => c.cpu), [0, 1, 2], "CPU 3 ends the run offline");
    const series = await scrape(run.results.cpus, "end-of-run");
    assertRows(series, online, labelling(series, online));
    for (const m of series.values()) assert.ok(!m.has("3"), "no series for offline CPU 3");
  });

  it("with a CPU offline in the middle, old node_exporters shift the labels after it", async () => {
    // The rt-ipi run at 6.67 ms: CPU 2 is offline, CPU 3 is not.
    const run = observedRun("rt-ipi");
    const k = run.times_ns.findIndex((t) => t > 5_000_000 && t < 12_000_000);
    const rows = run.snapshots[k]!;
    const online = rows.filter((c) => c.online);
    assert.deepEqual(online.map((c) => c.cpu), [0, 1, 3]);
    const series = await scrape(rows, "cpu2-offline");
    const mode = labelling(series, online);
    assertRows(series, online, mode);
    const version = runTool(findBinary("prometheus-node-exporter")!, ["--version"]).output;
    const minor = Number(/version 1\.(\d+)\./.exec(version)?.[1] ?? "99");
    if (minor <= 5) {
      assert.equal(mode, "line", "node_exporter 1.5 labels rows by line number");
      // CPU 3's counters appear as cpu="2": a dashboard reading them would blame the offline CPU.
      assert.equal(series.get("node_softnet_processed_total")!.get("2"), online[2]!.processed);
    }
  });
});
