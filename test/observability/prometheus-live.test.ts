// A real Prometheus scrapes live /metrics servers while three real runs — one of them a chaos run,
// with its fault metrics — are replayed checkpoint by checkpoint; every query of every Grafana
// panel and annotation, every dashboard variable and every alert expression then runs through its
// HTTP API and must return data, with numbers that agree with the runs' results.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHttpServer, type HttpServerHandle } from "../../observe/http.ts";
import { SoftnetMetrics, type RunStatus } from "../../observe/metrics.ts";
import { LATENCY_BUCKETS_NS, type CpuResult } from "../../model/results.ts";
import { ALERTS_FILE, alertRules, dashboardQueries, substitute, variableQueries, type NamedQuery } from "./dashboards.ts";
import { Prometheus, byLabel, num, skipUnless, sleep, waitFor, type PromSample } from "./harness.ts";
import { CHAOS_RUN, observedChaosRun, observedRun, type ObservedRun } from "./runs.ts";

const STEPS = 6;
/** Each checkpoint is served at least this long (two scrapes or more at 250 ms), and until scraped. */
const STEP_MS = 500;
/** Grafana's $__rate_interval here, unless the replay's scrapes were further apart (see before()). */
const MIN_RATE_INTERVAL_S = 3;
/**
 * Liveness only: how long to wait for Prometheus to have scraped something. Under load a scrape
 * can miss its 250 ms timeout again and again for seconds.
 */
const LIVENESS_MS = 120_000;
const DRILL = "crash-drill";
const ALERTS_SELECTOR = 'ALERTS{alertstate=~"pending|firing"}';
/** Panels that are empty by design for an unpaced in-process run. */
const EMPTY_WITHOUT_PACING = new Set(["Lag behind wall-clock"]);
/** Panel and annotation queries with data only in a chaos run. */
const needsFaults = (q: NamedQuery): boolean => q.expr.includes("softnet_emu_fault");

interface Target {
  name: string;
  metrics: SoftnetMetrics;
  server?: HttpServerHandle;
}

/**
 * Prometheus' histogram_quantile (promql/quantile.go bucketQuantile) over cumulative buckets,
 * so the test can predict the dashboards' latency numbers from the results.
 */
function bucketQuantile(q: number, upper: number[], cumulative: number[]): number {
  const total = cumulative[cumulative.length - 1]!;
  if (total === 0) return Number.NaN;
  let rank = q * total;
  const b = cumulative.findIndex((c) => c >= rank);
  if (b === cumulative.length - 1) return upper[upper.length - 2]!;
  let start = 0;
  let count = cumulative[b]!;
  if (b > 0) {
    start = upper[b - 1]!;
    count -= cumulative[b - 1]!;
    rank -= cumulative[b - 1]!;
  }
  return start + (upper[b]! - start) * (rank / count);
}

function mergedCumulativeBuckets(cpus: readonly CpuResult[]): number[] {
  const merged = new Array<number>(LATENCY_BUCKETS_NS.length + 1).fill(0);
  for (const c of cpus) c.latency_buckets.forEach((n, i) => (merged[i]! += n));
  let acc = 0;
  return merged.map((n) => (acc += n));
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

describe("dashboards and alerts against a real Prometheus", { skip: skipUnless("prometheus") }, () => {
  const runs: ObservedRun[] = [];
  const targets: Target[] = [];
  let prom: Prometheus;
  let startSeconds = 0;
  let endSeconds = 0;
  /** $__rate_interval: it spans the longest gap between two checkpoints' scrapes. */
  let rateInterval = `${MIN_RATE_INTERVAL_S}s`;
  /** A range that reaches back over the whole replay from endSeconds. */
  let replayRange = "1m";
  let alerts: PromSample[] = [];

  before(async () => {
    const names = ["rt-ipi", "lost-wakeup", CHAOS_RUN.scenario, DRILL];
    for (const name of names) {
      const metrics = new SoftnetMetrics();
      targets.push({ name, metrics, server: await startHttpServer({ port: 0, host: "127.0.0.1", metrics }) });
    }
    prom = await Prometheus.start({
      targets: targets.map((t) => `127.0.0.1:${t.server!.port}`),
      scrapeInterval: "250ms",
      ruleFiles: [ALERTS_FILE],
    });
    // Prometheus applies its first target list up to 5 s after start: run the emulator meanwhile.
    runs.push(observedRun("rt-ipi", STEPS), observedRun("lost-wakeup", STEPS), await observedChaosRun(STEPS));
    runs.forEach((r, i) => targets[i]!.metrics.setFaults(r.faults));
    await prom.waitForData("up == 1", targets.length, LIVENESS_MS);

    // Replay: every run's checkpoints in wall-clock time, so rates and alerts see them move.
    startSeconds = Date.now() / 1000;
    const wallStart = performance.now();
    // Wall time from one checkpoint's update to the next one's first sample in Prometheus: the
    // widest gap a rate() or changes() window must span to see both (gap ≤ two steps).
    let longestTwoSteps = 0;
    let previousUpdate = performance.now();
    for (let k = 0; k < STEPS; k++) {
      const updatedAt = performance.now();
      const elapsed = Math.max(0.001, (performance.now() - wallStart) / 1000);
      runs.forEach((r, i) => {
        const status: RunStatus = {
          scenario: r.scenario,
          profile: r.cfg.profile.name,
          virtualNs: r.times_ns[k]!,
          windowRate: r.times_ns[k]! / r.cfg.window_ns / elapsed,
          lostOnCrash: 0,
          checkerOk: k < STEPS - 1 || r.results.checker.ok,
        };
        targets[i]!.metrics.update(r.snapshots[k]!, status);
      });
      // The drill is what a coordinator reports after a CPU process was killed mid-run.
      const base = runs[0]!;
      targets[3]!.metrics.update(base.snapshots[k]!, {
        scenario: DRILL,
        profile: base.cfg.profile.name,
        virtualNs: base.times_ns[k]!,
        windowRate: 1000,
        lagSeconds: 0.05 * k,
        malformed: { decode_error: k },
        lostOnCrash: k >= 2 ? 37 : 0,
        checkerOk: k < 3,
        ...(k >= 2 ? { deadCpus: [2] } : {}),
      });
      await sleep(STEP_MS);
      // Not a timed step: under load scrapes time out, so go on only once every target's
      // checkpoint k is in Prometheus, or it could be missed by every scrape.
      await prom.waitForData(`softnet_emu_snapshots_total == ${k + 1}`, targets.length, LIVENESS_MS);
      const now = performance.now();
      longestTwoSteps = Math.max(longestTwoSteps, now - previousUpdate);
      previousUpdate = updatedAt;
    }
    endSeconds = await settledEnd();
    rateInterval = `${Math.max(MIN_RATE_INTERVAL_S, Math.ceil(longestTwoSteps / 1000 + 0.5))}s`;
    replayRange = `${Math.ceil(endSeconds - startSeconds) + 1}s`;
    // Prometheus' own alerts: each one pending or firing at some evaluation since the replay
    // began. Not only at one instant: a failed scrape marks its target's series stale, and an
    // alert whose expression has no data at an evaluation goes back to inactive.
    const raisedQuery = (): string =>
      `count by (alertname) (max_over_time(${ALERTS_SELECTOR}[${Math.ceil(Date.now() / 1000 - startSeconds) + 1}s]))`;
    // The window is rebuilt at each poll so that it always reaches back to the replay's start.
    const raised = async (): Promise<PromSample[] | undefined> => {
      const got = await prom.query(raisedQuery());
      return got.length >= alertRules().length ? got : undefined;
    };
    alerts = await waitFor("every alert to be raised", raised, LIVENESS_MS).catch(async () => prom.query(raisedQuery()));
  });

  /**
   * A time at which every target's latest sample is a scrape of the final checkpoint. A failed
   * scrape (a timeout, under load) marks all of its target's series stale at its start, and an
   * instant query at that time sees none of them. So take a time, wait until every target has been
   * scraped after it (a target's scrapes run one after another: none started before it is still to
   * be stored), and keep it if every target has data there; else try a later one.
   */
  async function settledEnd(): Promise<number> {
    return waitFor("a time at which every target's final checkpoint is in Prometheus", async () => {
      const t = Date.now() / 1000;
      await prom.waitForData(`timestamp(up) > ${t}`, targets.length, LIVENESS_MS);
      const final = await prom.query(`softnet_emu_snapshots_total == ${STEPS}`, t);
      return final.length === targets.length ? t : undefined;
    }, LIVENESS_MS, 0);
  }

  after(async () => {
    await prom?.stop();
    for (const t of targets) await t.server?.close();
  });

  async function rangeQuery(expr: string): Promise<{ metric: Record<string, string>; values: [number, string][] }[]> {
    const params = new URLSearchParams({
      query: expr,
      start: String(startSeconds),
      end: String(endSeconds),
      step: "0.25",
    });
    const r = await fetch(`${prom.url}/api/v1/query_range`, { method: "POST", body: params });
    const body = (await r.json()) as { status: string; error?: string; data: { result: { metric: Record<string, string>; values: [number, string][] }[] } };
    if (body.status !== "success") throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  /** Run a panel's query the way Grafana does (range, or instant for tables) and count finite points. */
  async function runPanel(q: NamedQuery, vars: { scenario?: string; profile?: string }): Promise<number> {
    const expr = substitute(q.expr, { ...vars, rateInterval });
    if (q.instant) return (await prom.query(expr, endSeconds)).filter((s) => Number.isFinite(num(s))).length;
    const series = await rangeQuery(expr);
    return sum(series.map((s) => s.values.filter(([, v]) => Number.isFinite(Number(v))).length));
  }

  const at = (expr: string): Promise<PromSample[]> => prom.query(expr, endSeconds);

  it("every dashboard panel query returns data for all runs", async (t) => {
    t.diagnostic(`replay over ${replayRange}, $__rate_interval ${rateInterval}`);
    const queries = dashboardQueries();
    assert.ok(queries.length >= 40, `only ${queries.length} queries found`);
    for (const q of queries) assert.ok((await runPanel(q, {})) > 0, `${q.where}: no data for ${q.expr}`);
  });

  it("every dashboard panel query returns data for each run on its own", async () => {
    for (const r of runs) {
      const vars = { scenario: r.scenario, profile: r.cfg.profile.name };
      for (const q of dashboardQueries()) {
        if ([...EMPTY_WITHOUT_PACING].some((title) => q.where.includes(`/ ${title} /`))) continue;
        if (!r.faults && needsFaults(q)) continue;
        assert.ok((await runPanel(q, vars)) > 0, `${q.where} (${r.scenario}): no data for ${q.expr}`);
      }
    }
  });

  it("dashboard variables offer the runs, profiles and CPUs", async () => {
    const vars = variableQueries();
    assert.ok(vars.length >= 5);
    for (const v of vars) assert.ok((await at(substitute(v.expr, { rateInterval }))).length > 0, `${v.where}: ${v.expr}`);
    const scenarios = (await at("count by (scenario) (softnet_emu_cpus)")).map((s) => s.metric["scenario"]).sort();
    assert.deepEqual(scenarios, [CHAOS_RUN.scenario, DRILL, "lost-wakeup", "rt-ipi"]);
    const cpus = (await at('count by (cpu) (softnet_emu_cpu_online{scenario=~"lost-wakeup"})')).map((s) => s.metric["cpu"]).sort();
    assert.deepEqual(cpus, ["0", "1", "2", "3"], "an offline CPU stays selectable");
  });

  it("node_exporter-style series agree with the results, offline CPUs absent", async () => {
    for (const r of runs) {
      const sel = `{scenario="${r.scenario}"}`;
      const online = r.results.cpus.filter((c) => c.online);
      const checks: [string, (c: CpuResult) => number][] = [
        ["node_softnet_processed_total", (c) => c.processed],
        ["node_softnet_dropped_total", (c) => c.dropped],
        ["node_softnet_times_squeezed_total", (c) => c.time_squeeze],
        ["node_softnet_received_rps_total", (c) => c.received_rps],
        ["node_softnet_flow_limit_count_total", (c) => c.flow_limit_count],
        ["node_softnet_backlog_len", (c) => c.backlog_len],
      ];
      for (const [name, value] of checks) {
        const got = byLabel(await at(`${name}${sel}`), "cpu");
        assert.deepEqual(got, new Map(online.map((c) => [String(c.cpu), value(c)])), `${name} (${r.scenario})`);
      }
      const all = byLabel(await at(`softnet_emu_processed_total${sel}`), "cpu");
      assert.deepEqual(all, new Map(r.results.cpus.map((c) => [String(c.cpu), c.processed])), `softnet_emu_processed_total (${r.scenario})`);
      const onlineGauge = byLabel(await at(`softnet_emu_cpu_online${sel}`), "cpu");
      assert.deepEqual(onlineGauge, new Map(r.results.cpus.map((c) => [String(c.cpu), c.online ? 1 : 0])));
    }
    assert.equal(runs[1]!.results.cpus[3]!.online, false, "lost-wakeup ends with CPU 3 offline");
  });

  it("the profile-comparison table and totals agree with the results", async () => {
    const table = dashboardQueries().filter((q) => q.where.startsWith("compare-profiles.json / Per profile /"));
    assert.equal(table.length, 7);
    for (const r of runs) {
      const vars = { scenario: r.scenario, profile: r.cfg.profile.name, rateInterval };
      const values = await Promise.all(table.map(async (q) => num((await at(substitute(q.expr, vars)))[0])));
      const cpus = r.results.cpus;
      const upper = [...LATENCY_BUCKETS_NS.map((ns) => ns / 1e9), Number.POSITIVE_INFINITY];
      const p99 = bucketQuantile(0.99, upper, mergedCumulativeBuckets(cpus));
      assert.deepEqual(values.slice(0, 6), [
        r.results.totals.processed,
        sum(cpus.map((c) => c.dropped)),
        sum(cpus.map((c) => c.time_squeeze)),
        sum(cpus.map((c) => c.received_rps)),
        sum(cpus.map((c) => c.thread_wakeups)),
        sum(cpus.map((c) => c.rt_flush_warnings)),
      ], r.scenario);
      assert.ok(Math.abs(values[6]! - p99) <= 1e-12 * p99, `p99 ${values[6]} vs ${p99} (${r.scenario})`);
      // The results' own p99 is the upper bound of the bucket Prometheus interpolates in.
      const bucket = LATENCY_BUCKETS_NS.findIndex((ns) => ns / 1e9 >= values[6]!);
      const resultsP99 = r.results.latency_ns.p99;
      assert.ok(
        resultsP99 <= (LATENCY_BUCKETS_NS[bucket] ?? Infinity) && resultsP99 > (LATENCY_BUCKETS_NS[bucket - 1] ?? 0),
        `results p99 ${resultsP99} ns outside Prometheus' bucket for ${values[6]} s`,
      );
      const drops = num((await at(`sum(softnet_emu_drops_total{scenario="${r.scenario}"})`))[0]);
      assert.equal(drops, r.results.totals.dropped, "drops by reason sum to the results' total");
      const kept = dashboardQueries().filter((q) => q.where.includes("Σ processed"));
      const [visible, all] = await Promise.all(kept.map(async (q) => num((await at(substitute(q.expr, vars)))[0])));
      assert.equal(visible, sum(cpus.filter((c) => c.online).map((c) => c.processed)), "the node_exporter view: online rows only");
      assert.equal(all, r.results.totals.processed, "the kept-counter view: every CPU");
      const vt = num((await at(`softnet_emu_virtual_time_seconds{scenario="${r.scenario}"}`))[0]);
      assert.equal(vt, r.results.virtual_ns / 1e9);
      const hotplug = byLabel(await at(`sum by (action) (softnet_emu_hotplug_events_total{scenario="${r.scenario}"})`), "action");
      assert.deepEqual(hotplug, new Map([["offline", sum(cpus.map((c) => c.hotplug_offline))], ["online", sum(cpus.map((c) => c.hotplug_online))]]));
    }
  });

  it("the fault panels and annotations agree with the chaos run's faults[]", async () => {
    const chaos = runs.find((r) => r.faults)!;
    const faults = chaos.results.faults!;
    const vars = { scenario: chaos.scenario, rateInterval };
    const queries = dashboardQueries().filter(needsFaults);
    assert.deepEqual(queries.map((q) => q.where).sort(), [
      "overview.json / Faults applied / A",
      "overview.json / Faults in effect / A",
      "overview.json / annotation Chaos faults",
      "overview.json / annotation Chaos heal",
    ]);
    const query = (where: string): NamedQuery => queries.find((q) => q.where.includes(where))!;

    // Faults applied, at the end: every fault of faults[] by its nemesis (heal included).
    const byKind = new Map<string, number>();
    for (const f of faults) byKind.set(f.nemesis, (byKind.get(f.nemesis) ?? 0) + 1);
    assert.deepEqual(byLabel(await at(substitute(query("Faults applied").expr, vars)), "kind"), byKind);
    assert.deepEqual([...byKind.keys()].sort(), ["burst", "heal", "hotplug", "irq-off", "sysctl"]);

    // Faults in effect: a target was 1 at some replayed checkpoint iff one of its windows covered it.
    const inEffect = await at(`max_over_time((${substitute(query("Faults in effect").expr, vars)})[${replayRange}:250ms])`);
    const expected = new Map<string, number>();
    for (const w of chaos.faults!.windows) {
      const key = `${w.kind}/${w.target}`;
      const covered = chaos.times_ns.some((t) => w.from_ns < t && t <= w.to_ns) ? 1 : 0;
      if (w.from_ns < chaos.times_ns.at(-1)!) expected.set(key, Math.max(expected.get(key) ?? 0, covered));
    }
    assert.deepEqual(new Map(inEffect.map((s) => [`${s.metric["kind"]}/${s.metric["target"]}`, num(s)])), expected);
    assert.ok([...expected.values()].includes(1) && [...expected.keys()].some((k) => k.startsWith("hotplug/")));
    const last = await at(substitute(query("Faults in effect").expr, vars));
    assert.ok(last.length > 0 && last.every((s) => num(s) === 0), "nothing in effect after the heal");

    // Annotations: a kind is marked where its count moved between two replayed checkpoints.
    const countsAt = (t: number): Map<string, number> => {
      const m = new Map<string, number>();
      for (const f of faults) if (f.at_ns < t) m.set(f.nemesis, (m.get(f.nemesis) ?? 0) + 1);
      return m;
    };
    const moved = new Set<string>();
    for (let k = 1; k < chaos.times_ns.length; k++) {
      const [a, b] = [countsAt(chaos.times_ns[k - 1]!), countsAt(chaos.times_ns[k]!)];
      for (const kind of b.keys()) if (a.get(kind) !== b.get(kind)) moved.add(kind);
    }
    const marked = async (where: string): Promise<string[]> =>
      [...new Set((await rangeQuery(substitute(query(where).expr, vars))).map((s) => s.metric["kind"]!))].sort();
    assert.deepEqual(await marked("annotation Chaos faults"), [...moved].filter((k) => k !== "heal").sort());
    assert.deepEqual(await marked("annotation Chaos heal"), ["heal"]);
  });

  it("rate panels move where the run moved", async () => {
    // Over the whole replay: a CPU that processed packets between the first and last checkpoint
    // has a positive rate; one that processed none has none.
    for (const r of runs) {
      const rates = byLabel(await at(`rate(softnet_emu_processed_total{scenario="${r.scenario}"}[${replayRange}])`), "cpu");
      for (const c of r.results.cpus) {
        const moved = c.processed - r.snapshots[0]![c.cpu]!.processed;
        assert.equal(rates.get(String(c.cpu))! > 0, moved > 0, `cpu ${c.cpu} of ${r.scenario}: rate ${rates.get(String(c.cpu))}, moved ${moved}`);
      }
    }
  });

  it("every alert expression returns data, on the CPUs the results point at", async () => {
    const firing = new Map<string, PromSample[]>();
    for (const rule of alertRules()) {
      const got = await at(rule.expr);
      assert.ok(got.length > 0, `${rule.alert}: no data for ${rule.expr}`);
      firing.set(rule.alert, got);
    }
    const who = (alert: string): string[] =>
      (firing.get(alert) ?? []).map((s) => `${s.metric["scenario"]}/${s.metric["cpu"] ?? "-"}`).sort();
    const expected = (pick: (r: ObservedRun, c: CpuResult) => boolean, scenarios = runs): string[] =>
      scenarios.flatMap((r) => r.results.cpus.filter((c) => pick(r, c)).map((c) => `${r.scenario}/${c.cpu}`)).sort();
    const first = (r: ObservedRun, c: CpuResult): CpuResult => r.snapshots[0]![c.cpu]!;

    // rate() looks back over its range: a CPU that dropped and then went offline still counts.
    const seenOnline = (r: ObservedRun, cpu: number): CpuResult[] => r.snapshots.map((s) => s[cpu]!).filter((c) => c.online);
    assert.deepEqual(
      who("SoftnetPacketDrops"),
      expected((r, c) => {
        const rows = seenOnline(r, c.cpu);
        return rows.length > 1 && rows[rows.length - 1]!.dropped > rows[0]!.dropped;
      }),
    );
    assert.ok(who("SoftnetPacketDrops").length > 0);
    const stalled = expected(
      (r, c) => c.online && c.backlog_len > 0 && r.snapshots.every((s) => !s[c.cpu]!.online || s[c.cpu]!.processed === c.processed),
    );
    assert.deepEqual(who("SoftnetBacklogStalled"), stalled);
    assert.ok(stalled.every((s) => s.startsWith("lost-wakeup/")) && stalled.length > 0, `stalled: ${stalled.join()}`);
    const drill = { ...runs[0]!, scenario: DRILL };
    assert.deepEqual(who("SoftnetRtFlushWarning"), expected((r, c) => c.rt_flush_warnings > first(r, c).rt_flush_warnings, [...runs, drill]));
    assert.ok(who("SoftnetTimeSqueezeSustained").includes("rt-ipi/0"), `netdev_budget=8 squeezes CPU 0: ${who("SoftnetTimeSqueezeSustained").join()} ${JSON.stringify(await at('rate(node_softnet_times_squeezed_total{scenario="rt-ipi"}[5m])'))}`);
    assert.deepEqual(who("SoftnetCpuLost"), [`${DRILL}/-`]);
    assert.deepEqual(who("SoftnetCpuDead"), [`${DRILL}/2`]);
    assert.deepEqual(who("SoftnetCheckerFailed"), [`${DRILL}/-`]);
  });

  it("Prometheus' own rule evaluation raises every alert", async () => {
    const names = alertRules().map((r) => r.alert).sort();
    assert.deepEqual(alerts.map((s) => s.metric["alertname"]).sort(), names);
  });
});
