// The outcomes each kernel profile must show (docs/DESIGN.md §1.9), in both directions, on one seeded load.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { runInProcess } from "../../engine/inprocess.ts";
import type { RunResults } from "../../model/results.ts";
import { PROFILE_NAMES } from "../../model/profiles.ts";
import { config } from "./fixtures.ts";

const E = [1, 2, 3];
const total = (r: RunResults, k: "rt_flush_warnings" | "dropped" | "lost_wakeups") => r.cpus.reduce((s, c) => s + c[k], 0);

describe("kernel profiles", () => {
  it("RT + IPI mode with RPS to idle CPUs warns; RT with backlog threads never does", () => {
    const run = (profile: string) => runInProcess(config({ load: "loopback", pps: 50_000, rpsCpus: E, profile }));
    assert.ok(total(run("rt-6.6"), "rt_flush_warnings") > 0);
    assert.equal(total(run("rt-6.6-patched"), "rt_flush_warnings"), 0);
  });

  it("backlog threads without patch 1 stall a backlog and drops climb; with it, no stall", () => {
    const run = (profile: string) => runInProcess(config({ pps: 100_000, rpsCpus: E, profile, durationNs: 60_000_000 }));
    const broken = run("threads-without-patch1");
    assert.ok(total(broken, "lost_wakeups") > 0);
    const stalled = broken.cpus.filter((c) => c.cpu > 0 && c.processed === 0 && c.backlog_len > 1000);
    assert.ok(stalled.length > 0, "a target holds a full backlog and processes nothing");
    assert.ok(broken.totals.dropped_by_reason.cpu_backlog > 0);
    const fixed = run("6.6-patched-threads");
    assert.equal(total(fixed, "lost_wakeups"), 0);
    assert.equal(fixed.totals.dropped, 0);
    for (const c of fixed.cpus.slice(1)) assert.ok(c.processed > 0 && c.backlog_len < 64);
  });

  it("loopback without RPS: threads without the local shortcut lose throughput; with it, the softirq figure is back", () => {
    const run = (profile: string) =>
      runInProcess(config({ load: "loopback", pps: 5_000_000, profile, durationNs: 10_000_000 })).totals.processed;
    const softirq = run("6.6-patched");
    const shortcut = run("6.6-patched-threads");
    const noShortcut = run("threads-without-local-shortcut");
    assert.ok(noShortcut < 0.8 * softirq, `${noShortcut} vs ${softirq}: a context switch per batch`);
    assert.ok(Math.abs(shortcut - softirq) <= 0.02 * softirq, `${shortcut} vs ${softirq}`);
  });

  it("loopback with RPS: IPI mode and thread mode end up close", () => {
    const run = (profile: string) =>
      runInProcess(config({ load: "loopback", pps: 5_000_000, rpsCpus: E, profile, durationNs: 10_000_000 })).totals.processed;
    const ipi = run("6.6-patched");
    const threads = run("6.6-patched-threads");
    assert.ok(Math.abs(ipi - threads) <= 0.1 * ipi, `${ipi} vs ${threads}`);
  });

  it("orderly offline under load: every packet is processed or counted as dropped, on every profile", () => {
    for (const profile of PROFILE_NAMES) {
      const cfg = config({
        pps: 800_000,
        rpsCpus: [0, 1, 2, 3],
        profile,
        durationNs: 12_000_000,
        events: [
          { at_ns: 2_000_000, cpu: 1, action: "offline" },
          { at_ns: 4_000_000, cpu: 0, action: "offline" },
          { at_ns: 6_000_000, cpu: 1, action: "online" },
          { at_ns: 7_000_000, cpu: 0, action: "online" },
        ],
      });
      cfg.load[0]!.end_ns = 8_000_000;
      const r = runInProcess(cfg);
      const t = r.totals;
      assert.ok(r.checker.ok, `${profile}: ${r.checker.violations.join("; ")}`);
      if (profile !== "threads-without-patch1") {
        assert.equal(t.queued + t.in_flight, 0, `${profile}: drained`);
        assert.equal(t.injected, t.processed + t.dropped, profile);
      }
    }
  });
});

describe("conservation (property)", () => {
  it("injected = processed + dropped + queued + in_flight at every checkpoint, for random seeds, loads and hotplug storms", () => {
    const event = fc.record({
      at_ns: fc.integer({ min: 0, max: 4_000_000 }),
      cpu: fc.integer({ min: 0, max: 3 }),
      action: fc.constantFrom("offline" as const, "online" as const),
    });
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 1, max: 1_000_000 }),
          profile: fc.constantFrom(...PROFILE_NAMES),
          load: fc.constantFrom("nic" as const, "loopback" as const),
          pps: fc.integer({ min: 10_000, max: 3_000_000 }),
          flows: fc.integer({ min: 1, max: 300 }),
          rps: fc.constantFrom([], [1, 2, 3], [0, 1, 2, 3], [2]),
          backlog: fc.constantFrom(16, 64, 1000),
          budget: fc.constantFrom(8, 300),
          events: fc.array(event, { maxLength: 12 }),
        }),
        (o) => {
          // Never take the last CPU: drop events that would.
          const online = new Set([0, 1, 2, 3]);
          const events = [...o.events]
            .sort((a, b) => a.at_ns - b.at_ns)
            .filter((e) => {
              if (e.action === "offline" && (online.size === 1 || !online.has(e.cpu))) return false;
              if (e.action === "online" && online.has(e.cpu)) return false;
              if (e.action === "offline") online.delete(e.cpu);
              else online.add(e.cpu);
              return true;
            });
          const r = runInProcess(
            config({
              seed: o.seed,
              profile: o.profile,
              load: o.load,
              pps: o.pps,
              flows: o.flows,
              rpsCpus: [...o.rps],
              durationNs: 5_000_000,
              sysctls: { netdev_max_backlog: o.backlog, netdev_budget: o.budget },
              events,
            }),
            { checkIntervalNs: 250_000 },
          );
          assert.ok(r.checker.ok, `seed ${o.seed}: ${r.checker.violations[0]}`);
          const t = r.totals;
          assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight);
        },
      ),
      { numRuns: 60, seed: 42 },
    );
  });
});

describe("determinism", () => {
  it("results do not depend on how far the engine advances at a time (what makes the engines agree)", () => {
    for (const profile of PROFILE_NAMES)
      for (const load of ["nic", "loopback"] as const) {
        const cfg = config({
          profile,
          load,
          pps: 600_000,
          rpsCpus: [0, 1, 2, 3],
          durationNs: 4_000_000,
          events: [
            { at_ns: 1_000_000, cpu: 2, action: "offline" },
            { at_ns: 2_500_000, cpu: 2, action: "online" },
          ],
        });
        const runs = [1_000_000, 333_333, 77_777].map((checkIntervalNs) => {
          const r = runInProcess(cfg, { checkIntervalNs });
          return JSON.stringify({ cpus: r.cpus, totals: r.totals, softnet_stat: r.softnet_stat });
        });
        assert.equal(runs[1], runs[0], `${profile} ${load}`);
        assert.equal(runs[2], runs[0], `${profile} ${load}`);
      }
  });

  it("the same scenario and seed give byte-identical results", () => {
    const cfg = config({
      pps: 700_000,
      rpsCpus: [0, 1, 2, 3],
      profile: "rt-6.6",
      rate: { kind: "poisson", pps: 700_000 },
      popularity: { kind: "zipf", s: 1.1 },
      events: [
        { at_ns: 2_000_000, cpu: 3, action: "offline" },
        { at_ns: 5_000_000, cpu: 3, action: "online" },
      ],
    });
    const a = JSON.stringify(runInProcess(cfg, { seriesIntervalNs: 1_000_000 }));
    const b = JSON.stringify(runInProcess(structuredClone(cfg), { seriesIntervalNs: 1_000_000 }));
    assert.equal(a, b);
    const c = JSON.stringify(runInProcess({ ...cfg, seed: 2 }, { seriesIntervalNs: 1_000_000 }));
    assert.notEqual(a, c, "and another seed gives another run");
  });
});
