// Costs are charged on the CPU that spends them in the kernel: each test changes one cost and
// checks that the busy time of the right CPU, and only its, moves by exactly cost × count.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import type { RunResults } from "../../model/results.ts";
import { config, type Opts } from "./fixtures.ts";

const busy = (r: RunResults, cpu: number) => Object.values(r.cpus[cpu]!.busy_ns).reduce((a, b) => a + b, 0);

/** Light open-loop load (every packet finds idle CPUs), so a dearer cost moves no packet's fate. */
const light = (o: Opts) => runInProcess(config({ pps: 20_000, durationNs: 2_000_000, ...o }));

describe("rps_remote_enqueue_ns: enqueue_to_backlog on another CPU's softnet_data", () => {
  it("loopback: the sender's CPU pays it per packet it enqueues on another CPU, and no one else", () => {
    const o: Opts = { load: "loopback", rpsCpus: [0, 1, 2, 3] };
    const cheap = light({ ...o, costs: { rps_remote_enqueue_ns: 0 } });
    const dear = light({ ...o, costs: { rps_remote_enqueue_ns: 5_000 } });
    assert.equal(dear.totals.injected, cheap.totals.injected);
    const remote = dear.totals.processed - dear.cpus[0]!.processed;
    assert.ok(remote > 0 && dear.cpus[0]!.processed > 0, "some packets stay on CPU 0 (rps_cpus=f), the others move");
    assert.equal(dear.cpus[0]!.busy_ns.task - cheap.cpus[0]!.busy_ns.task, 5_000 * remote);
    for (const c of [1, 2, 3]) assert.equal(busy(dear, c), busy(cheap, c), `cpu ${c}`);
  });

  it("NIC: the IRQ CPU pays it in its device poll (softirq) per packet steered elsewhere", () => {
    const o: Opts = { rpsCpus: [0, 1, 2, 3] };
    const cheap = light({ ...o, costs: { rps_remote_enqueue_ns: 0 } });
    const dear = light({ ...o, costs: { rps_remote_enqueue_ns: 3_000 } });
    const remote = dear.totals.processed - dear.cpus[0]!.processed;
    assert.ok(remote > 0);
    assert.equal(dear.cpus[0]!.busy_ns.softirq - cheap.cpus[0]!.busy_ns.softirq, 3_000 * remote);
    for (const c of [1, 2, 3]) assert.equal(busy(dear, c), busy(cheap, c), `cpu ${c}`);
  });

  it("is not paid without RPS (every enqueue is local)", () => {
    const cheap = light({ load: "loopback", costs: { rps_remote_enqueue_ns: 0 } });
    const dear = light({ load: "loopback", costs: { rps_remote_enqueue_ns: 5_000 } });
    assert.equal(busy(dear, 0), busy(cheap, 0));
  });
});
