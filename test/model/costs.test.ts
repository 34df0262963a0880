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

/** Load for the first half of the run only: every charge (charge_latency_ns later) has landed by the end. */
function halfLoaded(o: Opts): RunResults {
  const cfg = config({ pps: 20_000, durationNs: 6_000_000, ...o });
  for (const p of cfg.load) p.end_ns = 3_000_000;
  return runInProcess(cfg);
}

describe("IPIs and wake-ups are paid by the enqueuing CPU (charges from the target that decided them)", () => {
  it("ipi_send_ns: the NIC's CPU pays each IPI its net_rx_action sent, the targets nothing", () => {
    const o: Opts = { rpsCpus: [1, 2, 3], profile: "6.6" };
    const cheap = halfLoaded({ ...o, costs: { ipi_send_ns: 0 } });
    const dear = halfLoaded({ ...o, costs: { ipi_send_ns: 5_000 } });
    const ipis = dear.cpus[0]!.ipis_sent;
    assert.ok(ipis > 0);
    assert.equal(cheap.cpus[0]!.ipis_sent, ipis);
    assert.equal(dear.cpus[0]!.busy_ns.softirq - cheap.cpus[0]!.busy_ns.softirq, 5_000 * ipis);
    for (const c of [1, 2, 3]) assert.equal(busy(dear, c), busy(cheap, c), `cpu ${c}`);
  });

  it("loopback: the sender pays the NET_RX run it raised only to send IPIs, and each IPI", () => {
    const r = halfLoaded({ load: "loopback", rpsCpus: [1, 2, 3], profile: "6.6" });
    const c0 = r.cpus[0]!;
    assert.equal(c0.processed, 0);
    assert.ok(c0.net_rx_softirqs > 0 && c0.ipis_sent >= c0.net_rx_softirqs);
    // CPU 0 runs no NET_RX of its own: its softirq time is exactly those runs and IPIs.
    const L = config().costs;
    assert.equal(c0.busy_ns.softirq, L.softirq_entry_ns * c0.net_rx_softirqs + L.ipi_send_ns * c0.ipis_sent);
  });

  it("wakeup_ns: with backlog threads the enqueuer pays each wake-up of a target's thread", () => {
    const o: Opts = { load: "loopback", rpsCpus: [1, 2, 3], profile: "6.6-patched-threads" };
    const cheap = halfLoaded({ ...o, costs: { wakeup_ns: 0 } });
    const dear = halfLoaded({ ...o, costs: { wakeup_ns: 3_000 } });
    const wakeups = [1, 2, 3].reduce((s, c) => s + dear.cpus[c]!.thread_wakeups, 0);
    assert.ok(wakeups > 0);
    assert.equal(dear.cpus[0]!.busy_ns.softirq - cheap.cpus[0]!.busy_ns.softirq, 3_000 * wakeups);
    for (const c of [1, 2, 3]) assert.equal(busy(dear, c), busy(cheap, c), `cpu ${c}`);
  });

  it("wakeup_ns: without use_local_napi the enqueuer also pays for waking its own backlog thread", () => {
    const o: Opts = { load: "loopback", rpsCpus: [0, 1, 2, 3], profile: "threads-without-local-shortcut" };
    const cheap = halfLoaded({ ...o, costs: { wakeup_ns: 0 } });
    const dear = halfLoaded({ ...o, costs: { wakeup_ns: 3_000 } });
    assert.ok(dear.cpus[0]!.thread_wakeups > 0, "CPU 0 keeps a share and wakes its own thread");
    const wakeups = dear.cpus.reduce((s, c) => s + c.thread_wakeups, 0);
    assert.equal(busy(dear, 0) - busy(cheap, 0), 3_000 * wakeups);
    // With the shortcut (patch 2) the local share stays in softirq: only remote wake-ups are paid.
    const p = { ...o, profile: "6.6-patched-threads" };
    const cheap2 = halfLoaded({ ...p, costs: { wakeup_ns: 0 } });
    const dear2 = halfLoaded({ ...p, costs: { wakeup_ns: 3_000 } });
    assert.equal(dear2.cpus[0]!.thread_wakeups, 0);
    assert.equal(busy(dear2, 0) - busy(cheap2, 0), 3_000 * [1, 2, 3].reduce((s, c) => s + dear2.cpus[c]!.thread_wakeups, 0));
  });

  it("every cost of the model is a knob that changes some CPU's busy time", () => {
    // A cost nobody charges would be a knob that does nothing (issue: charged somewhere or removed).
    const base = config().costs;
    const charged = Object.keys(base).filter((k) => !k.endsWith("latency_ns") && k !== "idle_exit_ns" && k !== "context_switch_ns");
    const scenarios: Opts[] = [
      { rpsCpus: [0, 1, 2, 3], profile: "6.6" },
      { load: "loopback", rpsCpus: [0, 1, 2, 3], profile: "6.6" },
      { load: "loopback", rpsCpus: [1, 2, 3], profile: "6.6-patched-threads" },
    ];
    const total = (r: RunResults) => r.cpus.reduce((s, _c, i) => s + busy(r, i), 0);
    for (const k of charged) {
      const moved = scenarios.some((o) => total(halfLoaded({ ...o, costs: { [k]: 0 } })) !== total(halfLoaded({ ...o, costs: { [k]: 7_777 } })));
      assert.ok(moved, `cost ${k} changes no CPU's busy time`);
    }
  });
});
