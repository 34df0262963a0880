// The coordinator's registry: node_exporter's softnet series for online CPUs only, the emulator's
// own series for every CPU, run labels on every sample, valid exposition text.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SoftnetMetrics, cumulativeLatencyBuckets, newRunId, type FaultTimeline, type RunStatus } from "../../observe/metrics.ts";
import { LATENCY_BUCKETS_NS } from "../../model/results.ts";
import { fakeCounters } from "./fixtures.ts";
import { runTool, skipUnless } from "./harness.ts";

const RUN: RunStatus = { scenario: "rps-flood", profile: "6.6", virtualNs: 2e9, lostOnCrash: 0, checkerOk: true };

/** Two hotplug windows on cpu 2, one irq-off on cpu 1, and the heal at 10 µs. */
const FAULTS: FaultTimeline = {
  kinds: ["hotplug", "irq-off", "burst", "heal"],
  applied: [
    { kind: "hotplug", at_ns: 1000 },
    { kind: "irq-off", at_ns: 1500 },
    { kind: "hotplug", at_ns: 3000 },
    { kind: "hotplug", at_ns: 5000 },
    { kind: "hotplug", at_ns: 7000 },
    { kind: "heal", at_ns: 10_000 },
  ],
  windows: [
    { kind: "hotplug", target: "cpu 2", from_ns: 1000, to_ns: 3000 },
    { kind: "irq-off", target: "cpu 1", from_ns: 1500, to_ns: 2000 },
    { kind: "hotplug", target: "cpu 2", from_ns: 5000, to_ns: 7000 },
  ],
};

/** Parsed exposition: `name{labels}` → value, labels in text order. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = Object.entries(labels);
  for (const [key, v] of samples(text)) {
    const brace = key.indexOf("{");
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (want.every(([k, lv]) => key.includes(`${k}="${lv}"`))) return v;
  }
  return undefined;
}

async function exposition(online: boolean[], run: RunStatus = RUN): Promise<{ m: SoftnetMetrics; text: string }> {
  const m = new SoftnetMetrics();
  m.update(online.map((o, cpu) => fakeCounters(cpu, o)), run);
  return { m, text: await m.metrics() };
}

describe("coordinator metrics", () => {
  it("uses node_exporter's softnet names and help texts", async () => {
    const { text } = await exposition([true, true]);
    const help = new Map(
      text
        .split("\n")
        .filter((l) => l.startsWith("# HELP node_softnet_"))
        .map((l) => {
          const [, , name, ...rest] = l.split(" ");
          return [name, rest.join(" ")] as const;
        }),
    );
    // From prometheus/node_exporter collector/softnet_linux.go.
    assert.deepEqual(Object.fromEntries(help), {
      node_softnet_processed_total: "Number of processed packets",
      node_softnet_dropped_total: "Number of dropped packets",
      node_softnet_times_squeezed_total: "Number of times processing packets ran out of quota",
      node_softnet_cpu_collision_total: "Number of collision occur while obtaining device lock while transmitting",
      node_softnet_received_rps_total: "Number of times cpu woken up received_rps",
      node_softnet_flow_limit_count_total: "Number of times flow limit has been reached",
      node_softnet_backlog_len: "Softnet backlog status",
    });
    assert.match(text, /# TYPE node_softnet_processed_total counter/);
    assert.match(text, /# TYPE node_softnet_backlog_len gauge/);
  });

  it("shows an offline CPU's softnet series nowhere, but keeps it in softnet_emu_*", async () => {
    const { text } = await exposition([true, true, false, true]);
    const c2 = fakeCounters(2, false);
    for (const name of ["node_softnet_processed_total", "node_softnet_dropped_total", "node_softnet_backlog_len"]) {
      assert.equal(value(text, name, { cpu: "2" }), undefined, `${name}{cpu="2"} must be absent while CPU 2 is offline`);
      assert.notEqual(value(text, name, { cpu: "3" }), undefined);
    }
    assert.equal(value(text, "softnet_emu_processed_total", { cpu: "2" }), c2.processed);
    assert.equal(value(text, "softnet_emu_cpu_online", { cpu: "2" }), 0);
    assert.equal(value(text, "softnet_emu_cpu_online", { cpu: "1" }), 1);
    assert.equal(value(text, "softnet_emu_hotplug_events_total", { cpu: "2", action: "offline" }), 1);
  });

  it("brings a returning CPU's series back with its kept counters", async () => {
    const m = new SoftnetMetrics();
    const before = fakeCounters(1, true);
    m.update([fakeCounters(0), before], RUN);
    m.update([fakeCounters(0), { ...before, online: false }], RUN);
    assert.equal(value(await m.metrics(), "node_softnet_processed_total", { cpu: "1" }), undefined);
    m.update([fakeCounters(0), { ...before, processed: before.processed + 5 }], RUN);
    assert.equal(value(await m.metrics(), "node_softnet_processed_total", { cpu: "1" }), before.processed + 5);
  });

  it("exports every softnet_stat column per online CPU with the counters' values", async () => {
    const { text } = await exposition([true, true, true]);
    for (const cpu of [0, 1, 2]) {
      const c = fakeCounters(cpu);
      const l = { cpu: String(cpu) };
      assert.equal(value(text, "node_softnet_processed_total", l), c.processed);
      assert.equal(value(text, "node_softnet_dropped_total", l), c.dropped);
      assert.equal(value(text, "node_softnet_times_squeezed_total", l), c.time_squeeze);
      assert.equal(value(text, "node_softnet_received_rps_total", l), c.received_rps);
      assert.equal(value(text, "node_softnet_flow_limit_count_total", l), c.flow_limit_count);
      assert.equal(value(text, "node_softnet_backlog_len", l), c.input_qlen + c.process_qlen);
      assert.equal(value(text, "softnet_emu_ipis_sent_total", l), c.ipis_sent);
      assert.equal(value(text, "softnet_emu_lost_wakeups_total", l), c.lost_wakeups);
      assert.equal(value(text, "softnet_emu_softirq_raises_total", { ...l, source: "rps_ipi" }), c.softirq_raises.rps_ipi);
      assert.equal(value(text, "softnet_emu_busy_seconds_total", { ...l, context: "softirq" }), c.busy_ns.softirq / 1e9);
      assert.equal(value(text, "softnet_emu_drops_total", { ...l, reason: "flow_limit" }), c.drops_by_reason.flow_limit);
      assert.equal(value(text, "softnet_emu_input_queue_length", l), c.input_qlen);
      assert.equal(value(text, "softnet_emu_call_function_irqs_total", l), c.irq_call_count);
      assert.equal(value(text, "softnet_emu_nic_irqs_total", { ...l, queue: "0" }), c.nic_irqs[0]);
      assert.equal(value(text, "softnet_emu_nic_irqs_total", { ...l, queue: "1" }), c.nic_irqs[1]);
    }
  });

  it("builds a cumulative latency histogram in seconds", async () => {
    const { text } = await exposition([true]);
    const c = fakeCounters(0);
    const cumulative = cumulativeLatencyBuckets(c.latency_buckets);
    const total = c.latency_buckets.reduce((a, b) => a + b, 0);
    assert.equal(cumulative.length, LATENCY_BUCKETS_NS.length + 1);
    LATENCY_BUCKETS_NS.forEach((ns, i) => {
      assert.equal(value(text, "softnet_emu_latency_seconds_bucket", { cpu: "0", le: String(ns / 1e9) }), cumulative[i]);
    });
    assert.equal(value(text, "softnet_emu_latency_seconds_bucket", { cpu: "0", le: "+Inf" }), total);
    assert.equal(value(text, "softnet_emu_latency_seconds_count", { cpu: "0" }), total);
    assert.equal(value(text, "softnet_emu_latency_seconds_sum", { cpu: "0" }), c.latency_sum_ns / 1e9);
  });

  it("labels every sample with the run's scenario, profile and run id", async () => {
    const { m, text } = await exposition([true, false], { ...RUN, windowRate: 1900, lagSeconds: 0.25, malformed: { decode_error: 3 } });
    const lines = [...samples(text).keys()];
    assert.ok(lines.length > 100);
    assert.match(m.runId, /^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
    for (const key of lines) assert.match(key, new RegExp(`scenario="rps-flood",profile="6\\.6",run="${m.runId}"\\}$`), key);
    assert.equal(value(text, "softnet_emu_window_rate", {}), 1900);
    assert.equal(value(text, "softnet_emu_lag_seconds", {}), 0.25);
    assert.equal(value(text, "softnet_emu_malformed_messages_total", { kind: "decode_error" }), 3);
    assert.equal(value(text, "softnet_emu_malformed_messages_total", { kind: "bad_version" }), 0);
    assert.equal(value(text, "softnet_emu_virtual_time_seconds", {}), 2);
    assert.equal(value(text, "softnet_emu_checker_ok", {}), 1);
  });

  it("leaves unknown run values out instead of inventing zeros", async () => {
    const { text } = await exposition([true]);
    assert.equal(value(text, "softnet_emu_window_rate", {}), undefined);
    assert.equal(value(text, "softnet_emu_lag_seconds", {}), undefined);
    const empty = await new SoftnetMetrics().metrics();
    assert.equal([...samples(empty).keys()].length, 0, "no samples before the first snapshot");
  });

  it("counts a chaos run's faults by kind as virtual time passes them, and shows the windows in effect", async () => {
    const m = new SoftnetMetrics();
    m.setFaults(FAULTS);
    const at = async (virtualNs: number) => {
      m.update([fakeCounters(0)], { ...RUN, virtualNs });
      const text = await m.metrics();
      const kinds = ["hotplug", "irq-off", "burst", "heal", "kill"].map((kind) => value(text, "softnet_emu_faults_total", { kind }));
      const active = [value(text, "softnet_emu_fault_active", { kind: "hotplug", target: "cpu 2" }), value(text, "softnet_emu_fault_active", { kind: "irq-off", target: "cpu 1" })];
      return { kinds, active };
    };
    // Every kind of the run has a series from the start; a target's appears with its first fault.
    assert.deepEqual(await at(1000), { kinds: [0, 0, 0, 0, undefined], active: [undefined, undefined] }, "a fault at t counts after t");
    assert.deepEqual(await at(1800), { kinds: [1, 1, 0, 0, undefined], active: [1, 1] });
    assert.deepEqual(await at(2500), { kinds: [1, 1, 0, 0, undefined], active: [1, 0] });
    assert.deepEqual(await at(4000), { kinds: [2, 1, 0, 0, undefined], active: [0, 0] });
    assert.deepEqual(await at(6000), { kinds: [3, 1, 0, 0, undefined], active: [1, 0] });
    assert.deepEqual(await at(20_000), { kinds: [4, 1, 0, 1, undefined], active: [0, 0] });
  });

  it("gives two runs of one scenario different run ids, and keeps a given one", async () => {
    const [a, b] = [new SoftnetMetrics(), new SoftnetMetrics()];
    assert.notEqual(a.runId, b.runId);
    assert.equal(new SoftnetMetrics({ runId: "drill-1" }).runId, "drill-1");
    assert.equal(newRunId(new Date("2026-12-03T17:05:09.123Z")).slice(0, 16), "20261203T170509Z");
  });

  it("turns a dead CPU's series on: cpu_dead 1, cpu_online 0, its softnet_stat row gone, for good", async () => {
    const m = new SoftnetMetrics();
    const rows = [0, 1, 2, 3].map((cpu) => fakeCounters(cpu));
    m.update(rows, RUN);
    let text = await m.metrics();
    for (const cpu of ["0", "1", "2", "3"]) assert.equal(value(text, "softnet_emu_cpu_dead", { cpu }), 0);
    // The coordinator declared cpu 2 dead: its row is still its last report, taken while online.
    m.update(rows, { ...RUN, deadCpus: [2], lostOnCrash: 12 });
    text = await m.metrics();
    assert.equal(value(text, "softnet_emu_cpu_dead", { cpu: "2" }), 1);
    assert.equal(value(text, "softnet_emu_cpu_online", { cpu: "2" }), 0);
    assert.equal(value(text, "node_softnet_processed_total", { cpu: "2" }), undefined, "no softnet_stat row for a dead CPU");
    assert.equal(value(text, "softnet_emu_processed_total", { cpu: "2" }), rows[2]!.processed, "its counters are kept");
    assert.equal(value(text, "softnet_emu_lost_on_crash_total", {}), 12);
    assert.equal(value(text, "softnet_emu_cpu_dead", { cpu: "1" }), 0);
    assert.equal(value(text, "softnet_emu_cpu_online", { cpu: "1" }), 1);
    // A later snapshot that does not repeat the list (the final results): still dead.
    m.update(rows, RUN);
    text = await m.metrics();
    assert.equal(value(text, "softnet_emu_cpu_dead", { cpu: "2" }), 1);
    assert.equal(value(text, "softnet_emu_cpu_online", { cpu: "2" }), 0);
    assert.deepEqual(m.deadCpus(), [2]);
  });

  it("measures the window rate: windows of virtual time per wall second over the last second", async () => {
    let now = 0;
    const m = new SoftnetMetrics({ windowNs: 500, nowMs: () => now });
    const at = async (ms: number, virtualNs: number) => {
      now = ms;
      m.update([fakeCounters(0)], { ...RUN, virtualNs });
      return value(await m.metrics(), "softnet_emu_window_rate", {});
    };
    assert.equal(await at(0, 0), undefined, "one update: no rate yet");
    assert.equal(await at(250, 1_000_000), 8000, "1 ms of virtual time = 2000 windows in 0.25 s");
    assert.equal(await at(500, 1_500_000), 6000);
    // Over the last second only: the first half second (fast) drops out.
    await at(1000, 2_000_000);
    await at(1600, 2_300_000);
    assert.equal(await at(2100, 2_600_000), (2_600_000 - 2_000_000) / 500 / 1.1);
    // Scraped between updates: the wall time since the last one counts, with no windows in it.
    now = 2600;
    assert.equal(value(await m.metrics(), "softnet_emu_window_rate", {}), (2_600_000 - 2_300_000) / 500 / 1.0);
    // No update for over a second (the run is over, or stuck): nothing advanced in the last second.
    now = 3200;
    assert.equal(value(await m.metrics(), "softnet_emu_window_rate", {}), 0);
    assert.equal(value(await new SoftnetMetrics().metrics(), "softnet_emu_window_rate", {}), undefined);
  });

  it("has no fault series in a run without faults", async () => {
    const { text } = await exposition([true]);
    assert.doesNotMatch(text, /^softnet_emu_fault/m);
  });

  it("passes promtool check metrics", { skip: skipUnless("promtool") }, async () => {
    const m = new SoftnetMetrics();
    m.setFaults(FAULTS);
    m.update([true, false, true, true].map((o, cpu) => fakeCounters(cpu, o)), { ...RUN, virtualNs: 6000, windowRate: 10, lagSeconds: 0, malformed: {} });
    const text = await m.metrics();
    assert.match(text, /^softnet_emu_fault_active\{kind="hotplug",target="cpu 2",scenario="rps-flood",profile="6\.6",run="[^"]+"\} 1$/m);
    const r = runTool("promtool", ["check", "metrics"], { input: text });
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), "", `promtool lint findings:\n${r.output}`);
  });
});
