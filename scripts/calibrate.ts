// Fit the cost model to the real kernels (docs/CALIBRATION.md), starting from the validate
// scenarios' costs (or --set):
//   node --import tsx scripts/calibrate.ts [--knobs a,b] [--factors 0.5,0.7,1.4,2] [--passes 3]
//        [--duration 30ms|scenario] [--kernels K1,K2] [--only loopback,nic] [--phases loopback/p1,nic/p2]
//        [--jobs 2] [--json FILE] [--set knob=value,...  (the starting point; default: the defaults)]
//        [--seeds 1,2,3  (the miss summed over these seeds: each hashes the flows as another boot would)]
// Knobs are costs (model/config.ts CostModel), the validate scenarios' stall model
// (stalls.every_ns, stalls.mean_ns), their host's (host.slice_ns, host.wake_wait_ns, host.slice_wait,
// host.lock_hold — the last two fractions, tried to 0.001 and at most 1 — when the scenarios have a
// host: section) or their receiver's (receiver.per_packet_ns: its recvmsg, receiver.contention_ns: the
// socket's contention). A build's own costs (validate/kernels.ts BUILD_COSTS) stay as they are.
// A deterministic coordinate search: each knob in turn is multiplied by each factor of the grid,
// the whole reference subset is run (validate/stages.ts, as validate runs it), and the value with the smallest miss is
// kept; passes repeat until one changes nothing. The miss of a relation is 0 when it passes, else
// 1 + how far outside its tolerance it is, in units of the tolerance (3 for a wrong yes/no).
// Same arguments → same fit: every run is seeded, the order of trials is fixed.
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { CostModel, EmuConfig } from "../model/config.ts";
import { DEFAULT_COSTS, exactWindowNs } from "../model/defaults.ts";
import { runJobs } from "../report/pool.ts";
import { parseDurationNs } from "../config/units.ts";
import { costsProblem } from "../config/resolve.ts";
import { KERNELS } from "../validate/kernels.ts";

/** The build costs of the kernels a profile stands for (one build per profile in KERNELS). */
function buildCostsOf(profile: string): Partial<CostModel> | undefined {
  return KERNELS.find((k) => k.profile === profile)?.buildCosts;
}
import { KINDS, modelSides, planRuns, type Kind } from "../validate/plan.ts";
import { runStages } from "../validate/stages.ts";
import { loadReference } from "../validate/reference.ts";
import { evaluateRelations, RELATIONS, type RelationRow, type Tolerance } from "../validate/relations.ts";
import { kernelSides } from "../validate/sides.ts";
import { formatValue } from "../validate/render.ts";

/** Costs that shape the relations (latencies included: they set how IPIs and packets batch). */
const DEFAULT_KNOBS = [
  "send_per_packet_ns",
  "process_per_packet_ns",
  "rps_enqueue_per_packet_ns",
  "rps_remote_enqueue_ns",
  "ipi_send_ns",
  "softirq_entry_ns",
  "irq_entry_ns",
  "ipi_latency_ns",
  "wakeup_ns",
  "idle_exit_ns",
  "stalls.every_ns",
  "stalls.mean_ns",
];

function fail(msg: string): never {
  process.stderr.write(`calibrate: error: ${msg}\n`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    knobs: { type: "string" },
    factors: { type: "string", default: "0.5,0.7,1.4,2" },
    passes: { type: "string", default: "3" },
    duration: { type: "string", default: "30ms" },
    kernels: { type: "string", default: "6.1-generic,6.12-generic,6.12-generic-threaded" },
    only: { type: "string", default: "loopback,nic" },
    phases: { type: "string" },
    set: { type: "string" },
    jobs: { type: "string", default: "2" },
    json: { type: "string" },
    seeds: { type: "string", default: "1" },
  },
});

const STALL_KNOBS = ["stalls.every_ns", "stalls.mean_ns"] as const;
const HOST_KNOBS = ["host.slice_ns", "host.wake_wait_ns", "host.slice_wait", "host.lock_hold"] as const;
const FRACTION_KNOBS: ReadonlySet<string> = new Set(["host.slice_wait", "host.lock_hold"]);
const RECEIVER_KNOBS = ["receiver.per_packet_ns", "receiver.contention_ns"] as const;
type Knob = keyof CostModel | (typeof STALL_KNOBS)[number] | (typeof HOST_KNOBS)[number] | (typeof RECEIVER_KNOBS)[number];
const knobNames: string[] = [...Object.keys(DEFAULT_COSTS), ...STALL_KNOBS, ...HOST_KNOBS, ...RECEIVER_KNOBS];
const knobs = (a.knobs ? a.knobs.split(",") : DEFAULT_KNOBS.filter((k) => knobNames.includes(k))) as Knob[];
for (const k of knobs) if (!knobNames.includes(k)) fail(`--knobs: unknown knob '${k}' (known: ${knobNames.join(", ")})`);
const factors = a.factors.split(",").map(Number);
if (factors.some((f) => !(f > 0) || f === 1)) fail("--factors: positive numbers other than 1");
const passes = Number(a.passes);
if (!Number.isInteger(passes) || passes < 1) fail("--passes: a whole number ≥ 1");
const jobs = Number(a.jobs);
if (!Number.isInteger(jobs) || jobs < 1) fail("--jobs: a whole number ≥ 1");
// "scenario": each scenario's own duration, as validate runs them (loopback 1 s, NIC 300 ms).
let durationNs: number | undefined;
try {
  durationNs = a.duration === "scenario" ? undefined : parseDurationNs(a.duration);
} catch {
  fail(`--duration: expected a duration such as 30ms, or 'scenario', got '${a.duration}'`);
}
const seeds = a.seeds.split(",").map(Number);
if (seeds.some((n) => !Number.isInteger(n) || n < 0)) fail("--seeds: whole numbers ≥ 0, comma-separated");
const kernelNames = a.kernels.split(",");
for (const k of kernelNames) if (!KERNELS.some((x) => x.name === k)) fail(`--kernels: unknown kernel '${k}'`);
const kinds = a.only.split(",") as Kind[];
for (const k of kinds) if (!KINDS.includes(k)) fail(`--only: unknown kind '${k}'`);

const ref = loadReference();
const stageOptions = { kernels: kernelNames, kinds, durationNs, ...(a.phases ? { phases: a.phases.split(",") } : {}) };
const plan = planRuns(ref, stageOptions);
if (plan.length === 0) fail("--kernels/--only/--phases: no reference phase matches");
const kernels = kernelSides(ref, { kernels: kernelNames, kinds });
const tolOf = new Map(RELATIONS.map((r) => [r.id, r.tol]));

/** How far a row misses, in units of its tolerance (0 = passes). */
function miss(row: RelationRow, declared: Tolerance): number {
  if (row.pass) return 0;
  // A relation over a kernel's boots may have widened its tolerance to their spread: the row's band is the one applied.
  const tol: Tolerance = declared.kind === "abs" && row.band ? { kind: "abs", abs: (row.band[1] - row.band[0]) / 2 } : declared;
  const k = row.kernel_value;
  const m = row.model_value;
  if (m === null || typeof k === "boolean" || typeof m === "boolean" || tol.kind === "same") return 3;
  const ks = Array.isArray(k) ? k : [k];
  const ms = Array.isArray(m) ? m : [m];
  let worst = 0;
  ks.forEach((kv, i) => {
    const mv = ms[i] ?? 0;
    const out =
      tol.kind === "abs"
        ? Math.max(0, Math.abs(mv - kv) - tol.abs) / tol.abs
        : kv > 0 && mv > 0
          ? Math.max(0, Math.abs(Math.log(mv / kv)) - Math.log(tol.factor)) / Math.log(tol.factor)
          : 3;
    worst = Math.max(worst, out);
  });
  return 1 + Math.min(worst, 10);
}

/** The knobs' values: the costs, the stall model's two means and the socket's contention (absent: the scenarios' own). */
type Values = Record<Knob, number>;

/** The cost model of a trial's values. */
function costsOf(v: Values): CostModel {
  return Object.fromEntries(Object.keys(DEFAULT_COSTS).map((k) => [k, v[k as keyof CostModel]])) as unknown as CostModel;
}

function withValues(cfg: EmuConfig, v: Values): EmuConfig {
  // A build's own costs (validate/kernels.ts BUILD_COSTS) stay on top of the trial's, as validate puts them on the scenario's.
  const build = buildCostsOf(cfg.profile.name);
  const costs = { ...costsOf(v), ...build };
  const stalls = cfg.stalls ? { ...cfg.stalls, every_ns: v["stalls.every_ns"], mean_ns: v["stalls.mean_ns"], max_ns: Math.max(cfg.stalls.max_ns, v["stalls.mean_ns"]) } : undefined;
  const receiver = cfg.receiver ? { ...cfg.receiver, per_packet_ns: v["receiver.per_packet_ns"], contention_ns: v["receiver.contention_ns"] } : undefined;
  const host = cfg.host ? { ...cfg.host, slice_ns: v["host.slice_ns"], wake_wait_ns: v["host.wake_wait_ns"], slice_wait: v["host.slice_wait"], lock_hold: v["host.lock_hold"] } : undefined;
  return { ...cfg, costs, ...(stalls ? { stalls } : {}), ...(host ? { host } : {}), ...(receiver ? { receiver } : {}), window_ns: Math.min(cfg.window_ns, exactWindowNs(costs)) };
}

let evaluations = 0;
async function evaluate(values: Values): Promise<{ score: number; rows: RelationRow[] }> {
  evaluations++;
  let score = 0;
  let rows: RelationRow[] = [];
  for (const seed of seeds) {
    const job = (label: string, cfg: EmuConfig, seriesIntervalNs?: number) => ({ label, cfg: withValues(cfg, values), ...(seriesIntervalNs ? { seriesIntervalNs } : {}) });
    // The same stages as `softnet-emu validate`: the NIC phases' rate and bursts follow the trial's costs.
    const { runs, results } = await runStages(ref, { ...stageOptions, seed }, {
      run: (rs) => runJobs(rs.map((r) => job(r.label, r.cfg, r.seriesIntervalNs)), { parallel: jobs }),
      trial: (cfgs) => runJobs(cfgs.map((c, i) => job(`burst fit ${i}`, c)), { parallel: 1 }),
    });
    const seedRows = evaluateRelations(KERNELS, kernels, modelSides(runs, results));
    score += seedRows.reduce((s, r) => s + miss(r, tolOf.get(r.id)!), 0);
    // The rows shown are the first seed's; the score is every seed's.
    if (rows.length === 0) rows = seedRows;
  }
  return { score, rows };
}

const log = (t: string) => process.stderr.write(`${t}\n`);
// The stall model's starting point: the first planned run's (every validate scenario has the same).
const stalls0 = plan.find((r) => r.cfg.stalls)?.cfg.stalls;
const host0 = plan.find((r) => r.cfg.host)?.cfg.host;
const receiver0 = plan.find((r) => r.cfg.receiver)?.cfg.receiver;
// The costs' starting point: the scenarios' own (validate/scenarios carry the fitted TCG costs), not a build's.
const costs0 = (plan.find((r) => !buildCostsOf(r.profile)) ?? fail("--kernels: name at least one kernel without build costs (validate/kernels.ts BUILD_COSTS): the scenarios' own costs are the starting point")).cfg.costs;
const start: Values = {
  ...costs0,
  "stalls.every_ns": stalls0?.every_ns ?? 0,
  "stalls.mean_ns": stalls0?.mean_ns ?? 0,
  "host.slice_ns": host0?.slice_ns ?? 0,
  "host.wake_wait_ns": host0?.wake_wait_ns ?? 0,
  "host.slice_wait": host0?.slice_wait ?? 0,
  "host.lock_hold": host0?.lock_hold ?? 0,
  "receiver.per_packet_ns": receiver0?.per_packet_ns ?? 0,
  "receiver.contention_ns": receiver0?.contention_ns ?? 0,
};
for (const kv of a.set ? a.set.split(",") : []) {
  const [k, v] = kv.split("=");
  if (!k || !knobNames.includes(k) || !(Number(v) >= 0)) fail(`--set: expected knob=value with a known knob, got '${kv}'`);
  start[k as Knob] = Number(v);
}
/** A knob's trial value: nanoseconds whole (latencies and stall or slice lengths at least 1), fractions to 0.001 and at most 1. */
function knobValue(knob: Knob, v: number): number {
  if (FRACTION_KNOBS.has(knob)) return Math.min(1, Math.round(v * 1000) / 1000);
  return Math.max(knob.endsWith("latency_ns") || knob.startsWith("stalls.") || knob === "host.slice_ns" ? 1 : 0, Math.round(v));
}
let best: Values = { ...start };
let bestEval = await evaluate(best);
log(`calibrate: ${plan.length} runs per trial; start: miss ${bestEval.score.toFixed(2)} (${bestEval.rows.filter((r) => !r.pass).length} of ${bestEval.rows.length} relations fail)`);
for (let pass = 1; pass <= passes; pass++) {
  let changed = false;
  for (const knob of knobs) {
    const base = best[knob];
    for (const f of factors) {
      const value = knobValue(knob, base * f);
      if (knob.startsWith("stalls.") && !stalls0) continue;
      if (knob.startsWith("host.") && !host0) continue;
      if (value === best[knob]) continue;
      const trial = { ...best, [knob]: value };
      // A trial the engine cannot run (the scenarios would be refused) is not tried.
      const problem = costsProblem(costsOf(trial));
      if (problem) {
        log(`  pass ${pass} ${knob}=${value}: not tried (${problem})`);
        continue;
      }
      const e = await evaluate(trial);
      log(`  pass ${pass} ${knob}=${value}: miss ${e.score.toFixed(2)}${e.score < bestEval.score - 1e-9 ? "  (better)" : ""}`);
      if (e.score < bestEval.score - 1e-9) {
        best = trial;
        bestEval = e;
        changed = true;
      }
    }
  }
  log(`calibrate: pass ${pass}: miss ${bestEval.score.toFixed(2)}`);
  if (!changed) break;
}

const out: string[] = [];
out.push(`fitted costs (${evaluations} trials; ${bestEval.rows.filter((r) => !r.pass).length} of ${bestEval.rows.length} relations fail, miss ${bestEval.score.toFixed(2)}):`);
for (const k of knobs) out.push(`  ${k}: ${best[k]}${best[k] !== start[k] ? `   (was ${start[k]})` : ""}`);
out.push("", "residuals (model − kernel, or the miss for yes/no):");
for (const r of bestEval.rows)
  out.push(`  ${r.pass ? "PASS" : "FAIL"} ${r.id} ${r.kernel}: kernel ${formatValue(r.kernel_value)} model ${formatValue(r.model_value)} (${r.tolerance})`);
process.stdout.write(`${out.join("\n")}\n`);
if (a.json) writeFileSync(a.json, `${JSON.stringify({ costs: best, score: bestEval.score, relations: bestEval.rows }, null, 2)}\n`);
