// The NET_RX runs an enqueuer raises only to send RPS IPIs (loopback from task context): counted
// once per flush that some target took an IPI for, wherever the run ends — at the enqueuer once
// the targets' charges have landed there, from the targets' short lists before (engine/aggregate.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { attribute } from "../../engine/aggregate.ts";
import { advanceAll } from "../../engine/inprocess.ts";
import { Cpu } from "../../model/cpu.ts";
import { CHARGE_KIND, type PeerBatch } from "../../model/messages.ts";
import { config } from "./fixtures.ts";

/** Run to endNs; the truth from every batch delivered: the distinct raised flushes each enqueuer was charged for. */
function run(endNs: number) {
  const cfg = config({ load: "loopback", rpsCpus: [1, 2, 3], pps: 900_000, durationNs: endNs });
  const cpus = [0, 1, 2, 3].map((id) => new Cpu(id, cfg));
  const raised = cpus.map(() => new Set<number>());
  for (const cpu of cpus) {
    const deliver = cpu.deliver.bind(cpu);
    cpu.deliver = (b: PeerBatch) => {
      b.charges.kind.forEach((k, i) => k === CHARGE_KIND.IPI_RAISED && raised[b.to]!.add(b.charges.flush_id[i]!));
      deliver(b);
    };
  }
  advanceAll(cpus, endNs);
  const counters = cpus.map((c) => c.counters());
  const rows = attribute(counters);
  return {
    counted: rows.map((r, i) => r.net_rx_softirqs - counters[i]!.net_rx_softirqs),
    truth: raised.map((s) => s.size),
    longestList: Math.max(...counters.flatMap((c) => c.attributed.ipi_softirq_flushes.map((l) => l.length))),
  };
}

test("each raised flush an IPI was taken for counts once, whenever the run ends, and the lists stay short", () => {
  for (const endNs of [300_000, 1_000_000, 1_000_001, 1_700_000, 10_000_000]) {
    const r = run(endNs);
    assert.deepEqual(r.counted, r.truth, `end at ${endNs} ns`);
    assert.ok(r.truth[0]! > 0, "the sender raised NET_RX for IPIs");
    if (endNs === 10_000_000) assert.ok(r.longestList * 5 < r.truth[0]!, `the targets list only the flushes not landed yet (${r.longestList} of ${r.truth[0]})`);
  }
});
