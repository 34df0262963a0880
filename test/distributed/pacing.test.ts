// Smooth pacing (engine/paced-clock.ts): a paced run that falls behind the wall clock slips its
// clock and keeps the paced rate from where it stands, never bursting to catch up, and reports what
// it gave up as lag. The clock alone against a scripted stall, then the in-process live engine
// against a wall clock that jumps (a stall as the driver sees it), whose results stay the unpaced run's,
// and `softnet-emu run --pace` with one of its CPU processes stopped (SIGSTOP) for 1.5 s.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { LiveRun, runInProcessLive } from "../../engine/live.ts";
import { PACE_SLACK_MS, PacedClock } from "../../engine/paced-clock.ts";
import { ALL_CPUS, scenario } from "./helpers.ts";
import { childPids, freePort, Running, waitFor } from "../cli/spawn.ts";

/** A run driven like the coordinator's leases: every `stepMs` it reaches the clock's target, except while stalled. */
function drive(clock: PacedClock, stall: { fromMs: number; toMs: number }, endMs: number, stepMs = 10): { t: number; ns: number }[] {
  const out: { t: number; ns: number }[] = [];
  let at = 0;
  for (let t = 0; t <= endMs; t += stepMs) {
    const target = clock.targetNs(t, at);
    if (t < stall.fromMs || t >= stall.toMs) at = Math.max(at, target);
    out.push({ t, ns: at });
  }
  return out;
}

describe("the paced clock", () => {
  test("a run that keeps up follows the wall clock at the pace, with no lag", () => {
    const clock = new PacedClock(0.5, 0);
    const trace = drive(clock, { fromMs: Infinity, toMs: Infinity }, 2000);
    assert.equal(trace.at(-1)!.ns, 2000 * 0.5 * 1e6);
    assert.equal(clock.slippedNs, 0);
    assert.equal(clock.lagNs(2000, trace.at(-1)!.ns, 10e9), 0);
  });

  test("after a 1.5 s stall the run goes on at the pace from where it stood (no burst) and the lag keeps the 1.5 s", () => {
    const pace = 0.5;
    const clock = new PacedClock(pace, 0);
    const trace = drive(clock, { fromMs: 1000, toMs: 2500 }, 4000);
    // Never more than the pace allows over any stretch, plus at most the slack (jitter caught up).
    for (let i = 0; i < trace.length; i++)
      for (let j = i + 1; j < trace.length; j++) {
        const dv = trace[j]!.ns - trace[i]!.ns;
        const allowed = (trace[j]!.t - trace[i]!.t + PACE_SLACK_MS) * pace * 1e6;
        assert.ok(dv <= allowed, `${trace[i]!.t}→${trace[j]!.t} ms: ${dv} ns of virtual time, a burst (pace allows ${allowed})`);
      }
    // 1.5 s stalled, less what was within the slack when it resumed (caught up).
    const slipped = clock.slippedNs;
    assert.ok(slipped >= (1500 - PACE_SLACK_MS - 10) * pace * 1e6 && slipped <= 1500 * pace * 1e6, `slipped ${slipped} ns`);
    assert.equal(trace.at(-1)!.ns, 4000 * pace * 1e6 - slipped, "paced since, from where it stood");
    assert.equal(clock.lagNs(4000, trace.at(-1)!.ns, 10e9), slipped);
    // At the end of the run the lag is still what was given up.
    assert.equal(clock.lagNs(9000, 1e9, 1e9), slipped);
  });

  test("behind by less than the slack, the run catches up and nothing slips", () => {
    const clock = new PacedClock(1, 0);
    assert.equal(clock.targetNs(1000, 1000e6 - (PACE_SLACK_MS - 50) * 1e6), 1000e6);
    assert.equal(clock.slippedNs, 0);
    assert.ok(clock.aheadMs(1000, 1000e6 - (PACE_SLACK_MS - 50) * 1e6) < 0, "due: no sleep");
    // One more wall second without progress: now it slips.
    assert.equal(clock.targetNs(2000, 1000e6), 1000e6);
    assert.equal(clock.slippedNs, 1000e6);
    assert.equal(clock.aheadMs(2000, 1010e6), 10);
  });

  test("a pace ≤ 0 is refused", () => {
    assert.throws(() => new PacedClock(0, 0), RangeError);
  });
});

describe("the in-process live engine, paced", () => {
  test("a stall of 1.5 s (the wall clock jumps) is followed by paced steps, no burst; lag reported; results as unpaced", async () => {
    const pace = 0.02; // 1 ms of virtual time (a checkpoint) every 50 ms
    const cfg = scenario({ seed: 4, rate_pps: 200_000, rps_cpus: ALL_CPUS, duration_ns: 8_000_000 });
    let offset = 0;
    const now = (): number => performance.now() + offset;
    const seen: { wall: number; ns: number }[] = [];
    let run: LiveRun | undefined;
    const results = await runInProcessLive(cfg, {
      pace,
      nowMs: now,
      onStart: (r) => (run = r),
      onSnapshot: (_c, status) => {
        seen.push({ wall: now(), ns: status.virtual_ns });
        if (seen.length === 3) offset += 1500; // the process was stopped for 1.5 s here
      },
    });
    assert.ok(seen.length >= 8, `${seen.length} checkpoints`);
    // From the first checkpoint after the stall on, virtual time never runs ahead of the pace.
    const after = seen.slice(3);
    for (let i = 0; i < after.length; i++)
      for (let j = i + 1; j < after.length; j++) {
        const dv = after[j]!.ns - after[i]!.ns;
        const allowed = pace * 1e6 * (after[j]!.wall - after[i]!.wall + PACE_SLACK_MS);
        assert.ok(dv <= allowed, `checkpoints ${i + 3}→${j + 3}: ${dv} ns of virtual time in ${(after[j]!.wall - after[i]!.wall).toFixed(1)} ms of wall time (pace allows ${allowed.toFixed(0)})`);
      }
    const lag = run!.status().lag_ns!;
    assert.ok(lag >= (1500 - PACE_SLACK_MS) * pace * 1e6, `lag ${lag} ns after a 1.5 s stall`);
    assert.deepEqual(results, runInProcess(cfg));
  });
});

describe("the process engine, paced, with a CPU process stopped for 1.5 s", () => {
  test("afterwards the slowest CPU's virtual time keeps to the pace (no burst), and the lag keeps the stall", async () => {
    const pace = 0.004; // 4 virtual ms per wall second: a resumed CPU could catch up 6 ms in a blink
    const port = await freePort();
    const run = Running.start(["run", "--pace", String(pace), "--duration", "12ms", "--metrics-port", String(port)]);
    const url = `http://127.0.0.1:${port}/control/status`;
    const samples: { sent: number; got: number; ns: number; lag: number; phase: string }[] = [];
    const poll = async (): Promise<void> => {
      const sent = performance.now();
      const s = (await (await fetch(url)).json()) as { virtual_ns_min: number; lag_ns?: number; phase: string };
      samples.push({ sent, got: performance.now(), ns: s.virtual_ns_min, lag: s.lag_ns ?? 0, phase: s.phase });
    };
    try {
      // A third into the run, stop one CPU process (SIGSTOP: alive, silent, not advancing).
      await waitFor("the run a third in", async () => (await poll(), samples.at(-1)!.phase === "running" && samples.at(-1)!.ns >= 4_000_000 ? true : undefined), 60_000);
      const cpu = childPids(run.pid).find((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("cpu-node"));
      assert.ok(cpu !== undefined, "a CPU process of the run");
      process.kill(cpu, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 1500));
      // Where it stands just before it resumes: the baseline a burst would show against.
      await poll();
      const resumed = samples.at(-1)!.sent;
      process.kill(cpu, "SIGCONT");
      // Sample until the run is over.
      while (run.running) {
        try {
          await poll();
        } catch {
          break; // the server closed with the run
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(await run.exited, 0, run.stderr);
      const after = samples.filter((s) => s.sent >= resumed && s.phase === "running");
      assert.ok(after.length >= 5, `${after.length} samples after the stall`);
      // Over any stretch after it, no more virtual time than the pace allows: the wall time between
      // the two requests, the slack a late report may be caught up by, and a report's staleness.
      for (let i = 0; i < after.length; i++)
        for (let j = i + 1; j < after.length; j++) {
          const dv = after[j]!.ns - after[i]!.ns;
          const wallMs = after[j]!.got - after[i]!.sent;
          const allowed = pace * 1e6 * (wallMs + PACE_SLACK_MS + 200);
          assert.ok(dv <= allowed, `${dv} ns of virtual time in ${wallMs.toFixed(0)} ms of wall time after the stall: a burst (the pace allows ${allowed.toFixed(0)})`);
        }
      const lag = Math.max(...samples.map((s) => s.lag));
      assert.ok(lag >= 1000 * pace * 1e6, `lag ${lag} ns after a 1.5 s stall`);
    } finally {
      run.kill();
    }
  });
});
