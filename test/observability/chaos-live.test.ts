// A real run, end to end: `softnet-emu run --engine processes --pace … --nemesis …` (CPU processes,
// ZeroMQ, a chaos schedule whose `kill` SIGKILLs CPU 2's process mid-run) serves /metrics while a
// real Prometheus scrapes it. Then every query of every Grafana panel and annotation runs as a range
// query, as Grafana runs it, and must return data; CPU 2's dead series turns on while the run still
// goes, lost_on_crash is counted before the end, the alerts fire in Prometheus, and the scraped
// series, handed to promtool as a rule test, fire the crash alerts there too.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { Running } from "../cli/spawn.ts";
import { ALERTS_FILE, alertRules, dashboardQueries, substitute, variableQueries } from "./dashboards.ts";
import { Prometheus, freePort, num, runTool, skipUnless, type PromRangeSeries } from "./harness.ts";

const SCRAPE = "250ms";
/** Grafana's $__rate_interval for a 250 ms scrape: four scrape intervals. */
const RATE_INTERVAL = "1s";
const STEP_SECONDS = 0.25;
const END_NS = 60_000_000;
/** Chaos for 40 ms of virtual time, then the heal and at most 20 ms of drain: 60 ms, ~6 s of wall time at 0.01. */
const ARGS = [
  "run",
  "--engine", "processes",
  "--pace", "0.01",
  "--chaos-duration", "40ms",
  "--rate", "200000",
  "--nemesis", "hotplug:interval=8ms,dwell=6ms",
  "--nemesis", "irq-off:interval=10ms,duration=2ms",
  "--nemesis", "burst:interval=12ms,duration=4ms",
  "--nemesis", "sysctl:interval=10ms,dwell=6ms,min=4,max=64",
  "--nemesis", "kill:at=20ms,cpu=2",
  "--keep-alive",
];

describe("a paced chaos run of the process engine, scraped by a real Prometheus", { skip: skipUnless("prometheus", "promtool") }, () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-chaos-live-"));
  let prom: Prometheus;
  let run: Running | undefined;
  let results: RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } };
  let startSeconds = 0;
  let endSeconds = 0;
  let runId = "";

  before(async () => {
    const port = await freePort();
    prom = await Prometheus.start({ targets: [`127.0.0.1:${port}`], scrapeInterval: SCRAPE, ruleFiles: [ALERTS_FILE] });
    // Prometheus applies its target list some seconds after it is ready: start the run once it scrapes (up is 0 until the run listens).
    await prom.waitForData("up", 1, 30_000);
    startSeconds = Date.now() / 1000;
    run = Running.start([...ARGS, "--metrics-port", String(port), "--json", join(dir, "results.json")]);
    // --keep-alive: the run is over, its last snapshot stays served; wait until Prometheus has it.
    await run.stderrMatch(/the run is over; still serving/, 180_000);
    results = JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as typeof results;
    await prom.waitForData(`softnet_emu_virtual_time_seconds >= ${END_NS / 1e9}`, 1, 15_000);
    endSeconds = Date.now() / 1000 + 1;
    runId = (await prom.query("softnet_emu_cpus"))[0]?.metric["run"] ?? "";
  });

  after(async () => {
    run?.kill("SIGTERM");
    await run?.exited;
    await prom?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const range = (expr: string): Promise<PromRangeSeries[]> => prom.queryRange(expr, startSeconds, endSeconds, STEP_SECONDS);
  const finite = (series: PromRangeSeries[]): number => series.reduce((n, s) => n + s.values.filter(([, v]) => Number.isFinite(Number(v))).length, 0);

  it("ran as asked: process engine, CPU 2 killed mid-run, degraded with its packets accounted", () => {
    assert.equal(results.engine, "processes");
    assert.equal(results.virtual_ns, END_NS);
    assert.deepEqual(results.degraded?.dead_cpus, [2], run!.stderr);
    assert.ok(results.faults?.some((f) => f.kind === "kill"), "the kill is one of the faults");
    assert.match(runId, /^\d{8}T\d{6}Z-[0-9a-f]{4}$/);
  });

  it("every dashboard panel and annotation query returns data, as Grafana runs it", async (t) => {
    const queries = dashboardQueries();
    assert.ok(queries.length >= 50, `only ${queries.length} queries`);
    const empty: string[] = [];
    for (const q of queries) {
      const expr = substitute(q.expr, { rateInterval: RATE_INTERVAL });
      const points = q.instant ? (await prom.query(expr, endSeconds)).filter((s) => Number.isFinite(num(s))).length : finite(await range(expr));
      if (points === 0) empty.push(`${q.where}: ${q.expr}`);
    }
    assert.deepEqual(empty, [], `${empty.length} of ${queries.length} queries returned no data`);
    t.diagnostic(`${queries.length} panel and annotation queries, each with data, over ${Math.round(endSeconds - startSeconds)} s of scrapes`);
    // The same with this run picked in every variable, as a user looking at it would.
    for (const q of queries) {
      const expr = substitute(q.expr, { rateInterval: RATE_INTERVAL, scenario: "default", run: runId, profile: results.profile });
      const points = q.instant ? (await prom.query(expr, endSeconds)).length : finite(await range(expr));
      assert.ok(points > 0, `${q.where} with run=${runId}: no data for ${expr}`);
    }
    for (const v of variableQueries()) assert.ok((await prom.query(substitute(v.expr, { rateInterval: RATE_INTERVAL }), endSeconds)).length > 0, v.where);
  });

  it("turns CPU 2's dead series on while the run goes on, and only CPU 2's", async (t) => {
    const dead = await range("softnet_emu_cpu_dead");
    assert.deepEqual(dead.map((s) => s.metric["cpu"]).sort(), ["0", "1", "2", "3"]);
    for (const s of dead) {
      const values = s.values.map(([, v]) => Number(v));
      if (s.metric["cpu"] !== "2") assert.ok(values.every((v) => v === 0), `cpu ${s.metric["cpu"]} never dead`);
      else {
        assert.equal(values[0], 0, "alive at first");
        assert.equal(values.at(-1), 1, "dead at the end");
        // Once dead, dead for good.
        assert.deepEqual(values.slice(values.indexOf(1)), values.slice(values.indexOf(1)).map(() => 1));
      }
    }
    const diedAt = dead.find((s) => s.metric["cpu"] === "2")!.values.find(([, v]) => v === "1")![0];
    const vt = num((await prom.query("softnet_emu_virtual_time_seconds", diedAt))[0]);
    assert.ok(vt < END_NS / 1e9, `dead series on at virtual ${vt} s, before the end of the run`);
    t.diagnostic(`cpu 2 dead from virtual ${(vt * 1e3).toFixed(1)} ms (killed at 20 ms, the run ends at ${END_NS / 1e6} ms)`);
    // Offline for good, its softnet_stat row gone, as a real host's after a surprise removal.
    assert.equal(num((await prom.query('softnet_emu_cpu_online{cpu="2"}', endSeconds))[0]), 0);
    assert.deepEqual((await prom.query('node_softnet_processed_total{cpu="2"}', endSeconds)).length, 0);
  });

  it("counts lost_on_crash as soon as it is known, before the run ends, and as the results do", async (t) => {
    const lost = results.totals.lost_on_crash;
    assert.equal(num((await prom.query("softnet_emu_lost_on_crash_total", endSeconds))[0]), lost);
    if (lost === 0) return; // CPU 2 held nothing when it died: nothing to see move
    const series = (await range("softnet_emu_lost_on_crash_total"))[0]!;
    const known = series.values.find(([, v]) => Number(v) > 0)![0];
    const vt = num((await prom.query("softnet_emu_virtual_time_seconds", known))[0]);
    assert.ok(vt < END_NS / 1e9, `lost_on_crash known at virtual ${vt} s, before the end`);
    t.diagnostic(`lost_on_crash ${lost}, first scraped at virtual ${(vt * 1e3).toFixed(1)} ms`);
  });

  it("sets the window rate: windows of virtual time per wall second, about the paced speed", async () => {
    const rates = (await range("softnet_emu_window_rate"))[0]!.values.map(([, v]) => Number(v));
    assert.ok(rates.length > 0 && rates.some((r) => r > 0), "window rate never set");
    // At --pace 0.01 the run advances at most 10 ms of virtual time per wall second (it may lag, never lead by much).
    const most = (0.01 * 1e9) / results.window_ns;
    assert.ok(Math.max(...rates) < 3 * most, `window rate ${Math.max(...rates)} beyond 3× the paced ${most}`);
  });

  it("fires SoftnetCpuDead (and SoftnetCpuLost) in Prometheus' own rule evaluation", async () => {
    const firing = await prom.waitForData('ALERTS{alertname="SoftnetCpuDead"}', 1, 10_000);
    assert.deepEqual(firing.map((s) => [s.metric["cpu"], s.metric["run"]]), [["2", runId]]);
    if (results.totals.lost_on_crash > 0) await prom.waitForData('ALERTS{alertname="SoftnetCpuLost"}', 1, 10_000);
  });

  it("fires the crash alerts in a promtool rule test made of the scraped series", async () => {
    // The scraped series at one point a second, from the start to the end, as promtool input.
    const at = (series: PromRangeSeries[], t: number): string => {
      const p = [...series[0]!.values].reverse().find(([ts]) => ts <= t);
      return p ? String(Number(p[1])) : "_";
    };
    const seconds = Math.ceil(endSeconds - startSeconds);
    const times = Array.from({ length: seconds + 1 }, (_, k) => startSeconds + k);
    const input: string[] = [];
    const labels = (metric: Record<string, string>): string =>
      Object.entries(metric)
        .filter(([k]) => k !== "__name__" && k !== "instance" && k !== "job")
        .map(([k, v]) => `${k}="${v}"`)
        .join(",");
    for (const name of ["softnet_emu_cpu_dead", "softnet_emu_lost_on_crash_total"]) {
      for (const s of await range(name)) input.push(`      - series: '${name}{${labels(s.metric)}}'\n        values: '${times.map((t) => at([s], t)).join(" ")}'`);
    }
    const lost = results.totals.lost_on_crash;
    const exp = (alert: string, list: string): string => `      - eval_time: ${seconds}s\n        alertname: ${alert}\n        exp_alerts:\n${list}`;
    const where = `default, ${results.profile}, run ${runId}`;
    const deadAlert = [
      `          - exp_labels: {severity: critical, cpu: "2", scenario: default, profile: "${results.profile}", run: "${runId}"}`,
      "            exp_annotations:",
      `              summary: "CPU 2's process died"`,
      `              description: "CPU 2 (${where}) was declared dead and surprise-removed: it is offline for good and the run is degraded; what it held counts as lost_on_crash."`,
      "",
    ].join("\n");
    const lostAlert = [
      `          - exp_labels: {severity: critical, scenario: default, profile: "${results.profile}", run: "${runId}"}`,
      "            exp_annotations:",
      `              summary: "A CPU process crashed and packets were lost"`,
      `              description: "${lost} packets were lost with a crashed CPU process (${where}); see the coordinator's log for which CPU."`,
      "",
    ].join("\n");
    const test = [
      "rule_files:",
      `  - ${JSON.stringify(ALERTS_FILE)}`,
      "evaluation_interval: 1s",
      "tests:",
      "  - interval: 1s",
      "    input_series:",
      ...input,
      "    alert_rule_test:",
      "      - eval_time: 0s\n        alertname: SoftnetCpuDead\n        exp_alerts: []",
      exp("SoftnetCpuDead", deadAlert),
      lost > 0 ? exp("SoftnetCpuLost", lostAlert) : "",
      "",
    ].join("\n");
    const file = join(dir, "crash.test.yml");
    writeFileSync(file, test);
    const r = runTool("promtool", ["test", "rules", file]);
    assert.equal(r.status, 0, `${r.output}\n${test}`);
    assert.match(r.output, /SUCCESS/);
    // The file must be able to fail: the same series expecting CPU 1 dead instead.
    writeFileSync(file, test.replace(`cpu: "2", scenario`, `cpu: "1", scenario`));
    assert.notEqual(runTool("promtool", ["test", "rules", file]).status, 0);
    assert.ok(alertRules().some((a) => a.alert === "SoftnetCpuDead"));
  });
});
