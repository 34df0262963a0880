// Per-flow order where the kernel keeps it: `reordered` may grow only after an RPS map change, an
// IRQ move or hotplug, until a checkpoint at which everything has drained.
import assert from "node:assert/strict";
import { test } from "node:test";
import { breaksOrder, OrderChecker } from "../../chaos/order.ts";
import type { CpuCounters } from "../../model/results.ts";

const rows = (...reordered: number[]) => reordered.map((n, cpu) => ({ cpu, reordered: n }) as CpuCounters);

test("reordering with no order-breaking change since the last drain is a violation naming the CPU", () => {
  const o = new OrderChecker(2, [2_000]);
  o.check(1_000, rows(0, 0), false);
  o.check(2_000, rows(0, 3), false);
  assert.deepEqual(o.violations.length, 1);
  assert.match(o.violations[0]!, /^per-flow order: CPU 1 processed 3 packet\(s\) out of flow order between 1000 and 2000 ns/);
  // The change at 2 µs is applied after the checkpoint at 2 µs: [2 µs, 3 µs) is disturbed …
  o.check(3_000, rows(5, 3), false);
  // … and stays so until a checkpoint finds everything drained.
  o.check(4_000, rows(6, 3), true);
  assert.equal(o.violations.length, 1);
  o.check(5_000, rows(6, 4), false);
  assert.equal(o.violations.length, 2);
  assert.match(o.violations[1]!, /CPU 1 processed 1 packet\(s\) out of flow order between 4000 and 5000 ns/);
  assert.equal(o.checkedIntervals, 3);
});

test("hotplug, rps_cpus, IRQ affinity and turning RFS on or off may reorder; the other knobs may not", () => {
  assert.ok(breaksOrder({ kind: "offline", cpu: 1, at_ns: 0 }));
  assert.ok(breaksOrder({ kind: "online", cpu: 1, at_ns: 0 }));
  assert.ok(breaksOrder({ kind: "rps", source: 0, cpus: [1], at_ns: 0 }));
  assert.ok(breaksOrder({ kind: "irq_affinity", queue: 0, cpus: [1], at_ns: 0 }));
  assert.ok(breaksOrder({ kind: "sysctl", key: "rps_sock_flow_entries", value: 0, at_ns: 0 }));
  assert.ok(!breaksOrder({ kind: "sysctl", key: "netdev_max_backlog", value: 8, at_ns: 0 }));
  assert.ok(!breaksOrder({ kind: "irq_off", cpu: 1, duration_ns: 5, at_ns: 0 }));
  assert.ok(!breaksOrder({ kind: "ipi_delay", cpu: 1, extra_ns: 5, until_ns: 9, at_ns: 0 }));
  assert.ok(!breaksOrder({ kind: "rate", source: 0, pps: 5, at_ns: 0 }));
  assert.ok(!breaksOrder({ kind: "hot_flow", source: 0, share: 0.5, at_ns: 0 }));
});
