// Scenario files and flags → EmuConfig: defaults, overrides, and one-line errors that name the
// file, the field and the problem.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { UsageError } from "../../config/errors.ts";
import { loadScenario, MAX_SCENARIO_BYTES, parseScenario } from "../../config/scenario.ts";
import { resolveConfig, type RunFlags } from "../../config/resolve.ts";
import { DEFAULT_COSTS, DEFAULT_SYSCTLS, exactWindowNs } from "../../model/defaults.ts";
import type { EmuConfig } from "../../model/config.ts";

const FILE = "examples/x.yaml";

function resolve(yaml: string | undefined, flags: RunFlags = {}): EmuConfig {
  return resolveConfig(yaml === undefined ? undefined : parseScenario(yaml, FILE), flags);
}

/** The error of resolving `yaml`: one line, a UsageError. */
function errorOf(yaml: string | undefined, flags: RunFlags = {}): string {
  try {
    resolve(yaml, flags);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${(err as Error).stack}`);
    assert.ok(!err.message.includes("\n"), "one line");
    return err.message;
  }
  assert.fail("expected an error");
}

const NIC = "queues:\n  - irq_affinity: [0]\n    rps_cpus: e\n";

describe("the default scenario", () => {
  test("4 CPUs, 6.6-patched, seed 1, 50ms, exact window, a NIC queue on CPU 0 at 200 kpps, rps_cpus=e", () => {
    const cfg = resolve(undefined);
    assert.equal(cfg.cpus, 4);
    assert.equal(cfg.profile.name, "6.6-patched");
    assert.equal(cfg.seed, 1);
    assert.equal(cfg.duration_ns, 50_000_000);
    assert.equal(cfg.window_ns, exactWindowNs(DEFAULT_COSTS));
    assert.deepEqual(cfg.sysctls, DEFAULT_SYSCTLS);
    assert.deepEqual(cfg.queues, [{ id: 0, irq_affinity: [0], ring_size: 1024, rx_usecs: 0, rx_frames: 0, rps_cpus: [1, 2, 3], rps_flow_cnt: 0 }]);
    assert.deepEqual(cfg.senders, []);
    assert.deepEqual(cfg.load, [
      {
        source: { kind: "nic", queue: 0 },
        start_ns: 0,
        end_ns: 50_000_000,
        rate: { kind: "constant", pps: 200_000 },
        flows: 64,
        popularity: { kind: "uniform" },
        packet_bytes: 64,
      },
    ]);
    assert.deepEqual(cfg.events, []);
    assert.equal(cfg.softnet_stat_columns, 13);
  });

  test("an empty file is an error; {} is the default scenario", () => {
    for (const empty of ["", "\n\n", "# only a comment\n"])
      assert.equal(errorOf(empty), "examples/x.yaml: the scenario is empty: write at least one field (e.g. duration: 1s), or {} for all defaults");
    assert.deepEqual(resolve("{}\n"), resolve(undefined));
  });

  test("RPS goes to every CPU but CPU 0, and is off with one CPU", () => {
    assert.deepEqual(resolve(undefined, { cpus: 8 }).queues[0]?.rps_cpus, [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(resolve(undefined, { cpus: 1 }).queues[0]?.rps_cpus, []);
  });

  test("configs do not share arrays with the defaults", () => {
    const a = resolve(undefined);
    a.sysctls.flow_limit_cpu_bitmap.push(1);
    assert.deepEqual(resolve(undefined).sysctls.flow_limit_cpu_bitmap, []);
  });
});

describe("flags override the file", () => {
  const file = `cpus: 8\nseed: 5\nduration: 10ms\nprofile: rt-6.6\n${NIC}load:\n  - {source: nic:0, rate: {kind: poisson, pps: 1000}, flows: 3}\n  - {source: nic:0, start: 5ms, flows: 4}\n`;

  test("scalars", () => {
    const cfg = resolve(file, { cpus: 4, seed: 9, duration_ns: 20_000_000, profile: "6.6", window_ns: 1000 });
    assert.deepEqual([cfg.cpus, cfg.seed, cfg.duration_ns, cfg.profile.name, cfg.window_ns], [4, 9, 20_000_000, "6.6", 1000]);
  });

  test("--rate and --flows apply to every phase, keeping each phase's kind", () => {
    const cfg = resolve(file, { rate_pps: 5, flows: 7 });
    assert.deepEqual(cfg.load.map((p) => [p.rate, p.flows]), [[{ kind: "poisson", pps: 5 }, 7], [{ kind: "constant", pps: 5 }, 7]]);
  });

  test("--rps-cpus applies to every queue and sender; 0 turns RPS off", () => {
    const two = "queues: [{irq_affinity: 1}, {irq_affinity: 2, rps_cpus: 4}]\nsenders: [{cpu: 1}]\n";
    const cfg = resolve(two, { rps_cpus: [0, 3] });
    assert.deepEqual([...cfg.queues.map((q) => q.rps_cpus), ...cfg.senders.map((s) => s.rps_cpus)], [[0, 3], [0, 3], [0, 3]]);
    assert.deepEqual(resolve(undefined, { rps_cpus: [] }).queues[0]?.rps_cpus, []);
  });

  test("receiver: rmem in bytes (default rmem_default), KiB, MiB or packets; its CPU may not go offline by flag either", () => {
    assert.equal(resolve(undefined).receiver, undefined);
    assert.deepEqual(resolve("receiver: {cpu: 1}\n").receiver, { cpu: 1, rmem: { kind: "bytes", limit: 212_992 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 });
    assert.deepEqual(resolve("receiver: {cpu: 1, rmem: 208KiB}\n").receiver?.rmem, { kind: "bytes", limit: 212_992 });
    assert.deepEqual(resolve("receiver: {cpu: 1, rmem: 256 packets, per_packet_ns: 700}\n").receiver, { cpu: 1, rmem: { kind: "packets", limit: 256 }, per_packet_ns: 700, enqueue_ns: 200, contention_ns: 0 });
    assert.equal(resolve("receiver: {cpu: 1, contention_ns: 4500}\n").receiver?.contention_ns, 4500);
    assert.match(errorOf("receiver: {cpu: 1, contention_ns: -5}\n"), /receiver\.contention_ns/);
    assert.match(errorOf("receiver: {cpu: 3}\n", { offline: [{ cpu: 3, at_ns: 2e6 }] }), /receiver\.cpu: CPU 3 goes offline at 2ms \(--offline 3@2ms\)/);
  });

  test("--stalls and --receiver replace the file's (off: none)", () => {
    const file = "stalls: {every: 20ms, mean: 2ms}\nreceiver: {cpu: 1}\n";
    const stalls = { every: 5e6, mean: 1e6, cpus: [2] };
    assert.deepEqual(resolve(file, { stalls }).stalls, { every_ns: 5e6, mean_ns: 1e6, max_ns: 10e6, cpus: [2], in_softirq: true });
    assert.equal(resolve(file, { stalls: null }).stalls, undefined);
    assert.equal(resolve(file, { receiver: null }).receiver, undefined);
    assert.equal(resolve(undefined, { receiver: { cpu: 3 } }).receiver?.cpu, 3);
  });

  test("--host replaces the file's host (off: none), and is checked like it", () => {
    const file = "host: {cores: 2, slice: 6ms}\n";
    assert.deepEqual(resolve(file, { host: { cores: 1, slice: 4e6 } }).host, { cores: 1, slice_ns: 4e6, busy_share: 0.05, wake_wait_ns: 1e6, slice_wait: 0, others: 0, lock_hold: 0 });
    assert.equal(resolve(file, { host: null }).host, undefined);
    assert.equal(errorOf(undefined, { host: { cores: 2, slice: 1000 } }), "--host: slice: 1us is below twice the window (2us): every CPU's word for a slice must reach the others within half a slice");
    assert.match(errorOf("stalls: {every: 10ms, mean: 1ms}\n", { host: { cores: 2, slice: 6e6 } }), /^--host: cannot be combined with stalls: /);
    assert.equal(resolve("stalls: {every: 10ms, mean: 1ms}\n", { host: { cores: 2, slice: 6e6 }, stalls: null }).host?.cores, 2);
  });

  test("host: busy share 5 %, a waking vCPU waits up to the host's wake-up granularity (1 ms × (1 + log2 cores))", () => {
    assert.equal(resolve(undefined).host, undefined);
    assert.deepEqual(resolve("host: {cores: 2, slice: 6ms}\n").host, { cores: 2, slice_ns: 6e6, busy_share: 0.05, wake_wait_ns: 2e6, slice_wait: 0, others: 0, lock_hold: 0 });
    assert.deepEqual(resolve("host: {cores: 1, slice: 4ms, busy_share: 0.2, wake_wait: 0ms}\n").host, { cores: 1, slice_ns: 4e6, busy_share: 0.2, wake_wait_ns: 0, slice_wait: 0, others: 0, lock_hold: 0 });
    assert.equal(resolve("host: {cores: 16, slice: 6ms}\n").host?.wake_wait_ns, 4e6);
  });

  test("stalls: every CPU, inside softirq too, max 10 x the mean unless given; a mask or a list of CPUs", () => {
    assert.equal(resolve(undefined).stalls, undefined);
    assert.deepEqual(resolve("stalls: {every: 20ms, mean: 2ms}\n").stalls, { every_ns: 20e6, mean_ns: 2e6, max_ns: 20e6, cpus: [0, 1, 2, 3], in_softirq: true });
    assert.deepEqual(resolve("stalls: {every: 20ms, mean: 2ms, max: 5ms, cpus: e, in_softirq: false}\n").stalls, { every_ns: 20e6, mean_ns: 2e6, max_ns: 5e6, cpus: [1, 2, 3], in_softirq: false });
    assert.deepEqual(resolve("stalls: {every: 20ms, mean: 2ms, cpus: [2, 0]}\n").stalls?.cpus, [0, 2]);
  });

  test("rate: max is a closed loop; --rate max makes one, a numeric --rate paces it again; catch_up is kept", () => {
    const file = "senders: [{cpu: 0}]\nload:\n  - {source: loopback, rate: max}\n  - {source: loopback, start: 5ms, rate: {pps: 1000}, catch_up: true}\n";
    assert.deepEqual(resolve(file).load.map((p) => [p.rate, p.catch_up]), [[{ kind: "max" }, undefined], [{ kind: "constant", pps: 1000 }, true]]);
    assert.deepEqual(resolve(file, { rate_max: true }).load.map((p) => p.rate), [{ kind: "max" }, { kind: "max" }]);
    assert.deepEqual(resolve(file, { rate_pps: 5 }).load.map((p) => p.rate), [{ kind: "constant", pps: 5 }, { kind: "constant", pps: 5 }]);
    assert.deepEqual(resolve(undefined, { load: "loopback", rate_max: true }).load[0]?.rate, { kind: "max" });
  });

  test("--load nic replaces the file's topology with one RX queue (IRQ on CPU 0, ring 1024)", () => {
    const cfg = resolve(`senders: [{cpu: 2}]\nload: [{source: loopback}]\n`, { load: "nic", rate_pps: 1000 });
    assert.deepEqual(cfg.senders, []);
    assert.deepEqual(cfg.queues.map((q) => [q.id, q.irq_affinity, q.ring_size]), [[0, [0], 1024]]);
    assert.deepEqual(cfg.load.map((p) => [p.source, p.rate.pps]), [[{ kind: "nic", queue: 0 }, 1000]]);
  });

  test("--load loopback: one sender on CPU 0 and a phase on it", () => {
    const cfg = resolve(undefined, { load: "loopback" });
    assert.deepEqual(cfg.queues, []);
    assert.deepEqual(cfg.senders, [{ id: 0, cpu: 0, rps_cpus: [1, 2, 3], rps_flow_cnt: 0 }]);
    assert.deepEqual(cfg.load.map((p) => p.source), [{ kind: "loopback", sender: 0 }]);
  });

  test("--sysctl overrides the file's sysctls one by one", () => {
    const cfg = resolve("sysctls:\n  net.core.netdev_max_backlog: 32\n  net.core.netdev_budget: 8\n", {
      sysctls: [{ name: "net.core.netdev_budget", patch: { netdev_budget: 16 } }],
    });
    assert.equal(cfg.sysctls.netdev_max_backlog, 32);
    assert.equal(cfg.sysctls.netdev_budget, 16);
  });

  test("--offline/--online replace the file's events, in time order", () => {
    const cfg = resolve("events: [{at: 1ms, offline: 3}]\n", {
      offline: [{ cpu: 2, at_ns: 10_000_000 }],
      online: [{ cpu: 2, at_ns: 20_000_000 }],
    });
    assert.deepEqual(cfg.events, [
      { at_ns: 10_000_000, cpu: 2, action: "offline" },
      { at_ns: 20_000_000, cpu: 2, action: "online" },
    ]);
  });

  test("a shorter --duration cuts load phases at the end of the run", () => {
    const cfg = resolve(`${NIC}load: [{source: nic, start: 1ms, end: 40ms}]\n`, { duration_ns: 5_000_000 });
    assert.deepEqual([cfg.load[0]?.start_ns, cfg.load[0]?.end_ns], [1_000_000, 5_000_000]);
  });
});

describe("scenario fields", () => {
  test("durations need a unit, as on the command line", () => {
    const cfg = resolve("duration: 2.5ms\nwindow: 500ns\n");
    assert.deepEqual([cfg.duration_ns, cfg.window_ns], [2_500_000, 500]);
    // A bare number used to mean nanoseconds: `duration: 5` ran for 5 ns.
    assert.throws(() => resolve("duration: 5\n"), /: examples\/x\.yaml: duration: 5 has no unit: write a duration such as 5ms, 5s or 5ns \(line 1\)$/);
    assert.throws(() => resolve("events: [{at: 0, offline: 1}]\n"), /events\[0\]\.at: 0 has no unit/);
    assert.throws(() => resolve("senders: [{cpu: 0}]\nload: [{source: loopback, start: 1.5}]\n"), /load\[0\]\.start: 1\.5 has no unit/);
  });

  test("masks are hex even when YAML reads a number: rps_cpus: 10 is CPU 4", () => {
    const cfg = resolve("cpus: 8\nqueues: [{irq_affinity: 11, rps_cpus: 10}, {irq_affinity: 0x3, rps_cpus: 0x10}]\n");
    assert.deepEqual(cfg.queues.map((q) => [q.irq_affinity, q.rps_cpus]), [[[0, 4], [4]], [[0, 1], [4]]]);
  });

  test("profile: 6.6 is a name, not a number", () => {
    assert.equal(resolve("profile: 6.6\n").profile.name, "6.6");
  });

  test("profile switches override the preset and show in its name", () => {
    const p = resolve("profile: {name: 6.6-patched-threads, threaded_wakeup: conditional}\n").profile;
    assert.equal(p.threaded_wakeup, "conditional");
    assert.equal(p.backlog_threads, true);
    assert.equal(p.name, "6.6-patched-threads+threaded_wakeup=conditional");
  });

  test("boot: thread_backlog_napi turns backlog threads on", () => {
    const p = resolve("boot: [thread_backlog_napi]\n").profile;
    assert.equal(p.backlog_threads, true);
  });

  test("rates, popularity and events", () => {
    const cfg = resolve(
      `${NIC}load:\n  - {source: nic:0, rate: {kind: onoff, pps: 1e6, on: 1ms, off: 2ms}, popularity: {kind: zipf, s: 1.2}, packet_bytes: 1500}\n` +
        "events:\n  - {at: 20ms, online: 1}\n  - {at: 10ms, offline: 1}\n",
    );
    assert.deepEqual(cfg.load[0]?.rate, { kind: "onoff", pps: 1e6, on_ns: 1_000_000, off_ns: 2_000_000 });
    assert.deepEqual(cfg.load[0]?.popularity, { kind: "zipf", s: 1.2 });
    assert.equal(cfg.load[0]?.packet_bytes, 1500);
    assert.deepEqual(cfg.events.map((e) => e.action), ["offline", "online"]);
  });

  test("costs are partial; the window follows them", () => {
    const cfg = resolve("costs:\n  rps_latency_ns: 1000\n  ipi_latency_ns: 1500\n  wakeup_latency_ns: 1500\n");
    assert.equal(cfg.costs.rps_latency_ns, 1000);
    assert.equal(cfg.costs.process_per_packet_ns, DEFAULT_COSTS.process_per_packet_ns);
    assert.equal(cfg.window_ns, 1000);
  });

  test("rps_flow_cnt is rounded up to a power of two, as sysfs does", () => {
    assert.equal(resolve("queues: [{irq_affinity: 1, rps_flow_cnt: 100}]\n").queues[0]?.rps_flow_cnt, 128);
  });
});

describe("bad scenario files: one line naming the file, the field and the problem", () => {
  const cases: [string, string, RegExp][] = [
    ["malformed YAML", "cpus: [4\n", /^examples\/x\.yaml:\d+:\d+: malformed YAML: /],
    ["malformed YAML (duplicate key)", "cpus: 4\ncpus: 5\n", /^examples\/x\.yaml:2:1: malformed YAML: Map keys must be unique/],
    ["not a mapping", "- 4\n", /^examples\/x\.yaml: expected a mapping, got a list/],
    ["unknown key", "cpus: 4\ncpu_count: 4\n", /^examples\/x\.yaml: unknown key 'cpu_count' \(known: cpus, seed, duration/],
    ["receiver on a CPU that does not exist", "receiver: {cpu: 6}\n", /^examples\/x\.yaml: receiver\.cpu: CPU 6 does not exist: the host has 4 CPUs/],
    ["receiver on a CPU that goes offline", "receiver: {cpu: 2}\nevents: [{at: 1ms, offline: 2}]\n", /^examples\/x\.yaml: receiver\.cpu: CPU 2 goes offline at 1ms \(events\): the receiving task is pinned there/],
    ["receiver: a bad rmem", "receiver: {cpu: 1, rmem: lots}\n", /^examples\/x\.yaml: receiver\.rmem: expected bytes \(212992, 208KiB, 1MiB\) or packets \(256 packets\), got 'lots'/],
    ["receiver: no cpu", "receiver: {rmem: 1000}\n", /^examples\/x\.yaml: receiver\.cpu: expected a whole number/],
    ["stalls: max below the mean", "stalls: {every: 10ms, mean: 2ms, max: 1ms}\n", /^examples\/x\.yaml: stalls\.max: 1ms is below the mean \(2ms\)/],
    ["stalls: a CPU out of range", "stalls: {every: 10ms, mean: 2ms, cpus: [7]}\n", /^examples\/x\.yaml: stalls\.cpus: CPU 7 is out of range/],
    ["stalls: no mean", "stalls: {every: 10ms}\n", /^examples\/x\.yaml: stalls\.mean: expected a duration/],
    ["stalls: every 0", "stalls: {every: 0ms, mean: 1ms}\n", /^examples\/x\.yaml: stalls\.every: must be > 0/],
    ["stalls: unknown key", "stalls: {every: 10ms, mean: 1ms, often: 3}\n", /^examples\/x\.yaml: stalls: unknown key 'often' \(known: every, mean, max, cpus, in_softirq\)/],
    ["host: no cores", "host: {slice: 6ms}\n", /^examples\/x\.yaml: host\.cores: expected a whole number/],
    ["host: 0 cores", "host: {cores: 0, slice: 6ms}\n", /^examples\/x\.yaml: host\.cores: must be >= 1/],
    ["host: a busy share above 1", "host: {cores: 2, slice: 6ms, busy_share: 2}\n", /^examples\/x\.yaml: host\.busy_share: must be from 0 to 1, got 2/],
    ["host: a slice under twice the window", "window: 1ms\nhost: {cores: 2, slice: 1500us}\n", /^examples\/x\.yaml: host\.slice: 1\.5ms is below twice the window \(1ms\)/],
    ["host with stalls", "stalls: {every: 10ms, mean: 1ms}\nhost: {cores: 2, slice: 6ms}\n", /^examples\/x\.yaml: host: cannot be combined with stalls/],
    ["host: unknown key", "host: {cores: 2, slice: 6ms, quantum: 3}\n", /^examples\/x\.yaml: host: unknown key 'quantum' \(known: cores, slice, busy_share, wake_wait, slice_wait, lock_hold, others\)/],
    ["host: a lock_hold above 1", "host: {cores: 2, slice: 6ms, lock_hold: 1.5}\n", /^examples\/x\.yaml: host\.lock_hold: must be from 0 to 1, got 1\.5/],
    ["host: others beyond the machine", "host: {cores: 2, slice: 6ms, others: 5000}\n", /^examples\/x\.yaml: host\.others: must be from 0 to \d+, got 5000/],
    ["host: a negative slice_wait", "host: {cores: 2, slice: 6ms, slice_wait: -0.1}\n", /^examples\/x\.yaml: host\.slice_wait: must be from 0 to 1, got -0\.1/],
    ["rate max with a pps", "senders: [{cpu: 0}]\nload: [{source: loopback, rate: {kind: max, pps: 5}}]\n", /^examples\/x\.yaml: load\[0\]\.rate\.pps: kind: max sends as fast as its CPU allows: it takes no 'pps'/],
    ["rate without pps", "senders: [{cpu: 0}]\nload: [{source: loopback, rate: {kind: poisson}}]\n", /^examples\/x\.yaml: load\[0\]\.rate\.pps: kind: poisson needs pps: .*kind: max/],
    ["rate max on a NIC queue", `${NIC}load: [{source: nic, rate: max}]\n`, /^examples\/x\.yaml: load\[0\]\.rate\.kind: max \(a closed-loop sender\) applies to loopback senders only: nic:0 is fed by the wire/],
    ["catch_up on a NIC queue", `${NIC}load: [{source: nic, catch_up: true}]\n`, /^examples\/x\.yaml: load\[0\]\.catch_up: applies to loopback senders only/],
    ["catch_up on a closed loop", "senders: [{cpu: 0}]\nload: [{source: loopback, rate: max, catch_up: true}]\n", /load\[0\]\.catch_up: a closed-loop sender \(rate kind max\) has no schedule to catch up on/],
    ["unknown nested key", `${NIC}load: [{source: nic, rate: {pps: 1, burst: 3}}]\n`, /^examples\/x\.yaml: load\[0\]\.rate: unknown key 'burst' \(known: kind, pps, on, off\) \(line 4\)$/],
    ["bad mask", "queues: [{irq_affinity: 1, rps_cpus: xyz}]\n", /^examples\/x\.yaml: queues\[0\]\.rps_cpus: 'xyz' is not a hex CPU mask/],
    ["mask CPU out of range", "cpus: 2\nqueues: [{irq_affinity: 1, rps_cpus: e}]\n", /^examples\/x\.yaml: queues\[0\]\.rps_cpus: CPU 2 is out of range: the host has 2 CPUs \(CPUs 0-1\) \(line 2\)$/],
    ["affinity CPU out of range", "queues:\n  - irq_affinity: [0, 7]\n", /^examples\/x\.yaml: queues\[0\]\.irq_affinity: CPU 7 is out of range/],
    ["empty affinity", "queues:\n  - irq_affinity: 0\n", /queues\[0\]\.irq_affinity: needs at least one CPU/],
    ["sender CPU out of range", "senders: [{cpu: 4}]\n", /^examples\/x\.yaml: senders\[0\]\.cpu: CPU 4 is out of range/],
    ["event CPU out of range", "events: [{at: 1ms, offline: 4}]\n", /^examples\/x\.yaml: events\[0\]: CPU 4 is out of range/],
    ["flow limit bitmap out of range", "sysctls: {net.core.flow_limit_cpu_bitmap: 10}\n", /sysctls\.net\.core\.flow_limit_cpu_bitmap: CPU mask '10' sets CPU 4/],
    ["zero CPUs", "cpus: 0\n", /^examples\/x\.yaml: cpus: must be >= 1 \(line 1\)$/],
    ["too many CPUs", "cpus: 1000\n", /cpus: must be <= 256/],
    ["negative rate", `${NIC}load:\n  - source: nic:0\n    rate: {pps: -5}\n`, /^examples\/x\.yaml: load\[0\]\.rate\.pps: must be >= 0 \(line 6\)$/],
    ["rate not a number", `${NIC}load: [{source: nic, rate: {pps: fast}}]\n`, /load\[0\]\.rate\.pps: expected packets per second, got 'fast'/],
    ["zero flows", `${NIC}load: [{source: nic, flows: 0}]\n`, /load\[0\]\.flows: must be >= 1/],
    ["unknown profile", "profile: 6.7\n", /^examples\/x\.yaml: profile\.name: unknown profile '6\.7' \(known: 6\.6, 6\.6-patched, .*threads-without-local-shortcut\)/],
    ["duration without unit in a string", "duration: '50'\n", /^examples\/x\.yaml: duration: '50' is not a duration/],
    ["negative duration", "duration: -5ms\n", /duration: duration '-5ms' is negative/],
    ["zero duration", "duration: 0ms\n", /^examples\/x\.yaml: duration: must be > 0/],
    ["zero window", "window: 0ns\n", /^examples\/x\.yaml: window: must be > 0/],
    ["unknown sysctl", "sysctls:\n  net.core.somaxconn: 5\n", /^examples\/x\.yaml: sysctls: unknown sysctl 'net\.core\.somaxconn'; known: net\.core\.netdev_max_backlog/],
    ["bad sysctl value", "sysctls:\n  net.core.dev_weight: 0\n", /^examples\/x\.yaml: sysctls\.net\.core\.dev_weight: 0 is too small: must be >= 1 \(line 2\)$/],
    ["load on a missing queue", `${NIC}load: [{source: nic:1}]\n`, /load\[0\]\.source: nic:1 does not exist \(queues has ids 0-0\)/],
    ["load on a missing sender", "load: [{source: loopback:0}]\n", /load\[0\]\.source: loopback:0 does not exist \(no senders are declared\)/],
    ["bad source", "load: [{source: eth0}]\n", /load\[0\]\.source: expected nic:QUEUE or loopback:SENDER/],
    ["phase after the end", `${NIC}load: [{source: nic, start: 60ms}]\n`, /load\[0\]\.start: 60ms is not before the end of the run \(50ms\)/],
    ["phase ends before it starts", `${NIC}load: [{source: nic, start: 20ms, end: 10ms}]\n`, /load\[0\]\.end: 10ms must be after start \(20ms\)/],
    ["onoff without on/off", `${NIC}load: [{source: nic, rate: {kind: onoff, pps: 5}}]\n`, /load\[0\]\.rate: kind: onoff needs on: and off:/],
    ["double offline", "events:\n  - {at: 1ms, offline: 1}\n  - {at: 2ms, offline: 1}\n", /events\[1\]: CPU 1 is already offline at 2ms \(line 3\)/],
    ["online of an online CPU", "events: [{at: 1ms, online: 1}]\n", /events\[0\]: CPU 1 is already online/],
    ["last CPU offline", "cpus: 1\nevents: [{at: 1ms, offline: 0}]\n", /events\[0\]: CPU 0 is the last online CPU/],
    ["event after the end", "events: [{at: 1s, offline: 1}]\n", /events\[0\]: at 1s is not before the end of the run/],
    ["event with both actions", "events: [{at: 1ms, offline: 1, online: 1}]\n", /events\[0\]: give exactly one of offline: CPU or online: CPU/],
    [
      "rps latency above ipi latency",
      `costs: {rps_latency_ns: ${DEFAULT_COSTS.ipi_latency_ns + 1}}\n`,
      new RegExp(`^examples/x\\.yaml: costs\\.rps_latency_ns: rps_latency_ns \\(${DEFAULT_COSTS.ipi_latency_ns + 1}\\) must be <= ipi_latency_ns \\(${DEFAULT_COSTS.ipi_latency_ns}\\)`),
    ],
    ["zero latency", "costs: {ipi_latency_ns: 0}\n", /costs\.ipi_latency_ns: must be >= 1/],
    ["unknown boot arg", "boot: [isolcpus]\n", /^examples\/x\.yaml: boot\[0\]: unknown boot argument 'isolcpus' \(known: thread_backlog_napi\)/],
    ["boot arg the profile lacks", "profile: '6.6'\nboot: [thread_backlog_napi]\n", /boot\[0\]: boot argument 'thread_backlog_napi' is unknown to profile '6\.6'/],
    ["queue ids out of order", "queues: [{id: 1, irq_affinity: 1}]\n", /queues\[0\]\.id: must be 0/],
    ["bad softnet_stat_columns", "softnet_stat_columns: 14\n", /softnet_stat_columns: must be 13 \(6\.6\) or 15 \(6\.12\+\), got 14/],
    ["wrong type", "idle_poll: yes\n", /idle_poll: expected boolean, got 'yes'/],
    ["missing required field", "queues: [{ring_size: 8}]\n", /queues\[0\]\.irq_affinity: /],
  ];
  for (const [name, yaml, pattern] of cases) test(name, () => assert.match(errorOf(yaml), pattern));

  test("several problems: the first is named, and how many more there are", () => {
    assert.match(errorOf("cpus: -1\nseed: -1\n"), /cpus: must be >= 1 \(line 1\) \(and 1 more problem\)$/);
  });
});

describe("flags that do not fit the host", () => {
  test("--rps-cpus beyond --cpus", () => {
    assert.equal(errorOf(undefined, { cpus: 2, rps_cpus: [1, 2, 3] }), "--rps-cpus: CPU mask 'e' sets CPU 2, but the host has only 2 CPUs (CPUs 0-1)");
  });
  test("--offline of a CPU that does not exist", () => {
    assert.equal(errorOf(undefined, { offline: [{ cpu: 4, at_ns: 1_000_000 }] }), "--offline 4@1ms: CPU 4 is out of range: the host has 4 CPUs (CPUs 0-3)");
  });
  test("--online of a CPU that is online", () => {
    assert.match(errorOf(undefined, { online: [{ cpu: 1, at_ns: 1_000_000 }] }), /^--online 1@1ms: CPU 1 is already online/);
  });
  test("--cpus below the file's CPU ids blames the file's field", () => {
    assert.match(errorOf("queues: [{irq_affinity: [3]}]\n", { cpus: 2 }), /^examples\/x\.yaml: queues\[0\]\.irq_affinity: CPU 3 is out of range: the host has 2 CPUs/);
  });
  test("--profile unknown", () => {
    assert.match(errorOf(undefined, { profile: "5.10" }), /^--profile: unknown profile '5\.10' \(known: /);
  });
  test("--boot the profile lacks", () => {
    assert.match(errorOf(undefined, { profile: "6.6", boot: ["thread_backlog_napi"] }), /^--boot thread_backlog_napi: .*unknown to profile '6\.6'/);
  });
  test("--sysctl flow_limit_cpu_bitmap beyond the CPUs", () => {
    assert.match(
      errorOf(undefined, { sysctls: [{ name: "net.core.flow_limit_cpu_bitmap", patch: { flow_limit_cpu_bitmap: [5] } }] }),
      /^--sysctl net\.core\.flow_limit_cpu_bitmap: CPU mask '20' sets CPU 5/,
    );
  });
});

describe("scenario files on disk", () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-emu-scenario-"));

  test("a missing file is named", () => {
    const missing = join(dir, "nope.yaml");
    assert.throws(() => loadScenario(missing), (err: Error) => err instanceof UsageError && err.message === `${missing}: cannot read scenario: no such file`);
  });

  test("a directory is named", () => {
    mkdirSync(join(dir, "d.yaml"));
    assert.throws(() => loadScenario(join(dir, "d.yaml")), /d\.yaml: cannot read scenario: is a directory/);
  });

  test("a file over the size cap is refused before it is parsed", () => {
    const file = join(dir, "huge.yaml");
    writeFileSync(file, `# ${"x".repeat(MAX_SCENARIO_BYTES)}\ncpus: 4\n`);
    assert.throws(() => loadScenario(file), (err: Error) => err instanceof UsageError && err.message === `${file}: scenario file is ${MAX_SCENARIO_BYTES + 11} bytes; a scenario may be at most ${MAX_SCENARIO_BYTES} bytes (1 MiB)`);
    writeFileSync(file, `# ${"x".repeat(MAX_SCENARIO_BYTES - 20)}\ncpus: 4\n`);
    assert.equal(loadScenario(file).spec.cpus, 4);
  });

  test("errors carry the path as the user gave it", () => {
    const file = join(dir, "bad.yaml");
    writeFileSync(file, "cpus: 4\nload: [{source: nic, rate: {pps: -1}}]\n");
    assert.throws(() => loadScenario(file), (err: Error) => err.message.startsWith(`${file}: load[0].rate.pps: must be >= 0`));
  });
});
