// Conservation at every checkpoint in both engines: the process engine checks the same schedule as
// the in-process one (every 1/100 of the run, at least 100 µs, and the end) on consistent cuts of
// the CPUs' own reports, and says which checkpoints a crashed CPU left unchecked.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CheckpointCollector } from "../../coordinator/checkpoints.ts";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { conservationViolation, totalsOf } from "../../engine/aggregate.ts";
import { checkpointCount, defaultCheckIntervalNs } from "../../engine/checkpoints.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import type { EmuConfig } from "../../model/config.ts";
import type { CpuCounters } from "../../model/results.ts";
import { ALL_CPUS, assertEquivalent, logSink, scenario } from "./helpers.ts";

async function checkedInBoth(cfg: EmuConfig, seriesIntervalNs?: number): Promise<void> {
  const opts = seriesIntervalNs ? { seriesIntervalNs } : {};
  const expected = runInProcess(cfg, opts);
  const got = await runProcesses(cfg, { log: logSink().log, ...opts });
  assertEquivalent(expected, got, cfg.seed);
  const count = checkpointCount(defaultCheckIntervalNs(cfg.duration_ns), cfg.duration_ns);
  assert.ok(count > 1);
  for (const r of [expected, got]) {
    assert.ok(r.checker.ok, `${r.engine}: ${r.checker.violations.join("; ")}`);
    assert.equal(r.checker.checkpoints, count, `${r.engine}: every checkpoint of the schedule is checked`);
    assert.equal(r.checker.unchecked, undefined, r.engine);
  }
  assert.deepEqual(got.checker, expected.checker);
}

test("a normal run: both engines check conservation at all 100 checkpoints", { timeout: 60_000 }, async () => {
  await checkedInBoth(scenario({ seed: 2, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 10_000_000 }));
});

test("a hotplug run with series: checkpoints between and on the samples, all checked in both engines", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 7, rate_pps: 400_000, rps_cpus: ALL_CPUS, offline: [{ cpu: 2, at_ns: 2_000_000 }], online: [{ cpu: 2, at_ns: 4_000_000 }], duration_ns: 6_000_000 });
  await checkedInBoth(cfg, 300_000);
});

/** Every CPU's counters at every checkpoint of an in-process run (consistent cuts). */
function cuts(cfg: EmuConfig, checkIntervalNs: number): { atNs: number; counters: CpuCounters[] }[] {
  const out: { atNs: number; counters: CpuCounters[] }[] = [];
  runInProcess(cfg, { checkIntervalNs, onCheckpoint: (atNs, counters) => void out.push({ atNs, counters: structuredClone([...counters]) }) });
  return out;
}

test("the collector: CPUs reporting out of step, a broken cut named as in-process, a dead CPU's checkpoints left unchecked", () => {
  const cfg = scenario({ seed: 4, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 2_000_000 });
  const every = 250_000;
  const all = cuts(cfg, every);
  assert.equal(all.length, checkpointCount(every, cfg.duration_ns));
  // A packet injected at 1 ms that nothing accounts for.
  const broken = all.find((c) => c.atNs === 1_000_000)!;
  broken.counters[1]!.injected++;
  const want = conservationViolation(totalsOf(broken.counters, 0), broken.atNs);
  assert.ok(want);

  // CPU 3 runs a whole run ahead of CPU 0; checks still complete in time order.
  const c = new CheckpointCollector(4, every);
  for (const cpu of [3, 1, 2, 0]) for (const cut of all) c.add(cut.atNs, cpu, cut.counters[cpu]!);
  assert.equal(c.checked, all.length);
  assert.deepEqual(c.violations, [want]);
  assert.equal(c.unchecked(cfg.duration_ns), undefined);

  // CPU 2 dies after reporting 0.75 ms: later cuts cannot be formed.
  const d = new CheckpointCollector(4, every);
  for (const cut of all.slice(0, 3)) for (const cpu of ALL_CPUS) d.add(cut.atNs, cpu, cut.counters[cpu]!);
  for (const cpu of [0, 1, 3]) d.add(all[3]!.atNs, cpu, all[3]!.counters[cpu]!);
  d.died(2);
  for (const cut of all.slice(4)) for (const cpu of [0, 1, 3]) d.add(cut.atNs, cpu, cut.counters[cpu]!);
  assert.equal(d.checked, 3);
  const u = d.unchecked(cfg.duration_ns)!;
  assert.equal(u.checkpoints, all.length - 3);
  assert.equal(u.from_ns, 1_000_000);
  assert.match(u.reason, /CPU process 2 died \(cpu 2 reported up to 750000 ns\).*The end is checked with lost_on_crash/);
});
