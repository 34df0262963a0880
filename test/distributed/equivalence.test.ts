// The contract of the distributed engine (issue 3): for the same scenario and seed, one process per
// CPU over ZeroMQ gives exactly the results of the in-process engine — cpus, totals, softnet_stat.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import type { EmuConfig } from "../../model/config.ts";
import { ALL_CPUS, alive, assertEquivalent, logSink, scenario } from "./helpers.ts";

async function bothEngines(cfg: EmuConfig, seriesIntervalNs = 700_000): Promise<void> {
  const expected = runInProcess(cfg, { seriesIntervalNs });
  const sink = logSink();
  let pids: number[] = [];
  const got = await runProcesses(cfg, { log: sink.log, seriesIntervalNs, onRunning: (r) => (pids = r.children.map((c) => c.pid)) });
  assert.equal(got.engine, "processes");
  assertEquivalent(expected, got, cfg.seed);
  // Sampled at the same virtual times (every 0.7 ms and at the end), with the same counters.
  assert.deepEqual(got.series, expected.series);
  assert.ok(got.checker.ok, got.checker.violations.join("; "));
  assert.equal(got.degraded, undefined);
  assert.equal(pids.length, cfg.cpus);
  for (const pid of pids) assert.ok(!alive(pid), `cpu process ${pid} is still running after the run`);
}

test("hotplug under load: a CPU goes offline and comes back during the flood", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 7, rate_pps: 400_000, rps_cpus: ALL_CPUS, offline: [{ cpu: 2, at_ns: 2_000_000 }], online: [{ cpu: 2, at_ns: 4_000_000 }], duration_ns: 6_000_000 });
  await bothEngines(cfg);
});

test("hotplug storm: an offline/online pair every millisecond, the NIC's CPU among those that go", { timeout: 60_000 }, async () => {
  // Each CPU stays down 400 µs, longer than a busy CPU's offline transition can wait for its net_rx_action.
  const order = [1, 2, 0, 3, 2, 1, 0];
  const offline = order.map((cpu, i) => ({ cpu, at_ns: (i + 1) * 1_000_000 }));
  const online = offline.map(({ cpu, at_ns }) => ({ cpu, at_ns: at_ns + 400_000 }));
  const cfg = scenario({ seed: 5, rate_pps: 600_000, rps_cpus: ALL_CPUS, offline, online, duration_ns: 8_000_000 });
  const expected = runInProcess(cfg);
  assert.equal(expected.cpus.reduce((n, c) => n + c.hotplug_offline, 0), order.length, "every offline happened");
  await bothEngines(cfg);
});

test("PREEMPT_RT in IPI mode (rt-6.6) with RPS to idle CPUs, warnings included", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 3, profile: "rt-6.6", rps_cpus: [1, 2, 3], duration_ns: 10_000_000 });
  const expected = runInProcess(cfg);
  assert.ok(expected.cpus.some((c) => c.rt_flush_warnings > 0), "the scenario must exercise the RT warning");
  await bothEngines(cfg);
});

test("loopback sender on CPU 0 with RPS to every CPU", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 11, load: "loopback", rps_cpus: ALL_CPUS, duration_ns: 10_000_000 });
  await bothEngines(cfg);
});

test("loopback with backlog threads (6.6-patched-threads): wake-ups cross processes", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 11, load: "loopback", profile: "6.6-patched-threads", rps_cpus: ALL_CPUS, duration_ns: 10_000_000 });
  await bothEngines(cfg);
});

test("closed-loop sender, a receiving task on CPU 1 with socket contention, and stalls: socket records and stalls cross processes alike", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 13, load: "loopback", rate_max: true, rps_cpus: [1, 2, 3], duration_ns: 2_000_000 });
  cfg.receiver = { cpu: 1, rmem: { kind: "packets", limit: 64 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 1500 };
  cfg.stalls = { every_ns: 300_000, mean_ns: 100_000, max_ns: 1_000_000, cpus: [0, 1, 2, 3], in_softirq: true };
  const expected = runInProcess(cfg);
  assert.ok(expected.totals.socket!.delivered > 0 && expected.totals.socket!.rcvbuf_errors > 0, "the socket fills");
  assert.ok(expected.cpus.every((c) => c.busy_ns.stalled > 0), "every CPU stalls");
  await bothEngines(cfg);
});

test("four vCPUs on a host of two cores, with host work and a lock held while waiting: every CPU's demand crosses processes and the shares and spins agree", { timeout: 60_000 }, async () => {
  const cfg = scenario({ seed: 17, load: "loopback", rate_max: true, rps_cpus: [1, 2, 3], duration_ns: 12_000_000 });
  cfg.receiver = { cpu: 1, rmem: { kind: "packets", limit: 64 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 };
  cfg.host = { cores: 2, slice_ns: 2_000_000, busy_share: 0.05, wake_wait_ns: 1_000_000, slice_wait: 0.1, others: 0.5, lock_hold: 0.5 };
  const expected = runInProcess(cfg);
  assert.ok(expected.cpus.filter((c) => c.busy_ns.stalled > 0).length >= 2, "vCPUs wait for the host's cores");
  await bothEngines(cfg);
});
