// Faults of the CPU processes themselves (issue 3): a CPU killed or stopped mid-run is detected
// within a bounded time and surprise-removed; the run ends with results, what it held is counted
// as lost_on_crash, the books still balance, and no process is left behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runProcesses, type RunningRun } from "../../coordinator/run-processes.ts";
import { checkpointCount, defaultCheckIntervalNs } from "../../engine/checkpoints.ts";
import type { RunResults } from "../../model/results.ts";
import { ALL_CPUS, alive, logSink, scenario } from "./helpers.ts";

// Paced so that the run lasts about two wall seconds and the fault lands in the middle of it.
const cfg = scenario({ seed: 5, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 30_000_000 });
const PACE = 0.015;

function assertBalanced(r: RunResults): void {
  const t = r.totals;
  assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight + t.lost_on_crash, JSON.stringify(t));
  assert.ok(t.in_flight >= 0 && t.lost_on_crash >= 0, JSON.stringify(t));
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  // Checkpoints before the death are checked; those the dead CPU never reached are not, and say so.
  const u = r.checker.unchecked;
  assert.ok(u, "a death leaves checkpoints unchecked");
  assert.ok(r.checker.checkpoints! > 1, `checked ${r.checker.checkpoints} checkpoints before the death`);
  assert.equal(r.checker.checkpoints! + u.checkpoints, checkpointCount(defaultCheckIntervalNs(cfg.duration_ns), cfg.duration_ns));
  assert.ok(u.from_ns > 0 && u.from_ns <= cfg.duration_ns);
  assert.match(u.reason, /died .*no consistent cut/);
}

async function runWithFault(fault: (run: RunningRun) => void, cpuTimeoutMs: number) {
  const sink = logSink();
  let pids: number[] = [];
  const results = await runProcesses(cfg, {
    pace: PACE,
    heartbeatMs: 100,
    cpuTimeoutMs,
    log: sink.log,
    onRunning: (run) => {
      pids = run.children.map((c) => c.pid);
      setTimeout(() => fault(run), 400);
    },
  });
  return { results, pids, lines: sink.lines };
}

test("SIGKILL of a CPU mid-run: results written, lost_on_crash accounted, totals balance, no process left", { timeout: 60_000 }, async () => {
  let killedAt = 0;
  const { results, pids, lines } = await runWithFault((run) => {
    killedAt = run.status().virtual_ns_min;
    process.kill(run.children[2]!.pid, "SIGKILL");
  }, 2000);
  assert.ok(killedAt > 0 && killedAt < cfg.duration_ns, `the kill landed mid-run (at ${killedAt} ns)`);
  assert.deepEqual(results.degraded?.dead_cpus, [2]);
  assert.equal(results.cpus[2]!.online, false);
  assert.equal(results.virtual_ns, cfg.duration_ns, "the survivors ran to the end");
  assert.ok(results.totals.lost_on_crash > 0, "CPU 2 held packets of a 300 kpps flood when it died");
  assert.equal(results.totals.lost_on_crash, results.degraded?.lost_on_crash);
  assertBalanced(results);
  // The survivors went on processing after the crash.
  assert.ok(results.cpus[1]!.now_ns === cfg.duration_ns && results.cpus[1]!.processed > 0);
  assert.ok(lines.some((l) => /cpu 2 .*declared dead/.test(l)), "the coordinator logs the death");
  for (const pid of pids) assert.ok(!alive(pid), `process ${pid} left behind`);
});

test("SIGSTOP of a CPU: detected by the heartbeat timeout and surprise-removed", { timeout: 60_000 }, async () => {
  const timeoutMs = 1500;
  let stoppedAtMs = 0;
  const { results, pids, lines } = await runWithFault((run) => {
    stoppedAtMs = performance.now();
    process.kill(run.children[3]!.pid, "SIGSTOP");
  }, timeoutMs);
  const death = lines.find((l) => /cpu 3 .*declared dead: silent for (\d+) ms/.test(l));
  assert.ok(death, `no death line in:\n${lines.join("\n")}`);
  const silentMs = Number(/silent for (\d+) ms/.exec(death)![1]);
  assert.ok(silentMs >= timeoutMs && silentMs < timeoutMs + 1000, `detected after ${silentMs} ms of silence (timeout ${timeoutMs} ms)`);
  assert.ok(stoppedAtMs > 0);
  assert.deepEqual(results.degraded?.dead_cpus, [3]);
  assertBalanced(results);
  for (const pid of pids) assert.ok(!alive(pid), `process ${pid} left behind (a stopped one must be killed too)`);
});
