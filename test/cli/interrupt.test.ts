// A run cut short keeps what it ran: SIGINT or SIGTERM during a paced run, on either engine, writes
// the results so far (--json: valid JSON with `interrupted: true` and the signal), prints their
// summary and exits 130/143; a run that fails (every CPU process killed) writes them with
// `failure` and exits 1. The signal lands once the run has reached a checkpoint (seen on
// /control/status), never after a fixed time.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { alive, childPids, freePort, Running, waitFor } from "./spawn.ts";

const URL_LINE = /metrics and control API at (http:\/\/127\.0\.0\.1:\d+) /;
// 400 ms of virtual time at 0.05 virtual s per wall s: 8 s at the least; a checkpoint every 4 ms.
const PACED = ["--duration", "400ms", "--pace", "0.05", "--rate", "100000", "--metrics-port", "0"];

const tmp = mkdtempSync(join(tmpdir(), "softnet-interrupt-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Status {
  phase: string;
  virtual_ns?: number;
  virtual_ns_min?: number;
  checkpoints?: number;
}

/** Start a paced run and wait until the results so far hold something: a checkpoint reached. */
async function startPaced(engine: "processes" | "inprocess", json: string): Promise<Running> {
  const run = Running.start(["run", "--engine", engine, ...PACED, "--json", json]);
  const url = (await run.stderrMatch(URL_LINE, 60_000))[1]!;
  await waitFor(
    "a checkpoint reached",
    async () => {
      const s = (await (await fetch(`${url}/control/status`)).json()) as Status;
      // processes: a checkpoint every CPU reported (a consistent cut); in-process: any virtual time.
      const reached = engine === "processes" ? (s.checkpoints ?? 0) > 0 : (s.virtual_ns ?? 0) > 0;
      return s.phase === "running" && reached ? true : undefined;
    },
    60_000,
  );
  return run;
}

function checkPartial(json: string, signal: "SIGINT" | "SIGTERM", engine: string): RunResults {
  const r = JSON.parse(readFileSync(json, "utf8")) as RunResults;
  assert.equal(r.interrupted, true);
  assert.equal(r.signal, signal);
  assert.equal(r.engine, engine);
  assert.ok(r.virtual_ns > 0 && r.virtual_ns < 400_000_000, `stopped midway: ${r.virtual_ns} ns`);
  const t = r.totals;
  assert.ok(t.injected > 0, "packets ran");
  assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight, "the results so far balance (a consistent cut)");
  assert.equal(r.cpus.length, 4);
  assert.equal(r.liveness?.ok, true, "judged for liveness too");
  return r;
}

describe("interrupting a paced run keeps its results", { timeout: 180_000 }, () => {
  for (const [engine, signal, code] of [
    ["processes", "SIGINT", 130],
    ["inprocess", "SIGINT", 130],
    ["processes", "SIGTERM", 143],
    ["inprocess", "SIGTERM", 143],
  ] as const) {
    test(`${signal} (${engine}): valid JSON with interrupted: true, the summary so far, exit ${code}`, async () => {
      const json = join(tmp, `${engine}-${signal}.json`);
      const run = await startPaced(engine, json);
      try {
        const children = childPids(run.pid);
        run.kill(signal);
        assert.equal(await run.exited, code, run.stderr);
        checkPartial(json, signal, engine);
        assert.match(run.stdout, new RegExp(`^INTERRUPTED \\(${signal}\\) at \\S+ of virtual time: the results so far\\nprofile 6\\.6-patched · seed 1 · engine ${engine} `));
        assert.match(run.stdout, /\nchecker: OK/);
        assert.match(run.stderr, new RegExp(`softnet-emu: interrupted \\(${signal}\\): the run stopped, every process torn down\\n$`));
        await waitFor("no CPU process left", () => (children.every((p) => !alive(p)) ? true : undefined), 10_000);
      } finally {
        run.kill();
      }
    });
  }

  test("--json - : the JSON so far on stdout, nothing else there", async () => {
    const run = Running.start(["run", "--engine", "inprocess", ...PACED, "--json", "-"]);
    try {
      const url = (await run.stderrMatch(URL_LINE, 60_000))[1]!;
      await waitFor("virtual time moving", async () => (((await (await fetch(`${url}/control/status`)).json()) as Status).virtual_ns! > 0 ? true : undefined), 60_000);
      run.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr);
      const r = JSON.parse(run.stdout) as RunResults;
      assert.equal(r.interrupted, true);
      assert.equal(r.signal, "SIGINT");
    } finally {
      run.kill();
    }
  });

  test("a chaos run interrupted in its chaos phase: faults so far and both verdicts, not judged on a drain it never reached", async () => {
    const json = join(tmp, "chaos.json");
    const run = Running.start(["run", "--chaos-duration", "200ms", "--pace", "0.05", "--nemesis", "hotplug", "--metrics-port", "0", "--json", json]);
    try {
      const url = (await run.stderrMatch(URL_LINE, 60_000))[1]!;
      await waitFor("the chaos run going", async () => (((await (await fetch(`${url}/control/status`)).json()) as Status).virtual_ns! > 0 ? true : undefined), 60_000);
      run.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr);
      const r = JSON.parse(readFileSync(json, "utf8")) as RunResults;
      assert.deepEqual([r.interrupted, r.signal], [true, "SIGINT"]);
      assert.ok(r.virtual_ns < 200_000_000, "stopped in the chaos phase");
      assert.ok(r.faults!.every((f) => f.at_ns <= r.virtual_ns), "only the faults that happened");
      assert.equal(r.chaos?.drained_at_ns, null);
      assert.ok(r.checker.ok, r.checker.violations.join("; "));
      assert.equal(r.liveness?.ok, true);
    } finally {
      run.kill();
    }
  });

  test("the coordinator command: SIGTERM keeps the results so far too (JSON, summary, exit 143)", async () => {
    const dir = mkdtempSync(join(tmp, "coordinator-"));
    const json = join(dir, "r.json");
    const secret = ["--secret-file", join(dir, "run.secret")];
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const coordinator = Running.start(["coordinator", "--cpus", "2", "--rps-cpus", "3", ...PACED, "--bind", endpoint, "--json", json, ...secret]);
    const cpus: Running[] = [];
    try {
      const url = (await coordinator.stderrMatch(URL_LINE, 60_000))[1]!;
      await coordinator.stderrMatch(/waiting for 2 cpus at /, 60_000);
      cpus.push(Running.start(["cpu", "--coordinator", endpoint, ...secret]), Running.start(["cpu", "--coordinator", endpoint, ...secret]));
      await waitFor("a checkpoint every CPU reported", async () => ((((await (await fetch(`${url}/control/status`)).json()) as Status).checkpoints ?? 0) > 0 ? true : undefined), 60_000);
      coordinator.kill("SIGTERM");
      assert.equal(await coordinator.exited, 143, coordinator.stderr);
      const r = JSON.parse(readFileSync(json, "utf8")) as RunResults;
      assert.deepEqual([r.interrupted, r.signal, r.engine], [true, "SIGTERM", "processes"]);
      assert.ok(r.virtual_ns > 0 && r.virtual_ns < 400_000_000);
      assert.equal(r.totals.injected, r.totals.processed + r.totals.dropped + r.totals.queued + r.totals.in_flight);
      assert.equal(r.liveness?.ok, true);
      assert.match(coordinator.stdout, /^INTERRUPTED \(SIGTERM\) at \S+ of virtual time: the results so far\nprofile /);
    } finally {
      for (const p of [coordinator, ...cpus]) p.kill();
    }
  });

  test("a failed run (every CPU process killed) writes its results so far with `failure`, exit 1", async () => {
    const json = join(tmp, "failure.json");
    const run = await startPaced("processes", json);
    try {
      const children = childPids(run.pid);
      assert.ok(children.length >= 4, `the CPU processes: ${children.join(", ")}`);
      for (const pid of children) process.kill(pid, "SIGKILL");
      assert.equal(await run.exited, 1, run.stderr);
      const r = JSON.parse(readFileSync(json, "utf8")) as RunResults;
      assert.match(r.failure ?? "", /every cpu process died/);
      assert.equal(r.interrupted, undefined);
      assert.ok(r.virtual_ns > 0, "the results of the last checkpoint every CPU reported");
      assert.match(run.stdout, /^FAILED at \S+ of virtual time: .*every cpu process died.*; the results so far\n/);
      assert.match(run.stderr, /softnet-emu: error: the run failed: every cpu process died/);
    } finally {
      run.kill();
    }
  });
});
