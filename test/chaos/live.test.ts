// A chaos run through the live driver (engine/live.ts), as `softnet-emu run --nemesis` drives it:
// snapshots at every checkpoint while it runs, pacing, a signal that stops it — and results byte
// for byte those of the synchronous loop, the early stop once drained included.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planChaos, runChaosInProcess, runChaosLive, type ChaosPlan } from "../../chaos/runner.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import { config } from "../model/fixtures.ts";

const MIX = ["hotplug:interval=1ms,dwell=600us", "irq-off:interval=1ms,duration=300us", "burst:interval=2ms", "sysctl:interval=2ms,dwell=1ms,min=4,max=64"];

function plan(seed: number, mix = MIX): ChaosPlan {
  return planChaos(config({ seed, pps: 400_000, rpsCpus: [1, 2, 3], durationNs: 6_000_000 }), mix.map((k) => parseNemesis(k)));
}

const json = (x: unknown): string => JSON.stringify(x, null, 2);

describe("chaos runs on the live driver", () => {
  test("the same JSON as the synchronous loop, for several seeds, with and without a series", async () => {
    for (const seed of [1, 2, 3]) {
      const sync = runChaosInProcess(plan(seed));
      const live = await runChaosLive(plan(seed));
      assert.equal(json(live), json(sync), `seed ${seed}`);
      assert.ok(live.chaos!.drained_at_ns !== null && live.virtual_ns === live.chaos!.drained_at_ns, "stopped once drained");
    }
    const series = { seriesIntervalNs: 250_000 };
    assert.equal(json(await runChaosLive(plan(4), series)), json(runChaosInProcess(plan(4), series)));
  });

  test("paced: snapshots all along, the plan's checkpoints, the same results", async () => {
    const p = plan(5);
    const seen: number[] = [];
    const start = performance.now();
    const live = await runChaosLive(p, { pace: 0.2, onSnapshot: (_c, s) => seen.push(s.virtual_ns) });
    const wallMs = performance.now() - start;
    assert.equal(json(live), json(runChaosInProcess(plan(5))));
    assert.equal(seen.length, live.chaos!.checkpoints, "one snapshot per checker checkpoint");
    assert.equal(seen[0], p.checkIntervalNs, "pacing does not add checkpoints");
    assert.equal(seen.at(-1), live.virtual_ns);
    assert.ok(seen.every((t, i) => i === 0 || t > seen[i - 1]!));
    // 0.2 virtual s per wall s: each checkpoint but the last (the stop) waited for the paced clock.
    assert.ok(wallMs >= ((live.virtual_ns - p.checkIntervalNs) / 1e6) * 5 - 1, `${wallMs.toFixed(1)} ms of wall time for ${live.virtual_ns} ns`);
  });

  test("an aborted signal stops it at the next checkpoint and rejects with the reason", async () => {
    const controller = new AbortController();
    let snapshots = 0;
    const run = runChaosLive(plan(6), {
      signal: controller.signal,
      onSnapshot: () => {
        if (++snapshots === 3) controller.abort(new Error("stop here"));
      },
    });
    await assert.rejects(run, /stop here/);
    assert.equal(snapshots, 3);
  });
});
