// The in-process engine's live driver (engine/live.ts) steps in slices bounded by wall time, so
// signals and /control/stop are handled within a long step. Where a slice ends must change
// nothing: the results JSON of a sliced run is byte for byte that of runInProcess(), whatever the
// slice; a stop between two checkpoints ends the run where the CPUs stand, and checks it there.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { LiveRun, runInProcessLive } from "../../engine/live.ts";
import type { EmuConfig } from "../../model/config.ts";
import { ALL_CPUS, scenario } from "./helpers.ts";

const json = (r: unknown) => JSON.stringify(r, null, 2);

/** A wall clock that moves 20 ms every time it is read. */
function fastClock(): () => number {
  let t = 0;
  return () => (t += 20);
}

const SCENARIOS: [string, EmuConfig][] = [
  ["hotplug under load", scenario({ seed: 7, rate_pps: 400_000, rps_cpus: ALL_CPUS, offline: [{ cpu: 2, at_ns: 2_000_000 }], online: [{ cpu: 2, at_ns: 4_000_000 }], duration_ns: 6_000_000 })],
  ["rt-6.6 in IPI mode", scenario({ seed: 3, profile: "rt-6.6", rps_cpus: [1, 2, 3], duration_ns: 5_000_000 })],
  ["loopback with backlog threads", scenario({ seed: 11, load: "loopback", profile: "6.6-patched-threads", rps_cpus: ALL_CPUS, duration_ns: 5_000_000 })],
];

describe("slices of a step change no result", () => {
  for (const [name, cfg] of SCENARIOS) {
    test(`${name}: sliced at odd sizes = runInProcess, byte for byte`, async () => {
      const expected = json(runInProcess(cfg, { seriesIntervalNs: 700_000 }));
      // 1 µs, a prime number of ns, a third of a step, and the adaptive default.
      for (const sliceNs of [1_000, 7_919, 333_333, undefined]) {
        const got = json(await runInProcessLive(cfg, { seriesIntervalNs: 700_000, ...(sliceNs !== undefined ? { sliceNs } : {}) }));
        assert.equal(got, expected, `slice ${sliceNs ?? "adaptive"} ns`);
      }
    });
  }
});

describe("stopping and commanding between two checkpoints", () => {
  test("a stop lands where the CPUs stand; that point is the run's (checked) end", async () => {
    const cfg = scenario({ seed: 5, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 20_000_000 });
    let run: LiveRun | undefined;
    let stoppedAt = -1;
    let snapshots = 0;
    const results = await runInProcessLive(cfg, {
      // Slices of 37 µs within steps of 200 µs (1/100 of the run): stop after 3 snapshots, mid-step.
      sliceNs: 37_000,
      // A wall clock 20 ms on at every look: the driver yields after every slice.
      nowMs: fastClock(),
      onStart: (r) => (run = r),
      onSnapshot: () => {
        // Two macrotasks on: the driver has gone one slice past the checkpoint by then.
        if (++snapshots === 3) setImmediate(() => setImmediate(() => (stoppedAt = run!.stop())));
      },
    });
    assert.ok(stoppedAt > 3 * 200_000 && stoppedAt % 200_000 !== 0, `stopped at ${stoppedAt} ns, between two checkpoints`);
    assert.equal(results.virtual_ns, stoppedAt);
    assert.equal(results.checker.checkpoints, 4, "three checkpoints, then the end");
    assert.ok(results.checker.ok);
    // The same run to that end, all at once: the same counters.
    const replay = runInProcess({ ...cfg, duration_ns: stoppedAt });
    assert.deepEqual(results.cpus, replay.cpus);
    assert.deepEqual(results.totals, replay.totals);
  });

  test("a command between two checkpoints takes effect where the CPUs stand, and replays exactly", async () => {
    const cfg = scenario({ seed: 9, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 4_000_000 });
    let run: LiveRun | undefined;
    let atNs = -1;
    let snapshots = 0;
    const results = await runInProcessLive(cfg, {
      sliceNs: 13_000,
      nowMs: fastClock(),
      onStart: (r) => (run = r),
      onSnapshot: () => {
        if (++snapshots === 2) setImmediate(() => setImmediate(() => (atNs = run!.command({ kind: "offline", cpu: 1 }).at_ns)));
      },
    });
    assert.ok(atNs > 0 && atNs % 100_000 !== 0, `at ${atNs} ns`);
    assert.deepEqual(results.events, [{ at_ns: atNs, cpu: 1, action: "offline" }]);
    const replay = runInProcess({ ...cfg, events: [{ at_ns: atNs, cpu: 1, action: "offline" }] });
    assert.equal(json(results), json(replay));
  });
});
