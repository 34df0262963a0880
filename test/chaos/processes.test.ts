// kill and pause on the distributed engine: real CPU processes get SIGKILL / SIGSTOP+SIGCONT once
// the run reaches the fault's virtual time; the coordinator's crash policy accounts for the dead
// CPU (lost_on_crash), and a pause shorter than the CPU timeout changes nothing at all.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runChaosProcesses } from "../../chaos/processes.ts";
import { planChaos, runChaosInProcess } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import type { RunResults } from "../../model/results.ts";
import { config } from "../model/fixtures.ts";

// Long enough that the killed CPU, at most a lease span (2 ms) ahead of the slowest, is still running.
const cfg = config({ pps: 50_000, rpsCpus: [1, 2, 3], durationNs: 30_000_000 });
const plan = (nemeses: string[]) => planChaos(cfg, nemeses.map((n) => parseNemesis(n)), { engine: "processes", drainLimitNs: 5_000_000 });
const quiet = { log: () => {} };

describe("process faults (--engine processes)", { timeout: 120_000 }, () => {
  test("a killed CPU is accounted as lost_on_crash, the checker still holds; a short pause leaves the run as it was", async () => {
    const r = (await runChaosProcesses(plan(["pause:at=2ms,cpu=2,wall=200ms", "kill:at=5ms,cpu=3"]), quiet)) as RunResults & {
      degraded?: { dead_cpus: number[]; lost_on_crash: number };
    };
    const kill = r.faults!.find((f) => f.kind === "kill")!;
    const pause = r.faults!.find((f) => f.kind === "pause")!;
    assert.ok((kill.params.hit_ns as number) >= 5_000_000 && (kill.params.hit_ns as number) < 10_000_000, `kill hit at ${kill.params.hit_ns}`);
    assert.ok((pause.params.hit_ns as number) >= 2_000_000, `pause hit at ${pause.params.hit_ns}`);
    assert.deepEqual(r.degraded?.dead_cpus, [3]);
    const t = r.totals;
    assert.equal(t.injected, t.processed + t.dropped + t.lost_on_crash, "every packet processed, dropped or lost with the crashed CPU");
    assert.ok(r.checker.ok, r.checker.violations.join("; "));
    assert.deepEqual(r.checker.stalls, [], "a dead CPU is not a stalled one");

    // The same run with the pause alone: bit for bit the in-process result (a pause is only wall time).
    const paused = await runChaosProcesses(plan(["pause:at=2ms,cpu=2,wall=200ms"]), quiet);
    const inprocess = runChaosInProcess(planChaos(cfg, [], { drainLimitNs: 5_000_000 }));
    assert.deepEqual(paused.totals, inprocess.totals);
    assert.deepEqual(paused.cpus.map((c) => c.processed), inprocess.cpus.map((c) => c.processed));
  });
});
