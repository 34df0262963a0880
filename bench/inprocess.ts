// In-process engine benchmark on the standard scenario (issue 2): 4 CPUs, one NIC RX queue on
// CPU 0, rps_cpus=f, 1024 flows, 1 Mpps offered for 1 virtual second, profile 6.6-patched.
// Prints emulated packets per wall-second, the speed factor (virtual / wall) and peak RSS.
import { fileURLToPath } from "node:url";
import { loadScenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";
import { runInProcess } from "../engine/inprocess.ts";

const TARGET_PPS = 2_000_000;
const file = fileURLToPath(new URL("../examples/standard-bench.yaml", import.meta.url));
const cfg = resolveConfig(loadScenario(file), {});
const repeats = Number(process.env.BENCH_REPEATS ?? 3);

const rows: { wallS: number; cpuS: number; packets: number }[] = [];
for (let i = 0; i < repeats; i++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = runInProcess(cfg, { checkIntervalNs: Number(process.env.CHECK_NS ?? 0) || undefined });
  const wallS = (performance.now() - t0) / 1000;
  const cpuS = process.cpuUsage(c0).user / 1e6;
  rows.push({ wallS, cpuS, packets: r.totals.injected });
  if (!r.checker.ok) throw new Error(`checker: ${r.checker.violations[0]}`);
}
const best = rows.reduce((a, b) => (b.wallS < a.wallS ? b : a));
const pps = best.packets / best.wallS;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log("== in-process engine, standard scenario (examples/standard-bench.yaml) ==");
console.log(`emulated packets          ${fmt(best.packets)} in ${(cfg.duration_ns / 1e9).toFixed(1)} virtual s`);
console.log(`wall time (best of ${repeats})     ${best.wallS.toFixed(3)} s   (all: ${rows.map((r) => r.wallS.toFixed(3)).join(", ")})`);
console.log(`packets per wall-second   ${fmt(pps)}   target ${fmt(TARGET_PPS)}  ratio ${(pps / TARGET_PPS).toFixed(2)}`);
console.log(`packets per CPU-second    ${fmt(best.packets / best.cpuS)}`);
console.log(`speed factor              ${(cfg.duration_ns / 1e9 / best.wallS).toFixed(3)} (virtual s per wall s)`);
console.log(`peak RSS                  ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
