// Scrape cost (issue 4): /metrics size and render time with 64 CPUs, and the emulator's
// throughput while Prometheus-like scrapes hit /metrics every second vs no scrape at all.
// The in-process engine is the worst case: the registry renders on the thread that emulates.
//   npm run bench -- scrape            (SCRAPE_BENCH_VIRTUAL_MS, SCRAPE_BENCH_ROUNDS to resize)
import { spawn } from "node:child_process";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { resolveConfig } from "../config/resolve.ts";
import { startHttpServer } from "../observe/http.ts";
import { SoftnetMetrics, type RunStatus } from "../observe/metrics.ts";
import { attribute } from "../engine/aggregate.ts";
import { advanceAll, runInProcess } from "../engine/inprocess.ts";
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";

const CPUS = 64;
const RATE_PPS = 1_000_000;
const VIRTUAL_MS = Number(process.env["SCRAPE_BENCH_VIRTUAL_MS"] ?? 3000);
const ROUNDS = Number(process.env["SCRAPE_BENCH_ROUNDS"] ?? 3);
/** Virtual time between two metrics updates (and two yields to the event loop). */
const STEP_NS = 1_000_000;
const MS = 1_000_000;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function config(durationNs: number): EmuConfig {
  return resolveConfig(undefined, { cpus: CPUS, duration_ns: durationNs, rate_pps: RATE_PPS });
}

function status(cfg: EmuConfig, virtualNs: number): RunStatus {
  return { scenario: "bench", profile: cfg.profile.name, virtualNs, windowRate: 0, lostOnCrash: 0, checkerOk: true };
}

/** Size and render time of /metrics for a 64-CPU run's counters. */
async function exposition(): Promise<void> {
  const cfg = config(20 * MS);
  const results = runInProcess(cfg);
  const metrics = new SoftnetMetrics();
  metrics.update(results.cpus, status(cfg, cfg.duration_ns));
  const text = await metrics.metrics();
  const samples = text.split("\n").filter((l) => l !== "" && !l.startsWith("#")).length;
  for (let i = 0; i < 20; i++) await metrics.metrics(); // warm up
  const render: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    await metrics.metrics();
    render.push(performance.now() - t);
  }
  const server = await startHttpServer({ port: 0, host: "127.0.0.1", metrics });
  const http: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t = performance.now();
    await (await fetch(`${server.url}/metrics`)).text();
    http.push(performance.now() - t);
  }
  await server.close();
  console.log(`/metrics with ${CPUS} CPUs: ${(Buffer.byteLength(text) / 1024).toFixed(0)} KiB, ${samples} samples`);
  console.log(`  render (registry.metrics): median ${median(render).toFixed(2)} ms, max ${Math.max(...render).toFixed(2)} ms`);
  console.log(`  HTTP GET on loopback:      median ${median(http).toFixed(2)} ms`);
  // The exporter's side of a scrape runs on the emulating thread: its share at a 1 s interval.
  console.log(`  => one scrape per second costs about ${(median(http) / 10).toFixed(1)} % of the emulating thread`);
}

/**
 * Emulate VIRTUAL_MS of a 64-CPU flood, updating the registry every STEP_NS and yielding to the
 * event loop so the HTTP server can answer; packets processed per wall-clock second.
 */
async function throughput(scrape: boolean): Promise<{ wall: number; cpu: number }> {
  const cfg = config(VIRTUAL_MS * MS);
  const metrics = new SoftnetMetrics();
  const server = await startHttpServer({ port: 0, host: "127.0.0.1", metrics });
  // The scraper is another process, like Prometheus: only the exporter's side costs us.
  const scraper = scrape
    ? spawn(
        process.execPath,
        ["-e", "const u = process.argv[1]; setInterval(() => fetch(u).then((r) => r.text()).catch(() => {}), 1000);", `${server.url}/metrics`],
        { stdio: "ignore" },
      )
    : undefined;
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg));
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  for (let at = STEP_NS; at <= cfg.duration_ns; at += STEP_NS) {
    advanceAll(cpus, at);
    metrics.update(attribute(cpus.map((c) => c.counters())), status(cfg, at));
    await yieldToLoop();
  }
  const wallS = (performance.now() - t) / 1000;
  const used = process.cpuUsage(cpu0);
  const cpuS = (used.user + used.system) / 1e6;
  scraper?.kill();
  await server.close();
  const processed = cpus.reduce((s, c) => s + c.counters().processed, 0);
  // Per CPU-second of this process as well: on a shared machine wall time is noisy, and the
  // registry's rendering is charged to this process either way.
  return { wall: processed / wallS, cpu: processed / cpuS };
}

async function main(): Promise<void> {
  console.log("== scrape (coordinator /metrics) ==");
  await exposition();
  await throughput(false); // warm-up: JIT, first allocations
  const none: { wall: number; cpu: number }[] = [];
  const scraped: { wall: number; cpu: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    none.push(await throughput(false));
    scraped.push(await throughput(true));
  }
  const fmt = (x: number): string => `${(x / 1000).toFixed(0)} k`;
  console.log(
    `throughput, ${CPUS} CPUs in-process, ${VIRTUAL_MS} ms virtual at ${RATE_PPS / 1e6} Mpps, registry updated every ${STEP_NS / MS} ms virtual:`,
  );
  for (const key of ["cpu", "wall"] as const) {
    const a = median(none.map((x) => x[key]));
    const b = median(scraped.map((x) => x[key]));
    const slower = ((a - b) / a) * 100;
    console.log(`  packets per ${key === "cpu" ? "CPU second of this process" : "wall second"}:`);
    console.log(`    no scrape:  ${fmt(a)} (runs: ${none.map((x) => fmt(x[key])).join(", ")})`);
    console.log(`    1 s scrape: ${fmt(b)} (runs: ${scraped.map((x) => fmt(x[key])).join(", ")})`);
    console.log(`    slowdown: ${slower.toFixed(1)} % (target < 5 %) ${slower < 5 ? "OK" : "OVER TARGET"}`);
  }
}

await main();
