// The scenario files users start from: each one loads and resolves, and says what it shows.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { loadScenario } from "../../config/scenario.ts";
import { resolveConfig } from "../../config/resolve.ts";

const DIR = join(import.meta.dirname, "../../examples");
const resolveExample = (name: string) => resolveConfig(loadScenario(join(DIR, name)), {});

const EXPECTED = [
  "default.yaml",
  "flow-limit.yaml",
  "hotplug-under-load.yaml",
  "loopback-rps.yaml",
  "nic-rps-e.yaml",
  "oversubscribed-host.yaml",
  "rt-ipi-warning.yaml",
  "small-backlog.yaml",
  "standard-bench.yaml",
  "threaded-backlog-stall.yaml",
];

describe("examples/", () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml")).sort();

  test("holds the documented examples", () => {
    for (const f of EXPECTED) assert.ok(files.includes(f), `examples/${f} exists`);
  });

  for (const f of files) {
    test(`${f} resolves and starts with a comment saying what it shows`, () => {
      const cfg = resolveExample(f);
      assert.ok(cfg.load.length > 0, "it has load");
      assert.match(readFileSync(join(DIR, f), "utf8"), /^# \S/);
    });
  }

  test("default.yaml is exactly the default scenario", () => {
    assert.deepEqual(resolveExample("default.yaml"), resolveConfig(undefined, {}));
  });

  test("standard-bench.yaml is the benchmark of issue 2", () => {
    const cfg = resolveExample("standard-bench.yaml");
    assert.equal(cfg.cpus, 4);
    assert.equal(cfg.profile.name, "6.6-patched");
    assert.equal(cfg.duration_ns, 1_000_000_000);
    assert.deepEqual(cfg.queues.map((q) => [q.irq_affinity, q.rps_cpus]), [[[0], [0, 1, 2, 3]]]);
    assert.deepEqual(cfg.load.map((p) => [p.rate, p.flows, p.start_ns, p.end_ns]), [[{ kind: "constant", pps: 1e6 }, 1024, 0, 1e9]]);
  });

  test("each example sets up what it is named after", () => {
    assert.deepEqual(resolveExample("loopback-rps.yaml").senders.map((s) => [s.cpu, s.rps_cpus]), [[0, [1, 2, 3]]]);
    assert.equal(resolveExample("rt-ipi-warning.yaml").profile.preempt_rt, true);
    assert.equal(resolveExample("rt-ipi-warning.yaml").profile.backlog_threads, false);
    assert.equal(resolveExample("small-backlog.yaml").sysctls.netdev_max_backlog, 32);
    const fl = resolveExample("flow-limit.yaml");
    assert.deepEqual([fl.sysctls.netdev_max_backlog, fl.sysctls.flow_limit_cpu_bitmap, fl.load[0]?.flows], [64, [0], 1]);
    const stall = resolveExample("threaded-backlog-stall.yaml").profile;
    assert.deepEqual([stall.backlog_threads, stall.threaded_wakeup], [true, "conditional"]);
    assert.deepEqual(resolveExample("oversubscribed-host.yaml").host, { cores: 2, slice_ns: 6e6, busy_share: 0.05, wake_wait_ns: 2e6, slice_wait: 0, others: 0, lock_hold: 0 });
    const hp = resolveExample("hotplug-under-load.yaml").events;
    assert.deepEqual(hp.map((e) => `${e.action} ${e.cpu}`), ["offline 2", "online 2", "offline 0", "online 0"]);
  });
});
