// The reference fixtures (validate/reference/) load as they are shipped, with every kernel and
// phase, their books balance, and the text parsers read hand-made input and name bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KERNELS } from "../../validate/kernels.ts";
import { loadReference, parseHotplug, parseNicFlood, ReferenceError } from "../../validate/reference.ts";
import { evaluateRelations } from "../../validate/relations.ts";
import { kernelSides } from "../../validate/sides.ts";

describe("validate reference data", () => {
  const ref = loadReference();

  it("has every kernel's loopback, NIC and hotplug phases", () => {
    for (const k of KERNELS) {
      // A later NIC boot (KERNEL#nicN) is NIC phases only; a later loopback boot, loopback only.
      if (/#nic\d+$/.test(k.name)) {
        assert.deepEqual([Object.keys(ref.nic[k.name] ?? {}), ref.loopback[k.name], ref.hotplug[k.name]], [["p1", "p2", "p3", "p4", "p5"], undefined, undefined], k.name);
        continue;
      }
      assert.deepEqual(Object.keys(ref.loopback[k.name] ?? {}), ["p1", "p2", "p3", "p4", "p5", "p6", "p7"], k.name);
      if (k.repeatOf) continue;
      assert.deepEqual(Object.keys(ref.nic[k.name] ?? {}), ["p1", "p2", "p3", "p4", "p5"], k.name);
      assert.deepEqual(Object.keys(ref.hotplug[k.name] ?? {}), ["h1", "h2", "h3", "h4"], k.name);
    }
    // The later boots (loopback-runN.json) load as KERNEL#runN, unchanged.
    assert.deepEqual([ref.loopback["6.12-generic#run2"]!.p1!.sent, ref.loopback["6.1-generic#run4"]!.p1!.rate], [225088, 23613]);
    assert.deepEqual([ref.loopback["6.12-generic#run7"]!.p1!.sent, ref.loopback["6.1-generic#run7"]!.p3!.rate], [385600, 26532]);
    assert.deepEqual([ref.loopback["6.12-generic#run12"]!.p1!.sent, ref.loopback["6.1-generic#run12"]!.p3!.rate], [149120, 15142]);
    const p2 = ref.loopback["6.12-generic"]!.p2!;
    assert.deepEqual([p2.rps, p2.flows, p2.backlog, p2.flowLimit, p2.sent, p2.rate], ["e", 64, 1000, "0", 328960, 65774]);
    assert.deepEqual(ref.loopback["6.12-generic"]!.p7!.cpus[0], { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 380775, netrx: 21254, bl: 0 });
    const n4 = ref.nic["6.1-generic"]!.p4!;
    assert.deepEqual([n4.rps, n4.backlog, n4.budget, n4.rxPackets, n4.virtioIrqs], ["e", 32, 300, 146976, 437]);
    assert.deepEqual(n4.cpus[2], { proc: 33234, drop: 24179, sq: 12, rrps: 1080, fl: 0, bl: 0, netrx: 1092 });
    const h4 = ref.hotplug["6.12-generic"]!.h4!;
    assert.deepEqual([h4.rps, h4.offlineCpu, h4.backlog, h4.sent, h4.received], ["e", 3, 32, 464128, 282681]);
    assert.equal(h4.steps.off_mid.rows[3], null, "the offline CPU's row is absent");
    assert.equal(h4.steps.off_mid.rows.length, 4);
    assert.equal(h4.steps.final.rows[3]!.proc, 485716);
  });

  it("balances every kernel's books: sent = processed + dropped + queued, in every phase", () => {
    for (const [name, s] of Object.entries(kernelSides(ref))) {
      for (const [p, d] of Object.entries(s.loopback)) assert.equal(d!.unaccounted, 0, `${name} loopback ${p}`);
      for (const [p, d] of Object.entries(s.nic)) assert.equal(d!.unaccounted, 0, `${name} nic ${p}`);
      for (const [p, h] of Object.entries(s.hotplug)) {
        assert.equal(h!.unaccounted, 0, `${name} hotplug ${p}`);
        assert.equal(h!.rowAbsentWhileOffline, true, `${name} hotplug ${p}`);
        assert.equal(h!.countersKept, true, `${name} hotplug ${p}`);
      }
    }
  });

  it("keeps only the kinds asked for: a kernel with none of them is left out, and every relation over boots gets its figure", () => {
    const loopback = kernelSides(ref, { kinds: ["loopback"] });
    assert.ok(!("6.1-generic#nic2" in loopback), "a later NIC boot has no loopback phase");
    assert.ok(Object.values(loopback).every((s) => Object.keys(s.nic).length === 0 && Object.keys(s.hotplug).length === 0));
    // The reference as its own model: every row has a model figure and passes (under --only
    // loopback the rates over boots once had none: a later NIC boot's model side never came).
    const rows = evaluateRelations(KERNELS, loopback, loopback);
    assert.ok(rows.some((r) => r.id === "loopback.rate.e/0" && r.kernel === "6.12-generic"));
    assert.deepEqual(rows.filter((r) => r.model_value === null || !r.pass).map((r) => `${r.id} ${r.kernel}`), []);
    assert.deepEqual(Object.keys(kernelSides(ref, { kernels: ["6.1-rt"], kinds: ["nic"] })), ["6.1-rt"]);
  });

  it("parses hand-made NIC and hotplug text", () => {
    const nic = parseNicFlood(
      [
        "=== k: x",
        "## p1: rps_cpus=0 netdev_max_backlog=1000 netdev_budget=300 irq=25",
        "   HOST sent=10 send_errors=0 elapsed=2.000s rate=5 pps",
        "   cpu    processed      dropped time_squeeze received_rps flow_limit_c backlog_end    NET_RX virtioIRQ       CAL       RES",
        "     0           10            0            1            0            0           0         2         1         0         0",
        "     1            0            0            0            0            0           0         0         2         0         0",
        "   sum           10            0            1            0            0                       2         1         0         0",
        "   eth0 delta: rx_packets=10 rx_dropped=0",
      ].join("\n"),
      "t.txt",
    );
    assert.deepEqual(nic, { k: { p1: { rps: "0", backlog: 1000, budget: 300, rxPackets: 10, virtioIrqs: 3, seconds: 2, cpus: [{ proc: 10, drop: 0, sq: 1, rrps: 0, fl: 0, bl: 0, netrx: 2 }, { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, bl: 0, netrx: 0 }] } } });
    const steps = ["t0_before_start", "imm_before_off", "imm_after_off", "off_mid", "imm_before_on", "imm_after_on", "final"];
    const hp = parseHotplug(
      [
        "#### k.log",
        " ## h1 rps_cpus=f offline_cpu=1 netdev_max_backlog=1000",
        ...steps.map((s, i) => `  ${s} rel=${i}.00  0:${i}/0/0/0/0/0${i >= 2 && i <= 4 ? "" : `  1:${i}/0/0/0/0/0`}`),
        "  TX sent=6 on_cpu_end=0",
        "  RX received=6 on_cpu_end=1",
      ].join("\n"),
      "h.txt",
    );
    assert.equal(hp.k!.h1!.steps.off_mid.rows[1], null);
    assert.equal(hp.k!.h1!.steps.final.rows[1]!.proc, 6);
    assert.equal(hp.k!.h1!.offlineCpu, 1);
  });

  it("names the file, the line and what is missing in malformed data", () => {
    assert.throws(
      () => parseNicFlood("=== k: x\n## p1: rps_cpus=0 netdev_max_backlog=1000 netdev_budget=300\n", "n.txt"),
      (e: Error) => e instanceof ReferenceError && /^n\.txt:\d+: k p1: no CPU rows$/.test(e.message),
    );
    assert.throws(() => parseNicFlood("## p1: rps_cpus=0\n", "n.txt"), (e: Error) => e instanceof ReferenceError && /^n\.txt:1: /.test(e.message));
    assert.throws(
      () => parseHotplug("#### k.log\n ## h1 rps_cpus=f offline_cpu=1 netdev_max_backlog=1000\n  t0_before_start rel=0.00  0:0/0/0/0/0/0\n", "h.txt"),
      (e: Error) => e instanceof ReferenceError && /h\.txt:\d+: k h1: no imm_before_off line/.test(e.message),
    );
    assert.throws(() => loadReference("/nonexistent-dir"), (e: Error) => e instanceof ReferenceError && /^loopback\.json: cannot read the reference data: ENOENT$/.test(e.message));
  });
});
