// --procfs DIR: DIR/net/softnet_stat in the kernel's format, online CPUs only, rewritten atomically.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { UsageError } from "../../cli/errors.ts";
import { ProcfsWriter } from "../../coordinator/procfs.ts";
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
    for (let k = 1; k <= 50; k++) w.update([fakeCounters(0, true, k)]);
    const want = `${fakeCounters(0, true, 50).processed.toString(16).padStart(8, "0")} `;
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
});
