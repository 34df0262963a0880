// The stall detector against the kernel bug it exists for: backlog threads without patch 1 lose
// the wake-up of a sleeping backlog_napi/N thread, SCHED stays set, the backlog never runs
// (docs/DESIGN.md §1.5). Light load is what lets the threads fall asleep.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { planChaos, runChaosInProcess } from "../../chaos/runner.ts";
import { StallDetector } from "../../chaos/stall.ts";
import { parseNemesis } from "../../chaos/spec.ts";
import type { CpuCounters } from "../../model/results.ts";
import { config } from "../model/fixtures.ts";

const RPS = [1, 2, 3];
const light = (profile: string, nemeses: string[] = [], seed = 1) =>
  runChaosInProcess(
    planChaos(
      config({ profile, seed, rpsCpus: RPS, rate: { kind: "poisson", pps: 20_000 }, durationNs: 15_000_000 }),
      nemeses.map((n) => parseNemesis(n)),
    ),
  );

describe("stall detector", () => {
  test("threads-without-patch1 under light load: a stall on a CPU that received RPS traffic; 6.6-patched-threads, same seed: none", () => {
    for (const nemeses of [[], ["burst:interval=3ms", "sysctl:interval=3ms"]]) {
      const broken = light("threads-without-patch1", nemeses);
      const stalls = broken.checker.stalls!;
      assert.ok(stalls.length > 0, `a stall with --nemesis ${nemeses.join(",") || "(none)"}`);
      for (const s of stalls) {
        assert.ok(RPS.includes(s.cpu), `CPU ${s.cpu} is an RPS target`);
        assert.ok(s.backlog_len > 0);
        assert.equal(s.state, "scheduled", "SCHED set, nobody polls: the lost wake-up");
        assert.ok(s.detected_ns - s.since_ns >= 5_000_000);
        const row = broken.cpus[s.cpu]!;
        assert.ok(row.lost_wakeups > 0 && row.processed === 0, `CPU ${s.cpu} lost its wake-up and processed nothing`);
      }
      assert.equal(broken.checker.ok, false);
      assert.ok(broken.checker.violations.some((v) => /^stall: CPU [123] held \d+ packet\(s\) in its scheduled backlog/.test(v)));
      assert.ok(broken.checker.violations.some((v) => /^liveness: CPU [123] still holds \d+ packet\(s\)/.test(v)), "and it never drains");
      assert.equal(broken.chaos!.drained_at_ns, null);

      const fixed = light("6.6-patched-threads", nemeses);
      assert.deepEqual(fixed.checker.stalls, []);
      assert.ok(fixed.checker.ok, fixed.checker.violations.join("; "));
    }
  });

  test("an injected irqs-off section longer than stall-after is a fault of its own kind, not a stall", () => {
    const r = runChaosInProcess(
      planChaos(config({ profile: "6.6-patched", rpsCpus: RPS, pps: 200_000, durationNs: 20_000_000 }), [parseNemesis("irq-off:interval=8ms,duration=7ms,cpu_mask=2")]),
      { seriesIntervalNs: 500_000 },
    );
    const long = r.faults!.filter((f) => f.kind === "irq_off" && (f.params.duration_ns as number) > r.chaos!.stall_after_ns);
    assert.ok(long.length > 0, "a section longer than stall-after");
    assert.ok(r.cpus[1]!.busy_ns.irqs_off > 5_000_000);
    assert.ok(r.series!.cpus[1]!.backlog_len.some((n) => n > 50), "CPU 1's backlog piles up meanwhile");
    assert.deepEqual(r.checker.stalls, []);
    assert.ok(r.checker.ok, r.checker.violations.join("; "));
  });

  test("offline CPUs, empty backlogs and progress reset the clock; --stall-after sets the threshold", () => {
    const row = (over: Partial<CpuCounters>): CpuCounters => ({ cpu: 0, online: true, processed: 5, input_qlen: 3, process_qlen: 0, backlog_scheduled: true, ...over }) as CpuCounters;
    const d = new StallDetector(1, 2_000, [{ cpu: 0, from: 10_000, to: 13_000 }]);
    d.observe(row({}), 1_000);
    d.observe(row({ online: false }), 2_000);
    d.observe(row({}), 3_000);
    d.observe(row({ input_qlen: 0 }), 4_000);
    d.observe(row({}), 5_000);
    d.observe(row({ processed: 6 }), 6_000);
    d.observe(row({ processed: 6 }), 7_000);
    assert.equal(d.stalls.length, 0);
    d.observe(row({ processed: 6, input_qlen: 9 }), 8_000);
    assert.deepEqual(d.stalls, [{ cpu: 0, since_ns: 6_000, backlog_len: 9, detected_ns: 8_000, until_ns: null, state: "scheduled" }]);
    d.observe(row({ processed: 7 }), 9_000);
    assert.equal(d.stalls[0]!.until_ns, 9_000);
    // Inside an excused window [10 µs, 13 µs) nothing counts; the clock restarts at its end.
    for (const at of [10_000, 12_000, 14_000]) d.observe(row({ processed: 7 }), at);
    assert.equal(d.stalls.length, 1);
    d.observe(row({ processed: 7, backlog_scheduled: false }), 15_000);
    assert.deepEqual(d.stalls[1], { cpu: 0, since_ns: 13_000, backlog_len: 3, detected_ns: 15_000, until_ns: null, state: "unscheduled" });
  });
});
