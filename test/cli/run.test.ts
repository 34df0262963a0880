// End to end: `softnet-emu run` on the in-process engine. Skipped until engine/inprocess.ts exists
// (run just this file with `node --import tsx --test test/cli/run.test.ts`).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { cliInProcess as inProcess } from "./spawn.ts";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/softnet-emu.js");
const skip = existsSync(join(ROOT, "engine/inprocess.ts")) ? false : "engine/inprocess.ts not there yet";

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}


describe("softnet-emu run, end to end", { skip }, () => {
  test("with no flags it runs the default scenario, one process per CPU, and prints the summary", async () => {
    const o = await cli(["run"]);
    assert.equal(o.code, 0, o.stderr);
    // A run that takes over ~2 s of wall time (a loaded machine) prints progress lines: those may be there.
    const progress = /^softnet-emu: +\d+% of \S+ virtual · .*\n/gm;
    assert.equal(o.stderr.replace(progress, ""), "", "the CPU processes' routine lines only with --verbose");
    assert.match(o.stdout, /^profile 6\.6-patched · seed 1 · engine processes · 4 CPUs · virtual 50ms · wall \d+\.\d\ds · \S+ packets\/wall-s\n/);
    assert.match(o.stdout, /cpu +online +processed +dropped +squeeze +rcv_rps +flow_lim +backlog +ipis_sent +NET_RX +wakeups +lost_wk +rt_warn\n/);
    for (let cpu = 0; cpu < 4; cpu++) assert.match(o.stdout, new RegExp(`\\n +${cpu} +yes +\\d+`), `a row for CPU ${cpu}`);
    assert.match(o.stdout, /\ninjected (\d+) = processed \d+ \+ dropped \d+.* \+ queued \d+ \+ in_flight \d+ \+ lost_on_crash 0/);
    assert.match(o.stdout, /\nlatency injected→processed: p50 \S+ · p99 \S+ · max \S+/);
    assert.match(o.stdout, /\nchecker: OK/);
    assert.match(o.stdout, /\nliveness: OK \(no backlog stalled for 5ms\)\n/);
    assert.match(o.stdout, /\n\/proc\/net\/softnet_stat:\n([0-9a-f]{8}( [0-9a-f]{8}){12}\n){4}/);
  });

  test("--json - prints only JSON on stdout, and the same seed gives byte-identical JSON", async () => {
    const args = ["run", "--json", "-", "--duration", "20ms", "--seed", "42"];
    const [a, b] = [await cli(args), await cli(args)];
    assert.equal(a.code, 0, a.stderr);
    const r = JSON.parse(a.stdout) as RunResults;
    assert.equal(a.stdout, `${JSON.stringify(r, null, 2)}\n`, "nothing but the JSON document");
    assert.equal(b.stdout, a.stdout, "deterministic across processes");
    assert.equal(r.seed, 42);
    assert.equal(r.virtual_ns, 20_000_000);
    assert.equal(r.profile, "6.6-patched");
    for (const key of ["cpu", "online", "processed", "dropped", "time_squeeze", "received_rps", "flow_limit_count", "backlog_len", "ipis_sent", "net_rx_softirqs", "thread_wakeups", "rt_flush_warnings"])
      assert.ok(key in (r.cpus[0] ?? {}), `cpus[].${key}`);
    for (const key of ["injected", "processed", "dropped", "dropped_by_reason", "queued", "in_flight", "lost_on_crash", "reordered"])
      assert.ok(key in r.totals, `totals.${key}`);
    assert.deepEqual(r.checker, { ok: true, violations: [], checkpoints: 100 }, "checked every 1/100 of the run");
    assert.ok(!("wall" in r) && !JSON.stringify(r).includes("wall"), "no wall-clock time in the JSON");
  });

  test("another seed gives other results", async () => {
    const [a, b] = [await inProcess(["run", "--json", "-", "--duration", "5ms", "--load", "nic"]), await inProcess(["run", "--json", "-", "--duration", "5ms", "--seed", "2"])];
    assert.notEqual(a.stdout, b.stdout);
  });

  test("--json FILE writes the file and still prints the summary; --quiet prints nothing", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "softnet-emu-run-")), "r.json");
    const o = await inProcess(["run", "--duration", "5ms", "--json", file]);
    assert.equal(o.code, 0);
    assert.match(o.stdout, /^profile /);
    assert.equal((JSON.parse(readFileSync(file, "utf8")) as RunResults).virtual_ns, 5_000_000);
    const q = await inProcess(["run", "--duration", "5ms", "--json", file, "--quiet"]);
    assert.deepEqual([q.code, q.stdout, q.stderr], [0, "", ""]);
  });

  test("flags reach the engine: loopback, rps off, hotplug, series", async () => {
    const o = await inProcess([
      "run", "--json", "-", "--duration", "10ms", "--load", "loopback", "--rps-cpus", "0", "--rate", "50000",
      "--offline", "3@2ms", "--online", "3@6ms", "--series-interval", "1ms",
    ]);
    assert.equal(o.code, 0, o.stderr);
    const r = JSON.parse(o.stdout) as RunResults;
    // Loopback without RPS: everything is processed on the sender's CPU.
    assert.ok((r.cpus[0]?.processed ?? 0) > 0);
    assert.deepEqual(r.cpus.slice(1).map((c) => c.processed), [0, 0, 0]);
    assert.deepEqual(r.events.map((e) => `${e.action} ${e.cpu} ${e.at_ns}`), ["offline 3 2000000", "online 3 6000000"]);
    assert.equal(r.series?.interval_ns, 1_000_000);
    assert.ok((r.series?.t_ns.length ?? 0) >= 10);
  });

  test("every example runs and passes the checker (the stall example fails its liveness: exit 1)", { timeout: 60_000 }, async () => {
    for (const f of ["loopback-rps.yaml", "rt-ipi-warning.yaml", "flow-limit.yaml", "threaded-backlog-stall.yaml"]) {
      const o = await inProcess(["run", "--scenario", join(ROOT, "examples", f), "--json", "-", "--duration", "20ms"]);
      const stalls = f === "threaded-backlog-stall.yaml";
      assert.equal(o.code, stalls ? 1 : 0, `${f}: ${o.stderr}`);
      const r = JSON.parse(o.stdout) as RunResults;
      assert.equal(r.checker.ok, true, f);
      assert.equal(r.liveness?.ok, !stalls, f);
      if (stalls) assert.match(o.stderr, /softnet-emu: liveness: CPU 1 stalled from /);
    }
  });
});
