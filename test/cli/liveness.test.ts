// Every run judged for liveness (chaos/liveness.ts): the stall example exits 1 naming the stalled
// CPUs, since when and why, on both engines with the same verdict; a normal run says OK; a scenario
// that asserts on liveness (it expects the stall) decides itself; compare shows the stall per
// profile; a run whose load stops before its end is judged drained.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { cli, cliInProcess, ROOT } from "./spawn.ts";

const STALL = join(ROOT, "examples/threaded-backlog-stall.yaml");
const tmp = mkdtempSync(join(tmpdir(), "softnet-liveness-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const readJson = <T = RunResults>(file: string) => JSON.parse(readFileSync(file, "utf8")) as T;

describe("the liveness verdict of `run`", { timeout: 120_000 }, () => {
  test("the stall example exits 1, naming each stalled CPU, since when and why (in-process)", async () => {
    const json = join(tmp, "stall-inprocess.json");
    const o = await cliInProcess(["run", "--scenario", STALL, "--engine", "inprocess", "--json", json]);
    assert.equal(o.code, 1, o.stderr);
    for (const cpu of [1, 2, 3])
      assert.match(o.stderr, new RegExp(`softnet-emu: liveness: CPU ${cpu} stalled from \\S+ \\(virtual\\) with \\d+ packet\\(s\\) in its backlog: lost wake-up of backlog_napi/${cpu}`));
    assert.match(o.stdout, /\nchecker: OK \(every packet accounted for\)\nliveness: FAILED, 3 stalled backlogs \(CPU 1, 2, 3\):\n  - stall: CPU 1 /);
    assert.match(o.stdout, /\nlatency injected→processed: n\/a \(nothing was processed\)\n/, "no p50 0ns when nothing was processed");
    assert.match(o.stdout, /wakeups +lost_wk +rt_warn\n/);
    assert.match(o.stdout, /\n +1 +yes +0 +\d+ .* 1 +1 +0\n/, "lost_wakeups 1 on CPU 1's row");
    const r = readJson(json);
    assert.equal(r.checker.ok, true, "conservation holds: the packets are stuck, not lost");
    assert.equal(r.liveness!.ok, false);
    assert.deepEqual(
      r.liveness!.stalls.map((s) => [s.cpu, s.why, s.until_ns]),
      [1, 2, 3].map((cpu) => [cpu, "lost_wakeup", null]),
    );
    for (const s of r.liveness!.stalls) assert.ok(s.detected_ns - s.since_ns >= r.liveness!.stall_after_ns, JSON.stringify(s));
  });

  test("the distributed engine gives the same verdict, byte for byte", async () => {
    const [a, b] = [join(tmp, "stall-a.json"), join(tmp, "stall-b.json")];
    const ip = await cliInProcess(["run", "--scenario", STALL, "--engine", "inprocess", "--json", a, "--quiet"]);
    const pr = await cli(["run", "--scenario", STALL, "--engine", "processes", "--json", b, "--quiet"], 90_000);
    assert.equal(ip.code, 1, ip.stderr);
    assert.equal(pr.code, 1, pr.stderr);
    assert.match(pr.stderr, /softnet-emu: liveness: CPU 1 stalled from /);
    assert.equal(JSON.stringify(readJson(b).liveness), JSON.stringify(readJson(a).liveness));
  });

  test("a normal run: liveness OK, exit 0", async () => {
    const o = await cliInProcess(["run", "--scenario", join(ROOT, "examples/default.yaml"), "--engine", "inprocess", "--duration", "10ms"]);
    assert.equal(o.code, 0, o.stderr);
    assert.match(o.stdout, /\nliveness: OK \(no backlog stalled for 5ms\)\n/);
  });

  test("--stall-after sets the threshold of a plain run (not a chaos run: no heal, no drain phase)", async () => {
    const json = join(tmp, "stall-after.json");
    const o = await cliInProcess(["run", "--scenario", STALL, "--engine", "inprocess", "--duration", "40ms", "--stall-after", "20ms", "--json", json, "--quiet"]);
    assert.equal(o.code, 1, o.stderr);
    const r = readJson(json);
    assert.equal(r.chaos, undefined);
    assert.equal(r.liveness!.stall_after_ns, 20_000_000);
    for (const s of r.liveness!.stalls) assert.ok(s.detected_ns >= 20_000_000, JSON.stringify(s));
  });

  test("a scenario that asserts on liveness expects the stall: its assertions decide (exit 0)", async () => {
    const file = join(tmp, "expects-stall.yaml");
    writeFileSync(file, `${readFileSync(STALL, "utf8")}\nassert:\n  - not liveness.ok\n  - count(liveness.stalls.cpu) == 3\n`);
    const o = await cliInProcess(["run", "--scenario", file, "--engine", "inprocess", "--quiet"]);
    assert.equal(o.code, 0, o.stderr);
    const wrong = join(tmp, "expects-live.yaml");
    writeFileSync(wrong, `${readFileSync(STALL, "utf8")}\nassert:\n  - liveness.ok\n`);
    const w = await cliInProcess(["run", "--scenario", wrong, "--engine", "inprocess", "--quiet"]);
    assert.equal(w.code, 1, w.stderr);
    assert.match(w.stderr, /liveness\.ok/);
  });

  test("load that stops before the end: drained (with patch 1), not drained and stalled (without)", async () => {
    const json = join(tmp, "drain.json");
    const base = ["run", "--engine", "inprocess", "--duration", "40ms", "--json", json, "--quiet"];
    const file = join(tmp, "short-load.yaml");
    const scenario = (profile: string) =>
      `cpus: 4\nseed: 1\nduration: 40ms\nprofile: ${profile}\nqueues:\n  - irq_affinity: [0]\n    rps_cpus: e\n` +
      `load:\n  - source: nic:0\n    rate: { kind: constant, pps: 100000 }\n    flows: 64\n    end: 10ms\n`;
    writeFileSync(file, scenario("6.6-patched-threads"));
    const ok = await cliInProcess([...base, "--scenario", file]);
    assert.equal(ok.code, 0, ok.stderr);
    const good = readJson(json).liveness!;
    assert.equal(good.load_end_ns, 10_000_000);
    assert.ok(good.drained_at_ns !== null && good.drained_at_ns >= 10_000_000 && good.drained_at_ns < 30_000_000, JSON.stringify(good));
    writeFileSync(file, scenario("threads-without-patch1"));
    const bad = await cliInProcess([...base, "--scenario", file]);
    assert.equal(bad.code, 1, bad.stderr);
    const l = readJson(json).liveness!;
    assert.equal(l.drained_at_ns, null);
    assert.ok(l.stalls.length > 0);
    assert.match(bad.stderr, /softnet-emu: liveness: not drained: the load stopped at 10ms and 30ms later \(at the end, 40ms\) packets are still held \(queued: CPU \d+ \d+/);
  });
});

describe("compare, sweep and reproduce judge every run the same way", { timeout: 120_000 }, () => {
  test("compare: the table and the JSON show the stall of threads-without-patch1; exit 1", async () => {
    const json = join(tmp, "compare.json");
    const o = await cliInProcess(["compare", "--scenario", STALL, "--profiles", "threads-without-patch1,6.6-patched-threads", "--jobs", "1", "--json", json]);
    assert.equal(o.code, 1, o.stderr);
    assert.match(o.stdout, /\nliveness +STALLED cpu 1,2,3 +ok\n/);
    assert.match(o.stdout, /\nlatency p50 +n\/a +\S+\n/);
    assert.match(o.stderr, /softnet-emu: threads-without-patch1: liveness: CPU 1 stalled from /);
    assert.doesNotMatch(o.stderr, /6\.6-patched-threads: liveness/);
    const doc = readJson<{ runs: RunResults[] }>(json);
    assert.deepEqual(doc.runs.map((r) => r.liveness!.ok), [false, true]);
  });

  test("sweep: a live column and the stall among the problems", async () => {
    const o = await cliInProcess(["sweep", "--scenario", STALL, "--knob", "rate", "--values", "2e4", "--profiles", "threads-without-patch1,6.6-patched-threads", "--duration", "20ms", "--jobs", "1"]);
    assert.equal(o.code, 1, o.stderr);
    assert.match(o.stdout, / live\n/);
    assert.match(o.stdout, /threads-without-patch1 .* stall\n/);
    assert.match(o.stdout, /6\.6-patched-threads .* ok\n/);
    assert.match(o.stderr, /rate=20000 threads-without-patch1: liveness: CPU \d stalled/);
  });

  test("reproduce: a claim that expects the stall passes; a run that stalls unexpectedly fails its claim", async () => {
    const pass = await cliInProcess(["reproduce", "--only", "stall-without-patch1", "--jobs", "1"]);
    assert.equal(pass.code, 0, pass.stdout + pass.stderr);
    assert.match(pass.stdout, /ok {4}not broken\.liveness\.ok/);
    const claims = join(tmp, "claims.yaml");
    writeFileSync(
      claims,
      `claims:\n  - id: no-expectation\n    claim: threads without patch 1, said nothing of liveness\n    source: test\n` +
        `    scenario: ${join(ROOT, "examples/reproduce/stall-without-patch1.yaml")}\n    runs: { broken: threads-without-patch1 }\n    expect:\n      - broken.totals.injected > 0\n`,
    );
    const fail = await cliInProcess(["reproduce", "--claims", claims, "--jobs", "1"]);
    assert.equal(fail.code, 1, fail.stdout + fail.stderr);
    assert.match(fail.stdout, /FAIL {2}broken: liveness\.ok {3}\[CPU 1 stalled from /);
  });
});
