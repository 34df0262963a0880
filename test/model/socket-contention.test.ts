// Contention on the receiving socket (model/socket-contention.ts): contention_ns per pair of CPUs
// delivering to it, charged on the delivering CPU; which CPUs deliver follows rps_cpus, the flows'
// hash and hotplug.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { applyCommand } from "../../model/commands.ts";
import type { EmuConfig } from "../../model/config.ts";
import { Cpu } from "../../model/cpu.ts";
import { socketContentionNs, socketDeliverers } from "../../model/socket-contention.ts";
import { config, type Opts } from "./fixtures.ts";

const MS = 1_000_000;

function withContention(o: Opts, contentionNs: number): EmuConfig {
  const cfg = config({ load: "loopback", durationNs: 5 * MS, receiver: 1, ...o });
  cfg.receiver!.contention_ns = contentionNs;
  return cfg;
}

test("the delivering CPUs are where get_rps_cpu() sends the socket's flows: the sender's CPU without RPS", () => {
  const deliverers = (o: Opts) => socketDeliverers(new Cpu(0, withContention(o, 1000))).n;
  assert.equal(deliverers({}), 1, "rps_cpus 0: CPU 0 processes every packet");
  assert.equal(deliverers({ rpsCpus: [1, 2, 3] }), 3);
  assert.equal(deliverers({ rpsCpus: [0, 1, 2, 3] }), 4);
  assert.equal(deliverers({ rpsCpus: [1, 2, 3], flows: 1 }), 1, "one flow, one target");
  assert.equal(deliverers({ rpsCpus: [1, 2, 3], senderCpu: 2, load: "loopback" }), 3);
  // A NIC queue: without RPS its IRQ CPU's poll delivers.
  assert.equal(deliverers({ load: "nic" }), 1);
  assert.equal(deliverers({ load: "nic", rpsCpus: [2, 3] }), 2);
});

test("recounted after hotplug and an rps change: an offline target's flows are delivered by the sender's CPU", () => {
  const cpu = new Cpu(0, withContention({ rpsCpus: [1, 2, 3] }, 1000));
  assert.equal(socketContentionNs(cpu, 0), 3 * 1000, "three CPUs: three pairs");
  applyCommand(cpu, { kind: "offline", cpu: 2, at_ns: 0 });
  assert.equal(socketContentionNs(cpu, 0), 3 * 1000, "CPUs 1, 3 and the sender's CPU 0");
  applyCommand(cpu, { kind: "rps", source: 0, cpus: [3], at_ns: 0 });
  assert.equal(socketContentionNs(cpu, 0), 0, "one target left: nobody to contend with");
  applyCommand(cpu, { kind: "rps", source: 0, cpus: [0, 1, 2, 3], at_ns: 0 });
  assert.equal(socketContentionNs(cpu, 0), 3 * 1000, "CPU 2 still offline: 0, 1, 3");
  applyCommand(cpu, { kind: "online", cpu: 2, at_ns: 0 });
  assert.equal(socketContentionNs(cpu, 0), 6 * 1000);
});

test("a lone deliverer pays nothing: contention_ns changes no figure of a run without RPS", () => {
  const off = runInProcess(withContention({ rate: { kind: "max" } }, 0));
  const on = runInProcess(withContention({ rate: { kind: "max" } }, 50_000));
  assert.deepEqual(on.cpus, off.cpus);
  assert.deepEqual(on.totals, off.totals);
});

test("the delivering CPU pays per packet, the socket's CPU does not; with rps f the sender slows", () => {
  const c = 5000;
  // Targets 2 and 3 deliver to the socket on CPU 1: one pair, c per packet on each target.
  const r = runInProcess(withContention({ pps: 50_000, rpsCpus: [2, 3] }, c));
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  const perPacket = (cpu: number) => r.cpus[cpu]!.busy_ns.softirq / r.cpus[cpu]!.processed;
  for (const cpu of [2, 3]) {
    assert.ok(r.cpus[cpu]!.processed > 0);
    // process_per_packet_ns + enqueue_ns + c, plus the runs' entries: at least the first three.
    assert.ok(perPacket(cpu) >= 2000 + 200 + c, `CPU ${cpu}: ${perPacket(cpu)} ns of softirq per packet`);
  }
  assert.equal(r.cpus[1]!.processed, 0);
  assert.equal(r.cpus[1]!.busy_ns.softirq, 0, "the socket's CPU only applies the deliveries");
  // The closed-loop sender with rps f delivers a quarter itself, at six pairs' price.
  const sent = (contention: number) => runInProcess(withContention({ rate: { kind: "max" }, rpsCpus: [0, 1, 2, 3] }, contention)).totals.injected;
  assert.ok(sent(4000) < 0.8 * sent(0), `${sent(4000)} against ${sent(0)} sent`);
});
