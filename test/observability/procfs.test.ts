// --procfs DIR: DIR/net/softnet_stat (online CPUs only), DIR/softirqs, DIR/interrupts and DIR/stat in the kernel's formats, rewritten atomically.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UsageError } from "../../config/errors.ts";
import { NIC_IRQ_BASE, SOFTIRQ_NAMES, renderInterrupts, renderSoftirqs } from "../../observe/proc-irqs.ts";
import { ProcfsWriter } from "../../observe/procfs.ts";
import type { CpuResult } from "../../model/results.ts";
import { fakeCounters } from "./fixtures.ts";
import { sleep, waitFor } from "./harness.ts";
import { observedRun } from "./runs.ts";

const KERNEL_LINE_13 = /^(?:[0-9a-f]{8} ){12}[0-9a-f]{8}$/;
const KERNEL_LINE_15 = /^(?:[0-9a-f]{8} ){14}[0-9a-f]{8}$/;

describe("procfs softnet_stat", () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-procfs-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the kernel's 13 hex columns, online CPUs only, real index last", async () => {
    const run = observedRun("lost-wakeup");
    const w = await ProcfsWriter.open({ dir: join(dir, "a"), columns: 13 });
    await w.final(run.results.cpus);
    const text = readFileSync(join(dir, "a", "net", "softnet_stat"), "utf8");
    assert.equal(text, run.results.softnet_stat, "same text as the results' softnet_stat");
    const lines = text.trimEnd().split("\n");
    const online = run.results.cpus.filter((c) => c.online);
    assert.equal(lines.length, online.length);
    lines.forEach((line, i) => {
      assert.match(line, KERNEL_LINE_13);
      const cols = line.split(" ").map((h) => parseInt(h, 16));
      const c = online[i]!;
      assert.deepEqual(
        [cols[0], cols[1], cols[2], cols[9], cols[10], cols[11], cols[12]],
        [c.processed, c.dropped, c.time_squeeze, c.received_rps, c.flow_limit_count, c.backlog_len, c.cpu],
      );
    });
    assert.ok(!lines.some((l) => parseInt(l.split(" ")[12]!, 16) === 3), "CPU 3 is offline: no row");
  });

  it("offers the 6.12 form with input_qlen and process_qlen", async () => {
    const w = await ProcfsWriter.open({ dir: join(dir, "b"), columns: 15 });
    await w.final([fakeCounters(0), fakeCounters(1)]);
    const lines = readFileSync(w.path, "utf8").trimEnd().split("\n");
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l, KERNEL_LINE_15);
    const cols = lines[1]!.split(" ").map((h) => parseInt(h, 16));
    assert.deepEqual(cols.slice(11), [20, 1, 14, 6]);
  });

  it("rewrites at most once per interval during a run and keeps the newest snapshot", async () => {
    const w = await ProcfsWriter.open({ dir: join(dir, "c"), columns: 13, intervalMs: 200 });
    // Every write renames a new file into place: count the inodes seen while updates pour in
    // every 2 ms for about a second. Polling may miss a write, never invent one, so the count is
    // a lower bound of the writes and the assertion an honest upper bound of them.
    const inodes = new Set<number>([statSync(w.path).ino]);
    const startMs = performance.now();
    let k = 0;
    while (performance.now() - startMs < 1000) {
      w.update([fakeCounters(0, true, ++k)]);
      inodes.add(statSync(w.path).ino);
      await sleep(2);
    }
    const elapsedMs = performance.now() - startMs;
    const allowed = Math.ceil(elapsedMs / 200) + 1;
    assert.ok(k > 50, `updates: ${k}`);
    assert.ok(inodes.size - 1 <= allowed, `${inodes.size - 1} rewrites seen for ${k} updates in ${elapsedMs.toFixed(0)} ms: at most ${allowed}`);
    assert.ok(inodes.size - 1 >= 1, "it rewrites during the run, not only at the end");
    const want = `${fakeCounters(0, true, k).processed.toString(16).padStart(8, "0")} `;
    await waitFor("the newest snapshot", () => (readFileSync(w.path, "utf8").startsWith(want) ? true : undefined), 2000, 20);
    await w.close();
  });

  it("never shows a reader half a file", async () => {
    const w = await ProcfsWriter.open({ dir: join(dir, "d"), columns: 13 });
    const many = Array.from({ length: 64 }, (_, cpu) => fakeCounters(cpu));
    await w.final(many.slice(0, 3));
    let writing = true;
    const writer = (async () => {
      for (let k = 0; k < 200; k++) await w.final(k % 2 ? many : many.slice(0, 3));
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const lines = readFileSync(w.path, "utf8").trimEnd().split("\n");
      assert.ok(lines.length === 64 || lines.length === 3, `a torn read: ${lines.length} lines`);
      reads++;
      await sleep(0);
    }
    await writer;
    assert.ok(reads > 10);
  });

  it("names the folder when it cannot be written", async () => {
    const file = join(dir, "plain-file");
    writeFileSync(file, "not a folder");
    await assert.rejects(ProcfsWriter.open({ dir: file, columns: 13 }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, `--procfs ${file}: cannot write ${file}/net/softnet_stat: a path component is not a folder`);
      return true;
    });
    // Node's own recursive mkdir never returns on this one.
    await assert.rejects(
      ProcfsWriter.open({ dir: "/proc/softnet-emu", columns: 13 }),
      /^UsageError: --procfs \/proc\/softnet-emu: cannot write \/proc\/softnet-emu\/net\/softnet_stat: no such file or folder$/,
    );
  });

  it("writes softirqs, interrupts and stat with the run's counters: every CPU, online ones, sums", async () => {
    const run = observedRun("lost-wakeup");
    const cpus = run.results.cpus;
    const w = await ProcfsWriter.open({ dir: join(dir, "irqs"), columns: 13 });
    await w.final(cpus);
    assert.deepEqual(w.paths.map((p) => p.slice(join(dir, "irqs").length)), ["/net/softnet_stat", "/softirqs", "/interrupts", "/stat"]);
    const online = cpus.filter((c) => c.online);
    assert.deepEqual(online.map((c) => c.cpu), [0, 1, 2], "CPU 3 ends the run offline");

    const softirqs = readFileSync(join(dir, "irqs", "softirqs"), "utf8").trimEnd().split("\n");
    assert.deepEqual(softirqs[0]!.trim().split(/\s+/), ["CPU0", "CPU1", "CPU2", "CPU3"], "a column per possible CPU, offline ones too");
    assert.deepEqual(softirqs.slice(1).map((l) => l.split(":")[0]!.trim()), [...SOFTIRQ_NAMES]);
    const row = (lines: string[], name: string): number[] => lines.find((l) => l.split(":")[0]!.trim() === name)!.split(":")[1]!.trim().split(/\s+/).map(Number);
    assert.deepEqual(row(softirqs, "NET_RX"), cpus.map((c) => c.net_rx_softirqs));
    assert.ok(cpus[0]!.net_rx_softirqs > 0);
    for (const name of SOFTIRQ_NAMES.filter((n) => n !== "NET_RX")) assert.deepEqual(row(softirqs, name), [0, 0, 0, 0], name);

    const interrupts = readFileSync(join(dir, "irqs", "interrupts"), "utf8").trimEnd().split("\n");
    assert.deepEqual(interrupts[0]!.trim().split(/\s+/), ["CPU0", "CPU1", "CPU2"], "a column per online CPU only");
    assert.deepEqual(row(interrupts, String(NIC_IRQ_BASE)).slice(0, 3), online.map((c) => c.nic_irqs[0]));
    assert.ok(cpus[0]!.nic_irqs[0]! > 0, "the NIC queue's IRQ runs on CPU 0");
    assert.match(interrupts[1]!, /^ 24: +\d+ +\d+ +\d+ PCI-MSIX-0000:00:04\.0 +1-edge +eth0-rx-0$/);
    assert.deepEqual(row(interrupts, "CAL").slice(0, 3), online.map((c) => c.irq_call_count));

    const stat = readFileSync(join(dir, "irqs", "stat"), "utf8").trimEnd().split("\n");
    const sum = (f: (c: CpuResult) => number): number => cpus.reduce((a, c) => a + f(c), 0);
    const net_rx = sum((c) => c.net_rx_softirqs);
    assert.equal(stat.find((l) => l.startsWith("softirq "))!, `softirq ${net_rx} 0 0 0 ${net_rx} 0 0 0 0 0 0`);
    const intr = stat.find((l) => l.startsWith("intr "))!.split(" ").slice(1).map(Number);
    assert.equal(intr[0], sum((c) => c.nic_irqs[0]!) + sum((c) => c.irq_call_count), "numbered IRQs and CAL");
    assert.equal(intr[1 + NIC_IRQ_BASE], sum((c) => c.nic_irqs[0]!));
    assert.deepEqual(stat.filter((l) => /^cpu\d/.test(l)).map((l) => l.split(" ")[0]), ["cpu0", "cpu1", "cpu2"]);
    // Times in USER_HZ ticks of virtual time: softirq time is CPU 0's busy softirq time.
    const cpu0 = stat.find((l) => l.startsWith("cpu0 "))!.split(" ").slice(1).map(Number);
    assert.equal(cpu0[6], Math.floor(cpus[0]!.busy_ns.softirq / 1e7));
    // The columns share out the CPU's virtual time (each one rounded down on its own).
    const ticks = Math.floor(cpus[0]!.now_ns / 1e7);
    const shared = cpu0.reduce((a, b) => a + b, 0);
    assert.ok(shared <= ticks && shared >= ticks - 3, `${shared} ticks of ${ticks}`);
  });

  it("lays softirqs and interrupts out as this machine's kernel does", (t) => {
    const host = (name: string): string[] | undefined => {
      try {
        return readFileSync(`/proc/${name}`, "utf8").trimEnd().split("\n");
      } catch {
        return undefined;
      }
    };
    const [softirqs, interrupts] = [host("softirqs"), host("interrupts")];
    if (!softirqs || !interrupts) return t.skip("no /proc/softirqs or /proc/interrupts here");
    /** Where each whitespace-separated field ends: the layout, whatever the digits. */
    const ends = (line: string): number[] => [...line.matchAll(/\S+/g)].map((m) => m.index + m[0].length);
    const byName = (lines: string[]): Map<string, string> => new Map(lines.slice(1).map((l) => [l.split(":")[0]!.trim(), l]));
    // As many CPUs as the host's columns; counts below a million, as the host's mostly are.
    const n = softirqs[0]!.trim().split(/\s+/).length;
    const rows = Array.from({ length: n }, (_, cpu) => fakeCounters(cpu, true, 0.001));
    const mine = renderSoftirqs(rows).trimEnd().split("\n");
    assert.equal(mine[0], softirqs[0], "the header, trailing spaces included");
    const hostRows = byName(softirqs);
    for (const [name, line] of byName(mine)) assert.deepEqual(ends(line), ends(hostRows.get(name)!), name);

    const nOnline = interrupts[0]!.trim().split(/\s+/).length;
    const ours = renderInterrupts(rows.slice(0, nOnline)).trimEnd().split("\n");
    assert.equal(ours[0], interrupts[0], "the header");
    const theirs = byName(interrupts);
    for (const name of ["NMI", "LOC", "RES", "CAL", "TLB", "ERR", "MIS"]) {
      const line = byName(ours).get(name)!;
      const real = theirs.get(name);
      if (real) assert.deepEqual(ends(line), ends(real), name);
    }
    // An MSI-X line of the host, if it has one of the same chip name length: same layout but the action's name.
    const msix = interrupts.find((l) => /PCI-MSIX-\d{4}:\d\d:\d\d\.\d +\d+-edge/.test(l) && /^ *\d+:/.test(l));
    if (msix) assert.deepEqual(ends(ours[1]!).slice(0, -1), ends(msix).slice(0, -1), `${ours[1]} vs ${msix}`);
  });
});
