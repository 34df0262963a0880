// Distributed engine benchmark (issue 3), `npm run bench -- distributed`: the standard scenario
// (examples/standard-bench.yaml: 4 CPUs, NIC queue on CPU 0, rps_cpus=f, 1024 flows, 1 Mpps,
// 6.6-patched) at several synchronisation windows, in-process against one process per CPU:
// packets per wall-second and their ratio, windows per wall-second, messages per window, messages
// and bytes per packet, peak RSS per CPU process and of the coordinator, and the deviation of
// per-CPU counters from the exact window. Then 64 CPU processes through a short run.
//
// Equal conditions: each engine runs in a fresh process (`softnet-emu run` is one run in a fresh
// process, and the distributed engine's CPU processes are always fresh), timed from the first
// emulated nanosecond, best of BENCH_REPEATS. A fresh process pays V8's JIT warm-up, which for a
// 1-virtual-second run is a third of the in-process engine's time; the "warm" column repeats the
// in-process run inside one process (JIT already optimised) to show that as well.
//   BENCH_VIRTUAL_MS=1000 (virtual time per run; the standard scenario is 1 s), BENCH_WINDOWS_US=2,5,10,50,100,200,
//   BENCH_REPEATS=2 (best of), BENCH_LONG_MS=4000 (the 100 µs row again over a longer run; 0: skip),
//   BENCH_BIG_CPUS=64 (0: skip the big run)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { loadScenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";
import { runProcesses } from "../coordinator/run-processes.ts";
import { runInProcess } from "../engine/inprocess.ts";
import type { EmuConfig } from "../model/config.ts";
import { exactWindowNs } from "../model/defaults.ts";
import type { CpuResult, RunResults } from "../model/results.ts";

interface InProcessResult {
  results: RunResults;
  wallMs: number;
}

interface ChildResult {
  results: RunResults;
  wallMs: number;
  startupMs: number;
  messages: number;
  bytes: number;
  cpuRssBytes: number[];
  coordinatorRssBytes: number;
}

const SCENARIO = fileURLToPath(new URL("../examples/standard-bench.yaml", import.meta.url));

/** One distributed run, in this (child) process, so its RSS is the coordinator's alone. */
async function child(cfg: EmuConfig): Promise<ChildResult> {
  const t0 = performance.now();
  let started = 0;
  let reports: { report: { messages_sent: number; bytes_sent: number; max_rss_bytes: number } }[] = [];
  let coordinatorReports: (() => typeof reports) | null = null;
  const results = await runProcesses(cfg, {
    log: () => {},
    onRunning: (run) => {
      started = performance.now();
      coordinatorReports = () => run.coordinator.reports();
    },
  });
  const end = performance.now();
  reports = coordinatorReports!();
  return {
    results,
    wallMs: end - started,
    startupMs: started - t0,
    messages: reports.reduce((s, r) => s + r.report.messages_sent, 0),
    bytes: reports.reduce((s, r) => s + r.report.bytes_sent, 0),
    cpuRssBytes: reports.map((r) => r.report.max_rss_bytes),
    coordinatorRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}

/** One in-process run, timed as a user's `softnet-emu run --engine inprocess` would be. */
function inProcessChild(cfg: EmuConfig): InProcessResult {
  const t = performance.now();
  const results = runInProcess(cfg);
  return { results, wallMs: performance.now() - t };
}

function runChild(mode: "--child" | "--child-inprocess", cfg: EmuConfig): unknown {
  const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), mode, JSON.stringify(cfg)], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`${mode === "--child" ? "distributed" : "in-process"} run failed (exit ${r.status})`);
  return JSON.parse(r.stdout);
}

const distributedRun = (cfg: EmuConfig) => runChild("--child", cfg) as ChildResult;
const inProcessRun = (cfg: EmuConfig) => runChild("--child-inprocess", cfg) as InProcessResult;

const FIELDS = ["processed", "dropped", "received_rps", "time_squeeze"] as const;

/** Largest relative deviation (%) of a per-CPU counter from the exact run, per field. */
function deviation(exact: CpuResult[], got: CpuResult[]): Record<(typeof FIELDS)[number], number> {
  const out = { processed: 0, dropped: 0, received_rps: 0, time_squeeze: 0 };
  for (const f of FIELDS) {
    for (let i = 0; i < exact.length; i++) {
      const a = exact[i]![f];
      const b = got[i]![f];
      const d = a === b ? 0 : (100 * Math.abs(b - a)) / Math.max(a, 1);
      out[f] = Math.max(out[f], d);
    }
  }
  return out;
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (b: number) => `${(b / 1e6).toFixed(0)} MB`;

interface Measured {
  inproc: RunResults;
  /** Best wall time of the in-process engine in a fresh process, and repeated in this one. */
  inMs: number;
  warmMs: number;
  d: ChildResult;
}

/** Best of `repeats` for each engine, interleaved: other work shares these 2 cores. */
function measure(cfg: EmuConfig, repeats: number): Measured {
  let inMs = Infinity;
  let warmMs = Infinity;
  let inproc: RunResults | null = null;
  let d: ChildResult | null = null;
  for (let i = 0; i < repeats; i++) {
    const ip = inProcessRun(cfg);
    if (ip.wallMs < inMs) ({ wallMs: inMs, results: inproc } = ip);
    const t = performance.now();
    runInProcess(cfg);
    warmMs = Math.min(warmMs, performance.now() - t);
    const di = distributedRun(cfg);
    if (!d || di.wallMs < d.wallMs) d = di;
  }
  if (!inproc || !d) throw new Error("BENCH_REPEATS must be at least 1");
  return { inproc, inMs, warmMs, d };
}

/** pps of each engine and the ratios: in-process (fresh), distributed, ratio, in-process warm, ratio to warm. */
function speedColumns({ inproc, inMs, warmMs, d }: Measured): string[] {
  const packets = inproc.totals.injected;
  return [
    fmt(packets / (inMs / 1000)),
    fmt(packets / (d.wallMs / 1000)),
    (inMs / d.wallMs).toFixed(2),
    fmt(packets / (warmMs / 1000)),
    (warmMs / d.wallMs).toFixed(2),
  ];
}

async function main(): Promise<void> {
  const virtualMs = Number(process.env["BENCH_VIRTUAL_MS"] ?? 1000);
  const windowsUs = (process.env["BENCH_WINDOWS_US"] ?? "2,5,10,50,100,200").split(",").map(Number);
  const repeats = Number(process.env["BENCH_REPEATS"] ?? 2);
  const base = resolveConfig(loadScenario(SCENARIO), { duration_ns: virtualMs * 1e6 });
  const exactNs = exactWindowNs(base.costs);
  console.log(`== distributed engine, standard scenario (examples/standard-bench.yaml), ${virtualMs} virtual ms per run ==`);
  console.log(`exact window ${exactNs / 1000} µs (smallest cross-CPU latency); deviations are against the run at that window`);
  console.log(
    ["window", "in-proc pps", "distrib pps", "ratio", "in-proc warm pps", "ratio to warm", "windows/s", "msgs/window", "msgs/pkt", "bytes/pkt", "CPU RSS max", "coord RSS", "equal", "dev processed/dropped/rps/squeeze %"]
      .join(" | "),
  );
  // One untimed run, so that even the first "warm" figure is taken with the JIT optimised.
  runInProcess({ ...base, duration_ns: Math.min(base.duration_ns, 200e6) });
  let exact: RunResults | null = null;
  for (const us of windowsUs) {
    const cfg = { ...base, window_ns: us * 1000 };
    const m = measure(cfg, repeats);
    const { inproc, d } = m;
    if (us * 1000 === exactNs) exact = inproc;
    const packets = inproc.totals.injected;
    const windows = cfg.duration_ns / cfg.window_ns;
    const same = JSON.stringify(inproc.cpus) === JSON.stringify(d.results.cpus) && inproc.softnet_stat === d.results.softnet_stat;
    const dev = exact ? deviation(exact.cpus, d.results.cpus) : null;
    console.log(
      [
        `${us} µs`,
        ...speedColumns(m),
        fmt(windows / (d.wallMs / 1000)),
        (d.messages / windows).toFixed(3),
        (d.messages / packets).toFixed(4),
        (d.bytes / packets).toFixed(1),
        mb(Math.max(...d.cpuRssBytes)),
        mb(d.coordinatorRssBytes),
        same ? "yes" : "NO",
        dev ? FIELDS.map((f) => dev[f].toFixed(2)).join(" / ") : "(no exact run)",
      ].join(" | "),
    );
  }
  console.log(`(pps: emulated packets per wall-second, best of ${repeats}, each run in a fresh process; distributed: after the CPU processes registered, start-up is extra;`);
  console.log(` warm: the in-process run repeated in one process, JIT already optimised)`);

  // Every CPU process pays V8's JIT warm-up once, ~0.2 CPU-s for CPU 0's: a longer run spreads it.
  const longMs = Number(process.env["BENCH_LONG_MS"] ?? 4000);
  if (longMs > 0) {
    // Resolved again: the scenario's load phases are laid out over its duration.
    const long = resolveConfig(loadScenario(SCENARIO), { duration_ns: longMs * 1e6 });
    const m = measure({ ...long, window_ns: 100_000 }, repeats);
    console.log(`== the same at 100 µs over ${longMs} virtual ms (JIT warm-up spread over a longer run) ==`);
    console.log(["in-proc pps", "distrib pps", "ratio", "in-proc warm pps", "ratio to warm"].join(" | "));
    console.log(speedColumns(m).join(" | "));
  }

  const cpus = Number(process.env["BENCH_BIG_CPUS"] ?? 64);
  if (cpus < 1) return;
  const big = resolveConfig(loadScenario(SCENARIO), {
    cpus,
    duration_ns: 5e6,
    rps_cpus: Array.from({ length: cpus }, (_, i) => i),
  });
  const t = performance.now();
  const r = distributedRun(big);
  const totalMs = performance.now() - t;
  const rss = r.cpuRssBytes.reduce((a, b) => a + b, 0) + r.coordinatorRssBytes;
  console.log(`== ${cpus} CPU processes, ${big.duration_ns / 1e6} virtual ms, rps to all ==`);
  console.log(`wall ${(totalMs / 1000).toFixed(1)} s (start-up ${(r.startupMs / 1000).toFixed(1)} s, run ${(r.wallMs / 1000).toFixed(1)} s); total peak RSS ${mb(rss)} (CPU processes max ${mb(Math.max(...r.cpuRssBytes))}, coordinator ${mb(r.coordinatorRssBytes)}); checker ${r.results.checker.ok ? "ok" : "FAILED"}; ${fmt(r.results.totals.injected)} packets`);
}

if (process.argv[2] === "--child") {
  const res = await child(JSON.parse(process.argv[3]!) as EmuConfig);
  process.stdout.write(JSON.stringify(res));
} else if (process.argv[2] === "--child-inprocess") {
  process.stdout.write(JSON.stringify(inProcessChild(JSON.parse(process.argv[3]!) as EmuConfig)));
} else {
  await main();
}
