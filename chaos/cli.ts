// What `softnet-emu run` needs from chaos/, loaded only when a run has nemeses or chaos flags:
// plan (validating every spec against the host before anything starts), run on the chosen
// engine, and the lines printed after the summary.
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { runChaosProcesses } from "./processes.ts";
import { reproduceCommand } from "./reproduce.ts";
import { planChaos, runChaosInProcess, type ChaosSettings, type EngineOptions } from "./runner.ts";
import type { NemesisSpec } from "./spec.ts";

export async function runChaos(cfg: EmuConfig, specs: readonly NemesisSpec[], settings: ChaosSettings, opts: EngineOptions): Promise<RunResults> {
  const plan = planChaos(cfg, specs, settings);
  return settings.engine === "processes" ? runChaosProcesses(plan, opts) : runChaosInProcess(plan, opts);
}

const ms = (ns: number) => `${+(ns / 1e6).toFixed(3)}ms`;

/** After the summary: what the nemeses did and how the heal went. */
export function renderChaosSummary(r: RunResults): string {
  const c = r.chaos;
  if (!c) return "";
  const byKind = new Map<string, number>();
  for (const f of r.faults ?? []) if (f.nemesis !== "heal") byKind.set(f.kind, (byKind.get(f.kind) ?? 0) + 1);
  const kinds = [...byKind].map(([k, n]) => `${k} ${n}`).join(", ") || "none";
  const stalls = r.checker.stalls ?? [];
  return (
    `\nchaos: ${c.nemeses.length ? c.nemeses.join(" ") : "no nemesis"}\n` +
    `faults: ${kinds}; heal at ${ms(c.chaos_ns)}, ${c.drained_at_ns === null ? `NOT drained within ${ms(c.drain_limit_ns)}` : `drained at ${ms(c.drained_at_ns)}`}; ` +
    `stalls (no progress for ${ms(c.stall_after_ns)}): ${stalls.length ? stalls.map((s) => `CPU ${s.cpu} from ${ms(s.since_ns)} (backlog ${s.backlog_len})`).join(", ") : "none"}\n`
  );
}

/** One line for stderr when the checker failed. */
export function reproduceLine(r: RunResults, args: readonly string[]): string {
  return `softnet-emu: checker: ${r.checker.violations.length} violation(s) with seed ${r.seed}; reproduce: ${reproduceCommand(args, r.seed)}\n`;
}
