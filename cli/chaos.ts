// What `softnet-emu run` needs from chaos/, loaded only when a run has nemeses or chaos flags:
// plan (validating every spec against the host before anything starts), run on the chosen
// engine — live, as a plain run: /metrics, --procfs and --pace during the run, a signal stops it —
// and the lines printed after the summary.
import type { EngineRunOptions } from "../engine/contract.ts";
import { inProcessLiveOptions } from "./inprocess-options.ts";
import { ControlError, type ControlHandlers } from "../observe/http.ts";
import type { EmuConfig } from "../model/config.ts";
import type { Fault, RunResults } from "../model/results.ts";
import { faultTimeline } from "../chaos/fault-timeline.ts";
import { runChaosProcesses } from "../chaos/processes.ts";
import { reproduceCommand } from "../chaos/reproduce.ts";
import { planChaos, runChaosLive, type ChaosPlan, type ChaosSettings } from "../chaos/runner.ts";
import type { NemesisSpec } from "../chaos/spec.ts";

export async function runChaos(cfg: EmuConfig, specs: readonly NemesisSpec[], settings: ChaosSettings, opts: EngineRunOptions): Promise<RunResults> {
  const plan = planChaos(cfg, specs, settings);
  // Fault metrics: the plan's faults, each counted once the run's virtual time passes it; process
  // faults once they hit; at the end, the results' faults[] (what the JSON says).
  const showFaults = (faults: readonly Fault[]): void => opts.observer?.faults(faultTimeline(faults, plan.nemeses, plan.chaosNs));
  showFaults(plan.faults);
  const results = await runOn(plan, settings.engine ?? "inprocess", opts, showFaults);
  showFaults(results.faults ?? []);
  return results;
}

async function runOn(plan: ChaosPlan, engine: ChaosSettings["engine"], opts: EngineRunOptions, showFaults: (faults: readonly Fault[]) => void): Promise<RunResults> {
  if (engine !== "processes") return runChaosLive(plan, inProcessLiveOptions(opts, reportOnly));
  const { processesRunOptions } = await import("./processes-options.ts");
  const { options, dispose } = processesRunOptions(plan.runCfg, opts, reportOnly);
  try {
    return await runChaosProcesses(plan, { ...options, onFaultHit: showFaults });
  } finally {
    dispose();
  }
}

/**
 * The control API of a chaos run reports on it and takes no command: a hotplug or rate change the
 * checker did not plan for would break its verdict, a stop would skip the heal (Ctrl-C interrupts).
 */
function reportOnly(h: ControlHandlers): ControlHandlers {
  const refuse = (): never => {
    throw new ControlError(409, "a chaos run takes no commands (its faults come from its nemeses); /control/status reports on it, Ctrl-C interrupts it");
  };
  return { offline: refuse, online: refuse, rate: refuse, stop: refuse, status: () => h.status() };
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
