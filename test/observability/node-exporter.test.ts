// The real node_exporter reads the emulated host: --path.procfs on the --procfs folder gives the
// same processed/dropped/squeeze per CPU as the results, and nothing for an offline CPU; its
// interrupts and stat collectors (and softirqs, from 1.7 on) give the run's NET_RX runs, NIC queue
// interrupts and call-function (CAL) interrupts.
//
// Debian's node_exporter 1.5 labels softnet rows by line number, not by the index column (later
// releases read the index). With CPU 3 offline that makes no difference here (it is the last row);
// with a CPU offline in the middle the labels after it shift down by one. The file must stay the
// kernel's (index column = real CPU): the test accepts either labelling, but says which it saw
// and insists on the values row for row.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ProcfsWriter } from "../../observe/procfs.ts";
import type { CpuResult, RunResults } from "../../model/results.ts";
import { cli } from "../cli/spawn.ts";
import { Daemon, findBinary, freePort, runTool, skipUnless, waitFor } from "./harness.ts";
import { observedRun } from "./runs.ts";

const SERIES = {
  node_softnet_processed_total: (c: CpuResult) => c.processed,
  node_softnet_dropped_total: (c: CpuResult) => c.dropped,
  node_softnet_times_squeezed_total: (c: CpuResult) => c.time_squeeze,
} as const;

/** Every sample of an exposition text: name, labels, value. */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const m of text.matchAll(/^(\w+)(?:\{(.*)\})? (\S+)$/gm)) {
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

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
    return softnetSeries(await exporter(procfs));
  }

  /** One scrape of a node_exporter reading `procfs`, with the softnet collector and `collectors`. */
  async function exporter(procfs: string, collectors: string[] = []): Promise<string> {
    const port = await freePort();
    const ne = Daemon.start("node_exporter", findBinary("prometheus-node-exporter")!, [
      `--path.procfs=${procfs}`,
      "--collector.disable-defaults",
      "--collector.softnet",
      ...collectors,
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
    return text;
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

  it("reads softirqs, interrupts and stat of a real run's --procfs: the run's NET_RX, NIC IRQ and CAL counts", async () => {
    // IPIs to a CPU polling in idle are no interrupts: with idle_poll off every IPI is a CAL.
    const scenario = join(dir, "irqs.yaml");
    writeFileSync(scenario, "cpus: 4\nduration: 20ms\nidle_poll: false\n");
    const procfs = join(dir, "run-procfs");
    const json = join(dir, "run.json");
    const run = await cli(["run", "--scenario", scenario, "--rate", "400000", "--offline", "2@5ms", "--procfs", procfs, "--json", json]);
    assert.equal(run.code, 0, run.stderr);
    const results = JSON.parse(readFileSync(json, "utf8")) as RunResults;
    const cpus = results.cpus;
    const online = cpus.filter((c) => c.online);
    assert.deepEqual(online.map((c) => c.cpu), [0, 1, 3]);
    const sum = (f: (c: CpuResult) => number): number => cpus.reduce((a, c) => a + f(c), 0);
    assert.ok(sum((c) => c.irq_call_count) > 0 && cpus[0]!.nic_irqs[0]! > 0, "the run took CAL and NIC interrupts");

    const newer = /--collector\.softirqs\b/.test(runTool(findBinary("prometheus-node-exporter")!, ["--help"]).output);
    const text = await exporter(procfs, ["--collector.interrupts", "--collector.stat", "--collector.stat.softirq", ...(newer ? ["--collector.softirqs"] : [])]);
    for (const c of ["interrupts", "stat", ...(newer ? ["softirqs"] : [])]) assert.match(text, new RegExp(`node_scrape_collector_success\\{collector="${c}"\\} 1`), c);
    const series = parseExposition(text);
    const get = (name: string, labels: Record<string, string>): number | undefined =>
      series.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    // stat: NET_RX summed over every CPU, the other vectors 0; every interrupt counted once.
    assert.equal(get("node_softirqs_total", { vector: "net_rx" }), sum((c) => c.net_rx_softirqs));
    for (const vector of ["hi", "timer", "net_tx", "block", "tasklet", "sched", "hrtimer", "rcu"]) assert.equal(get("node_softirqs_total", { vector }), 0, vector);
    assert.equal(get("node_intr_total", {}), sum((c) => c.nic_irqs[0]!) + sum((c) => c.irq_call_count));
    // interrupts: a column per online CPU, labelled by position (CPU 3 is cpu="2" with CPU 2 offline).
    online.forEach((c, column) => {
      const cpu = String(column);
      assert.equal(get("node_interrupts_total", { cpu, type: "CAL" }), c.irq_call_count, `CAL of CPU ${c.cpu}`);
      assert.equal(get("node_interrupts_total", { cpu, type: "24", info: "PCI-MSIX-0000:00:04.0" }), c.nic_irqs[0], `NIC IRQ of CPU ${c.cpu}`);
    });
    assert.equal(get("node_interrupts_total", { cpu: "3", type: "CAL" }), undefined, "three online CPUs, three columns");
    // node_exporter 1.7 and later read /proc/softirqs itself: a column per CPU, offline ones too.
    if (newer) for (const c of cpus) assert.equal(get("node_softirqs_functions_total", { cpu: String(c.cpu), type: "NET_RX" }), c.net_rx_softirqs);
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
