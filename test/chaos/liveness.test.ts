// The liveness judge (chaos/liveness.ts): the same verdict however a run is paced or sampled (it
// looks at the default checkpoint schedule only), a diagnosis for each kind of stall, and the
// drain of a run whose load stops before its end.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, test } from "node:test";
import { diagnose, judged, LivenessJudge } from "../../chaos/liveness.ts";
import { loadScenario } from "../../config/scenario.ts";
import { resolveConfig } from "../../config/resolve.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { runInProcessLive, type LiveOptions } from "../../engine/live.ts";
import type { EmuConfig } from "../../model/config.ts";
import { Cpu } from "../../model/cpu.ts";
import type { CpuCounters, Stall } from "../../model/results.ts";

const STALL = join(import.meta.dirname, "../../examples/threaded-backlog-stall.yaml");
const stallCfg = (): EmuConfig => resolveConfig(loadScenario(STALL), {});

describe("one verdict per run, however it is driven", () => {
  test("paced (a finer check interval), sampled or plain: the same stalls, since and detected at the same times", async () => {
    const cfg = stallCfg();
    const plain = judged(cfg, {});
    const a = runInProcess(cfg, plain.opts);
    plain.judge.finish(a);
    // A clock that runs far ahead: the paced driver never waits, but checks every 0.5 ms (not 2 ms).
    let t = 0;
    const pacedOpts: LiveOptions = { pace: 0.01, nowMs: () => (t += 1e6), seriesIntervalNs: 300_000 };
    const paced = judged(cfg, pacedOpts);
    const b = await runInProcessLive(cfg, paced.opts);
    paced.judge.finish(b);
    assert.ok(b.checker.checkpoints! > a.checker.checkpoints!, `more checkpoints paced (${b.checker.checkpoints} vs ${a.checker.checkpoints})`);
    assert.equal(a.liveness!.ok, false);
    assert.deepEqual(b.liveness, a.liveness);
  });

  test("with patch 1 nothing stalls and the verdict is OK", () => {
    const cfg = resolveConfig(loadScenario(STALL), { profile: "6.6-patched-threads" });
    const { opts, judge } = judged(cfg, {});
    const r = runInProcess(cfg, opts);
    assert.deepEqual(judge.finish(r), { ok: true, stall_after_ns: 5_000_000, stalls: [], load_end_ns: null, drain_limit_ns: 20_000_000, drained_at_ns: null, violations: [] });
  });
});

/** Zero counters of CPU 1 of `cfg`, with `patch` applied. */
function counters(patch: Partial<CpuCounters>): CpuCounters {
  return { ...new Cpu(1, stallCfg()).counters(), ...patch };
}

const stall = (state: Stall["state"]): Stall => ({ cpu: 1, since_ns: 1_000_000, backlog_len: 7, detected_ns: 7_000_000, until_ns: null, state });
const busy = (b: Partial<CpuCounters["busy_ns"]>) => ({ hardirq: 0, softirq: 0, task: 0, idle_flush: 0, irqs_off: 0, stalled: 0, ...b });
const before = { atNs: 1_000_000, lost_wakeups: 0, busy: busy({}) };

describe("why a backlog stalled", () => {
  test("a lost wake-up, irqs off, not scheduled, a busy CPU, never polled", () => {
    assert.equal(diagnose(stall("scheduled"), counters({ lost_wakeups: 1 }), before).why, "lost_wakeup");
    assert.match(diagnose(stall("scheduled"), counters({ lost_wakeups: 1 }), before).reason, /backlog_napi\/1 was woken without SCHED_THREADED/);
    assert.equal(diagnose(stall("scheduled"), counters({ busy_ns: busy({ irqs_off: 5_000_000 }) }), before).why, "irqs_off");
    assert.equal(diagnose(stall("unscheduled"), counters({}), before).why, "unscheduled");
    const hog = diagnose(stall("scheduled"), counters({ busy_ns: busy({ hardirq: 5_800_000 }) }), before);
    assert.deepEqual([hog.why, /mostly hardirq/.test(hog.reason)], ["busy", true]);
    assert.equal(diagnose(stall("scheduled"), counters({ busy_ns: busy({ task: 1_000_000 }) }), before).why, "not_polled");
  });
});

describe("the drain after the load stops", () => {
  const cfg = { cpus: 1, duration_ns: 40_000_000, load: [{ end_ns: 10_000_000 }] } as unknown as EmuConfig;
  const at = (queued: number): CpuCounters[] => [counters({ cpu: 0, queued, input_qlen: 0, process_qlen: 0 })];
  const results = (queued: number) => ({ virtual_ns: 40_000_000, cpus: at(queued).map((c) => ({ ...c, backlog_len: 0 })), totals: { in_flight: 0 } }) as never;

  test("drained: the first checkpoint after the load stopped with nothing held", () => {
    const j = new LivenessJudge(cfg, { gridNs: 0 });
    j.observe(5_000_000, at(0)); // before the load stopped: not counted
    j.observe(12_000_000, at(3));
    j.observe(14_000_000, at(0));
    const l = j.finish(results(0));
    assert.deepEqual([l.ok, l.load_end_ns, l.drained_at_ns], [true, 10_000_000, 14_000_000]);
  });

  test("not drained within the drain limit: a violation naming the CPU and what it holds", () => {
    const j = new LivenessJudge(cfg, { gridNs: 0 });
    j.observe(20_000_000, at(5));
    const l = j.finish(results(5));
    assert.equal(l.ok, false);
    assert.match(l.violations[0]!, /^not drained: the load stopped at 10ms and 30ms later \(at the end, 40ms\) packets are still held \(queued: CPU 0 5\)$/);
  });

  test("a run that ends before the load stopped plus the drain limit is not judged", () => {
    const j = new LivenessJudge({ ...cfg, duration_ns: 25_000_000 }, { gridNs: 0 });
    const l = j.finish({ ...(results(5) as object), virtual_ns: 25_000_000 } as never);
    assert.deepEqual([l.ok, l.drained_at_ns], [true, null]);
  });
});
