// `npm run bench -- liveness`: many CPU processes on this 2-core machine, seed after seed, and
// nobody declared dead. The shape that used to fail (58–64 of 64 CPUs "dead" in 8 runs of 8):
//   run --engine processes --cpus 64 --load nic --rps-cpus ffffffffffffffff --rate 500000 --flows 4096 --duration 10ms
// Prints per seed the wall time (start-up and run), deaths, suspicions, peak RSS and the checker.
//   BENCH_LIVENESS_CPUS=64  BENCH_LIVENESS_SEEDS=10
import { resolveConfig } from "../config/resolve.ts";
import { runProcesses } from "../coordinator/run-processes.ts";

const cpus = Number(process.env["BENCH_LIVENESS_CPUS"] ?? 64);
const seeds = Number(process.env["BENCH_LIVENESS_SEEDS"] ?? 10);
const mb = (b: number) => `${Math.round(b / 1e6)} MB`;

console.log(`== liveness: ${cpus} CPU processes on ${(await import("node:os")).availableParallelism()} cores, nic 500 kpps over 4096 flows, rps to all, 10 virtual ms; ${seeds} seeds ==`);
console.log(["seed", "wall s", "start-up s", "dead", "suspected", "cpu exits", "peak RSS total", "CPU max", "checker"].join(" | "));
let deaths = 0;
let walls = 0;
for (let seed = 1; seed <= seeds; seed++) {
  const cfg = resolveConfig(undefined, {
    cpus,
    seed,
    load: "nic",
    rps_cpus: Array.from({ length: cpus }, (_, i) => i),
    rate_pps: 500_000,
    flows: 4096,
    duration_ns: 10_000_000,
  });
  const lines: string[] = [];
  const t0 = performance.now();
  let started = 0;
  let reports: () => { report: { max_rss_bytes: number } }[] = () => [];
  const r = await runProcesses(cfg, {
    log: (l) => lines.push(l),
    onRunning: (run) => {
      started = performance.now();
      reports = () => run.coordinator.reports();
    },
  });
  const wall = performance.now() - t0;
  const rss = reports().map((x) => x.report.max_rss_bytes);
  const dead = r.degraded?.dead_cpus.length ?? 0;
  deaths += dead;
  walls += wall;
  const suspected = lines.filter((l) => /slow, not dead|suspected; waiting/.test(l)).length;
  const exits = lines.filter((l) => /; exiting$/.test(l)).length;
  console.log(
    [seed, (wall / 1000).toFixed(1), ((started - t0) / 1000).toFixed(1), dead, suspected, exits,
      mb(rss.reduce((a, b) => a + b, 0) + process.resourceUsage().maxRSS * 1024), mb(Math.max(...rss)), r.checker.ok ? "ok" : "FAILED"].join(" | "),
  );
}
console.log(`${seeds} seeds: ${deaths} CPUs declared dead in all; mean wall ${(walls / seeds / 1000).toFixed(1)} s`);
process.exitCode = deaths > 0 ? 1 : 0;
