// `npm run bench -- startup`: how fast softnet-emu starts, beside `node -e 0`: `--help`, and the time
// from exec to the first emulated nanosecond of `run` (the coordinator's "all N cpus registered;
// running" line: every CPU process is up and virtual time starts), each through the compiled CLI
// (dist/, scripts/build.mjs) and through tsx (SOFTNET_EMU_DEV=1) as before it. Medians of wall time
// and of CPU time (user + system of the child and its children, from /proc/self/stat).
//   BENCH_STARTUP_RUNS=7
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "../scripts/build.mjs";

const BIN = fileURLToPath(new URL("../bin/softnet-emu.js", import.meta.url));
const RUNS = Number(process.env["BENCH_STARTUP_RUNS"] ?? 7);
const TICK_S = 0.01; // USER_HZ is 100 on Linux

/** CPU seconds of the children this process has waited for (cutime + cstime). */
function childrenCpuS(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[13]) + Number(f[14])) * TICK_S;
}

interface Sample {
  wallMs: number;
  cpuS: number;
}

/** Run `node ARGS` to its end; `markMs` is when stderr first matched `marker` (else the exit). */
function once(args: string[], env: NodeJS.ProcessEnv, marker?: RegExp): Promise<Sample & { markMs: number }> {
  return new Promise((resolve, reject) => {
    const cpu0 = childrenCpuS();
    const t0 = performance.now();
    let markMs = NaN;
    let err = "";
    const p = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    p.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (marker && Number.isNaN(markMs) && marker.test(err)) markMs = performance.now() - t0;
    });
    p.on("error", reject);
    p.on("close", (code) => {
      const wallMs = performance.now() - t0;
      if (code !== 0) return reject(new Error(`node ${args.join(" ")} exited ${code}: ${err.slice(-500)}`));
      if (marker && Number.isNaN(markMs)) return reject(new Error(`node ${args.join(" ")}: no line matching ${marker} on stderr`));
      resolve({ wallMs, cpuS: childrenCpuS() - cpu0, markMs: marker ? markMs : wallMs });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function measure(label: string, args: string[], opts: { dev?: boolean; marker?: RegExp } = {}): Promise<{ label: string; ms: number; cpuS: number }> {
  const env = { ...process.env, SOFTNET_EMU_DEV: opts.dev ? "1" : "0" };
  const samples: { markMs: number; cpuS: number }[] = [];
  await once(args, env, opts.marker); // warm the page cache (and the build, if one is due)
  for (let i = 0; i < RUNS; i++) samples.push(await once(args, env, opts.marker));
  return { label, ms: median(samples.map((s) => s.markMs)), cpuS: median(samples.map((s) => s.cpuS)) };
}

const t0 = performance.now();
await ensureBuilt();
console.log(`== startup: medians of ${RUNS} runs (a warm-up first); build up to date in ${Math.round(performance.now() - t0)} ms ==`);
const RUNNING = /cpus registered; running/;
const rows = [
  await measure("node -e 0", ["-e", "0"]),
  await measure("softnet-emu --help", [BIN, "--help"]),
  await measure("softnet-emu --help (tsx, SOFTNET_EMU_DEV=1)", [BIN, "--help"], { dev: true }),
  await measure("run: first emulated ns (4 CPU processes)", [BIN, "run", "--verbose", "--duration", "1ms"], { marker: RUNNING }),
  await measure("run: first emulated ns (tsx, SOFTNET_EMU_DEV=1)", [BIN, "run", "--verbose", "--duration", "1ms"], { dev: true, marker: RUNNING }),
];
const base = rows[0]!;
console.log(["what", "wall ms", "× node -e 0", "CPU s (whole run)", "× node -e 0"].join(" | "));
for (const r of rows)
  console.log([r.label, r.ms.toFixed(0), (r.ms / base.ms).toFixed(1), r.cpuS.toFixed(2), base.cpuS > 0 ? (r.cpuS / base.cpuS).toFixed(1) : "-"].join(" | "));
const help = rows[1]!;
const run = rows[3]!;
console.log(`targets: --help ≤ 3× node -e 0: ${(help.ms / base.ms).toFixed(1)}× (${help.ms / base.ms <= 3 ? "met" : "NOT met"}); run emulating within 500 ms: ${run.ms.toFixed(0)} ms (${run.ms <= 500 ? "met" : "NOT met"})`);
