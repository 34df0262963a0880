// CPU stalls (model/stall.ts, issue 12 item 6): a CPU loses the processor now and then while the
// others go on. Below saturation that is what gives real kernels their squeezes and their
// small-backlog drops; the schedule is seeded, so a run stays a pure function of its seed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StallDetector } from "../../chaos/stall.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import { Cpu } from "../../model/cpu.ts";
import type { EmuConfig, StallConfig } from "../../model/config.ts";
import { StallSchedule } from "../../model/stall.ts";
import { config } from "./fixtures.ts";

const MS = 1_000_000;
const ALL = [0, 1, 2, 3];

/** Loopback at 100 kpps from CPU 0 to CPUs 1-3 (IPI mode), each target about 15 % busy: far below saturation. */
function below(stalls?: Partial<StallConfig>, o: { seed?: number; backlog?: number; processNs?: number } = {}): EmuConfig {
  const cfg = config({
    load: "loopback",
    pps: 100_000,
    rpsCpus: [1, 2, 3],
    profile: "6.6",
    seed: o.seed ?? 1,
    durationNs: 100 * MS,
    // net_rx_action gives up after 2 jiffies (4-8 ms at HZ=250): only a stall inside a run lasts that long.
    sysctls: { netdev_max_backlog: o.backlog ?? 32 },
    costs: { process_per_packet_ns: o.processNs ?? 4000 },
  });
  if (stalls) cfg.stalls = { every_ns: 10 * MS, mean_ns: 4 * MS, max_ns: 40 * MS, cpus: ALL, in_softirq: true, ...stalls };
  return cfg;
}

const sum = (r: ReturnType<typeof runInProcess>, k: "dropped" | "time_squeeze") => [1, 2, 3].reduce((s, c) => s + r.cpus[c]![k], 0);

test("without stalls, this load is below saturation: no drops, no squeezes", () => {
  const r = runInProcess(below());
  assert.ok(r.checker.ok);
  assert.equal(r.totals.dropped, 0);
  assert.equal(sum(r, "time_squeeze"), 0);
});

test("stalls below saturation: backlog-32 drops on every target, every packet accounted for", () => {
  const r = runInProcess(below({}));
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  const t = r.totals;
  assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight);
  for (const c of [1, 2, 3]) assert.ok(r.cpus[c]!.drops_by_reason.cpu_backlog > 0, `cpu ${c} drops (backlog 32)`);
  for (const c of ALL) assert.ok(r.cpus[c]!.busy_ns.stalled > 0, `cpu ${c} stalled`);
  // The same stalls with the default backlog of 1000: the backlog rides them out.
  assert.equal(runInProcess(below({}, { backlog: 1000 })).totals.dropped, 0);
});

test("stalls are a pure function of the seed: same seed, same run; another seed, other stalls", () => {
  const a = runInProcess(below({}, { seed: 3 }));
  const b = runInProcess(below({}, { seed: 3 }));
  assert.deepEqual(a.cpus, b.cpus);
  assert.deepEqual(a.totals, b.totals);
  const c = runInProcess(below({}, { seed: 4 }));
  assert.notDeepEqual(
    c.cpus.map((x) => x.busy_ns.stalled),
    a.cpus.map((x) => x.busy_ns.stalled),
  );
});

test("a stall inside a NET_RX run squeezes it; in_softirq: false keeps stalls out of runs; only the CPUs listed stall", () => {
  // Targets busier (15 µs a packet, still below saturation) and stalling often, so stalls land in runs.
  const busy = { every_ns: 2 * MS, cpus: [1, 2, 3] };
  assert.equal(sum(runInProcess(below(undefined, { processNs: 15_000 })), "time_squeeze"), 0, "no squeeze without stalls");
  const inside = runInProcess(below(busy, { processNs: 15_000 }));
  assert.ok(inside.checker.ok);
  assert.ok(sum(inside, "time_squeeze") > 0, "a stall inside a NET_RX run squeezes it");
  const out = runInProcess(below({ ...busy, in_softirq: false }, { processNs: 15_000 }));
  assert.ok(out.checker.ok);
  assert.equal(sum(out, "time_squeeze"), 0, "no squeeze when no stall lands inside a run");
  assert.ok(sum(out, "dropped") > 0, "the backlog still overflows while the CPU is away");
  const r = runInProcess(below({ cpus: [2] }));
  assert.deepEqual(r.cpus.map((c) => c.busy_ns.stalled > 0), [false, false, true, false]);
});

test("the schedule: exponential gaps and log-normal lengths with the configured means, cut at max", () => {
  const cfg: StallConfig = { every_ns: 20 * MS, mean_ns: 2 * MS, max_ns: 20 * MS, cpus: [0], in_softirq: true };
  const s = new StallSchedule(cfg, 1, 0);
  let gaps = 0, lens = 0, max = 0;
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    gaps += s.nextStartNs(0);
    const len = s.lengthNs();
    lens += len;
    max = Math.max(max, len);
  }
  assert.ok(Math.abs(gaps / n / cfg.every_ns - 1) < 0.05, `mean gap ${gaps / n}`);
  // The cut at 10 × the mean takes ~1 % off a σ = 1 log-normal's mean.
  assert.ok(Math.abs(lens / n / cfg.mean_ns - 0.99) < 0.05, `mean length ${lens / n}`);
  assert.equal(max, cfg.max_ns, "the tail reaches the cut");
});

test("the stall detector excuses a CPU that lost the processor (busy_ns.stalled), then counts again", () => {
  const cpu = new Cpu(1, below());
  const at = (ns: number, stalled: number) => ({ ...cpu.counters(), input_qlen: 5, busy_ns: { ...cpu.counters().busy_ns, stalled } });
  const d = new StallDetector(4, 5 * MS, []);
  d.observe(at(0, 0), 1 * MS);
  d.observe(at(0, 12 * MS), 2 * MS); // a 12 ms stall started by now: excused until 14 ms at most
  d.observe(at(0, 12 * MS), 13 * MS);
  d.observe(at(0, 12 * MS), 18 * MS);
  assert.equal(d.stalls.length, 0, "within the stall and 5 ms after it");
  d.observe(at(0, 12 * MS), 20 * MS);
  assert.equal(d.stalls.length, 1, "no progress 5 ms after the stall's end: a stall");
  assert.equal(d.stalls[0]!.since_ns, 14 * MS);
});
