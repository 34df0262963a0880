// Failure detection that does not accuse the innocent (issue 10): CPUs that register one by one
// over longer than any timeout, a coordinator frozen longer than the timeout floor, and 16 CPU
// processes starved by CPU-bound neighbours all finish with the in-process engine's results, and
// nobody is declared dead. A hand-started CPU that is frozen is declared dead (silence is all the
// coordinator has to go on for CPUs that are not its children), and the books still balance.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import type { RunResults } from "../../model/results.ts";
import { ALL_CPUS, COORDINATOR_MAIN, CPU_MAIN, alive, assertEquivalent, exitOf, logSink, scenario, startTs, waitFor, coordinatorInProcess } from "./helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Every timeout of these tests: anything slower than this would be "dead" to a naive detector. */
const FLOOR_MS = 1000;

test("CPUs started by hand one every 1.6 s (longer than every timeout): none declared dead, results as in-process", { timeout: 90_000 }, async () => {
  const cfg = scenario({ seed: 3, rate_pps: 200_000, rps_cpus: ALL_CPUS, duration_ns: 5_000_000 });
  let results: RunResults | undefined;
  const { done, endpoint, sink } = await coordinatorInProcess(cfg, {
    cpuTimeoutMs: FLOOR_MS,
    coordinatorTimeoutMs: FLOOR_MS,
    onResults: (r) => void (results = r),
  });
  const cpus: ReturnType<typeof startTs>[] = [];
  try {
    for (const id of [2, 0, 3, 1]) {
      cpus.push(startTs(CPU_MAIN, ["--coordinator", endpoint, "--id", String(id), "--register-timeout-ms", String(FLOOR_MS), "--coordinator-timeout-ms", String(FLOOR_MS)]));
      if (id !== 1) await sleep(1.6 * FLOOR_MS);
    }
    assert.equal(await done, 0, sink.lines.join("\n"));
    assert.deepEqual(await Promise.all(cpus.map((c) => exitOf(c.proc))), [0, 0, 0, 0], cpus.map((c) => c.output()).join("\n"));
    assert.ok(!sink.lines.some((l) => /declared dead/.test(l)), sink.lines.join("\n"));
    assertEquivalent(runInProcess(cfg), results!, cfg.seed);
  } finally {
    for (const c of cpus) if (c.proc.pid && alive(c.proc.pid)) c.proc.kill("SIGKILL");
  }
});

test("the coordinator frozen (SIGSTOP) for 2.5× the timeout floor, then continued: the run finishes with the in-process results", { timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-freeze-"));
  const json = join(dir, "r.json");
  // Paced so that the run lasts about 4 wall seconds and the freeze lands in its middle.
  const coord = startTs(COORDINATOR_MAIN, ["--cpus", "4", "--bind", "tcp://127.0.0.1:*", "--duration-ms", "20", "--pace", "0.005", "--json", json,
    "--cpu-timeout-ms", String(FLOOR_MS), "--coordinator-timeout-ms", String(FLOOR_MS)]);
  const bound = () => /waiting for 4 cpus at (\S+)/.exec(coord.output())?.[1];
  let cpus: ReturnType<typeof startTs>[] = [];
  try {
    assert.ok(await waitFor(() => bound() !== undefined, 15_000), coord.output());
    cpus = [0, 1, 2, 3].map((id) => startTs(CPU_MAIN, ["--coordinator", bound()!, "--id", String(id)]));
    assert.ok(await waitFor(() => coord.output().includes("all 4 cpus registered"), 30_000), coord.output());
    await sleep(800);
    coord.proc.kill("SIGSTOP");
    await sleep(2.5 * FLOOR_MS);
    coord.proc.kill("SIGCONT");
    assert.equal(await exitOf(coord.proc), 0, coord.output());
    assert.deepEqual(await Promise.all(cpus.map((c) => exitOf(c.proc))), [0, 0, 0, 0], cpus.map((c) => c.output()).join("\n"));
    assert.match(coord.output(), /coordinator itself was stalled for \d+ ms/);
    assert.ok(cpus.some((c) => /coordinator silent for \d+ ms .*suspected; waiting/.test(c.output())), "the CPUs suspected it and waited");
    assert.doesNotMatch(coord.output(), /declared dead/);
    const results = JSON.parse(readFileSync(json, "utf8")) as RunResults;
    const cfg = scenario({ load: "nic", rps_cpus: ALL_CPUS, duration_ns: 20_000_000 });
    assertEquivalent(runInProcess(cfg), results, cfg.seed);
  } finally {
    for (const p of [coord.proc, ...cpus.map((c) => c.proc)]) if (p.pid && alive(p.pid)) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("16 CPU processes starved by a CPU-bound process per core: nobody declared dead, results as in-process", { timeout: 120_000 }, async () => {
  const cfg = scenario({ cpus: 16, seed: 7, rate_pps: 300_000, rps_cpus: Array.from({ length: 16 }, (_, i) => i), duration_ns: 4_000_000 });
  const hogs = [0, 1].map(() => spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" }));
  const sink = logSink();
  try {
    const results = await runProcesses(cfg, { cpuTimeoutMs: FLOOR_MS, coordinatorTimeoutMs: FLOOR_MS, log: sink.log });
    assert.equal(results.degraded, undefined, sink.lines.filter((l) => /dead|silent|stalled/.test(l)).join("\n"));
    assert.ok(!sink.lines.some((l) => /declared dead|exiting/.test(l)), sink.lines.filter((l) => /dead|exiting/.test(l)).join("\n"));
    assertEquivalent(runInProcess(cfg), results, cfg.seed);
  } finally {
    for (const h of hogs) h.kill("SIGKILL");
  }
});

test("a hand-started CPU frozen past the floor is declared dead, and told so when it resumes; the run ends degraded and balanced", { timeout: 90_000 }, async () => {
  const cfg = scenario({ seed: 4, rate_pps: 200_000, rps_cpus: [1, 2, 3], duration_ns: 20_000_000 });
  let results: (RunResults & { degraded?: { dead_cpus: number[] } }) | undefined;
  const { done, endpoint, sink } = await coordinatorInProcess(cfg, {
    cpuTimeoutMs: FLOOR_MS,
    pace: 0.005,
    onResults: (r) => void (results = r),
  });
  const cpus = ALL_CPUS.map((id) => startTs(CPU_MAIN, ["--coordinator", endpoint, "--id", String(id)]));
  try {
    assert.ok(await waitFor(() => sink.lines.some((l) => l.includes("all 4 cpus registered")), 30_000), sink.lines.join("\n"));
    await sleep(1000);
    cpus[3]!.proc.kill("SIGSTOP");
    assert.ok(await waitFor(() => sink.lines.some((l) => /cpu 3 .*declared dead/.test(l)), 30_000), sink.lines.join("\n"));
    // Continued while the run goes on: it learns it was declared dead and leaves, not as a success.
    cpus[3]!.proc.kill("SIGCONT");
    assert.equal(await exitOf(cpus[3]!.proc), 4, cpus[3]!.output());
    assert.match(cpus[3]!.output(), /shutdown before the end: declared dead/);
    assert.equal(await done, 4, sink.lines.join("\n"));
    const death = sink.lines.find((l) => /cpu 3 .*declared dead: silent for (\d+) ms/.test(l));
    assert.ok(death, sink.lines.join("\n"));
    assert.ok(Number(/silent for (\d+) ms/.exec(death)![1]) >= FLOOR_MS, death);
    assert.deepEqual(results!.degraded?.dead_cpus, [3]);
    const t = results!.totals;
    assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight + t.lost_on_crash, JSON.stringify(t));
    assert.ok(results!.checker.ok, results!.checker.violations.join("; "));
  } finally {
    for (const c of cpus) if (c.proc.pid && alive(c.proc.pid)) c.proc.kill("SIGKILL");
  }
});
