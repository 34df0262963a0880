// Which model runs `softnet-emu validate` needs: every reference phase (validate/scenarios/*.yaml)
// under the profile of each kernel measured, one run per scenario, profile and rate (the second
// boot of a kernel reuses its first's runs). And back: the runs' results as each kernel's model side.
import { fileURLToPath } from "node:url";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { loadScenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";
import { HOTPLUG_PHASES, KERNELS, LOOPBACK_PHASES, NIC_PHASES, type KernelInfo } from "./kernels.ts";
import type { Reference } from "./reference.ts";
import { withRxUsecs } from "./bursts.ts";
import type { Side } from "./relations.ts";
import { modelHotplugPhase, modelPhase } from "./sides.ts";

export const KINDS = ["loopback", "nic", "hotplug"] as const;
export type Kind = (typeof KINDS)[number];

export const SCENARIO_DIR = fileURLToPath(new URL("./scenarios/", import.meta.url));

/** Hotplug runs are sampled this often, and cut this far from their events (validate/sides.ts). */
export const HOTPLUG_SERIES_NS = 500_000;
export const HOTPLUG_MARGIN_NS = 1_000_000;

export interface PlannedRun {
  key: string;
  label: string;
  kind: Kind;
  phase: string;
  profile: string;
  cfg: EmuConfig;
  seriesIntervalNs?: number;
  /** The kernels whose model side this run is. */
  kernels: string[];
}

export interface PlanOptions {
  kernels?: readonly string[];
  kinds?: readonly Kind[];
  /** Overrides the loopback and NIC scenarios' duration (hotplug scenarios keep theirs: their events are timed). */
  durationNs?: number;
  seed?: number;
  /** Only these phases, as `kind/phase` (e.g. `loopback/p2`); default all. */
  phases?: readonly string[];
  /**
   * The model's loopback p1 sender rate per profile (a first stage of runs): NIC phases then run at
   * the kernel's arrival rate scaled by model p1 rate / kernel p1 rate (nicRate()). Without it,
   * the kernel's arrival rate as measured.
   */
  loopbackP1Rate?: Readonly<Record<string, number>>;
  /**
   * Each NIC phase's rx_usecs, as `kernel/phase` (e.g. `6.12-generic/p1`): the burst replayed for
   * that kernel (validate/bursts.ts); without it, the scenario's.
   */
  nicRxUsecs?: Readonly<Record<string, number>>;
  scenarioDir?: string;
}

export function scenarioFile(kind: Kind, phase: string, dir = SCENARIO_DIR): string {
  return `${dir.replace(/\/?$/, "/")}${kind}-${phase}.yaml`;
}

export function planRuns(ref: Reference, o: PlanOptions = {}): PlannedRun[] {
  const kernels = KERNELS.filter((k) => !o.kernels || o.kernels.includes(k.name));
  const kinds = o.kinds ?? KINDS;
  const runs = new Map<string, PlannedRun>();
  const scenarios = new Map<string, ReturnType<typeof loadScenario>>();
  const add = (k: KernelInfo, kind: Kind, phase: string, ratePps?: number) => {
    if (o.phases && !o.phases.includes(`${kind}/${phase}`)) return;
    const file = scenarioFile(kind, phase, o.scenarioDir);
    const rxUsecs = kind === "nic" ? o.nicRxUsecs?.[`${k.name}/${phase}`] : undefined;
    const build = k.buildCosts ? `+${Object.entries(k.buildCosts).map(([c, v]) => `${c}=${v}`).join(",")}` : "";
    const key = `${kind}/${phase}/${k.profile}${build}${ratePps !== undefined ? `@${Math.round(ratePps)}` : ""}${rxUsecs !== undefined ? `~${rxUsecs}us` : ""}`;
    const existing = runs.get(key);
    if (existing) {
      existing.kernels.push(k.name);
      return;
    }
    let scenario = scenarios.get(file);
    if (!scenario) scenarios.set(file, (scenario = loadScenario(file)));
    // The build's own costs on top of the scenario's: the window then follows the latencies of both.
    if (k.buildCosts) scenario = { ...scenario, spec: { ...scenario.spec, costs: { ...scenario.spec.costs, ...k.buildCosts } } };
    const resolved = resolveConfig(scenario, {
      profile: k.profile,
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.durationNs !== undefined && kind !== "hotplug" ? { duration_ns: o.durationNs } : {}),
      ...(ratePps !== undefined ? { rate_pps: Math.round(ratePps) } : {}),
    });
    const cfg = rxUsecs !== undefined ? withRxUsecs(resolved, rxUsecs) : resolved;
    runs.set(key, {
      key,
      label: `${kind} ${phase} ${k.profile}${build ? ` (${build.slice(1)})` : ""}${ratePps !== undefined ? ` ${Math.round(ratePps / 1000)}kpps` : ""}${rxUsecs !== undefined ? ` rx_usecs ${rxUsecs}` : ""}`,
      kind,
      phase,
      profile: k.profile,
      cfg,
      ...(kind === "hotplug" ? { seriesIntervalNs: HOTPLUG_SERIES_NS } : {}),
      kernels: [k.name],
    });
  };
  for (const k of kernels) {
    if (kinds.includes("loopback") && ref.loopback[k.name])
      for (const p of LOOPBACK_PHASES) if (ref.loopback[k.name]![p]) add(k, "loopback", p);
    // The NIC's arrival rate was set by QEMU's user-mode network: each kernel's (each boot's) is
    // replayed, at the same load relative to the side's own speed.
    if (kinds.includes("nic") && ref.nic[k.name])
      for (const p of NIC_PHASES) {
        const ph = ref.nic[k.name]![p];
        if (ph) add(k, "nic", p, nicRate(ref, k, ph.rxPackets / ph.seconds, o.loopbackP1Rate?.[k.profile]));
      }
    if (k.repeatOf) continue;
    if (kinds.includes("hotplug") && ref.hotplug[k.name]) for (const p of HOTPLUG_PHASES) if (ref.hotplug[k.name]![p]) add(k, "hotplug", p);
  }
  return [...runs.values()];
}

/**
 * A NIC phase's arrival rate for the model. TCG runs the guest many times slower than hardware, so
 * the kernel's arrival rate means "this busy" only against the kernel's own speed: its loopback p1
 * sender rate (one CPU taking a packet through sendmsg and the whole receive path). The model runs
 * at the same load: kernel arrivals / kernel p1 rate × the model's p1 rate for that profile.
 */
export function nicRate(ref: Reference, k: KernelInfo, kernelPps: number, modelP1Pps: number | undefined): number {
  // The NIC phases were always a boot of their own: a later NIC boot is read against the same
  // loopback p1 as the kernel's first (its first boot's).
  const kernelP1 = ref.loopback[k.name]?.p1?.rate ?? (k.repeatOf ? ref.loopback[k.repeatOf]?.p1?.rate : undefined);
  if (modelP1Pps === undefined || !kernelP1) return kernelPps;
  return (kernelPps / kernelP1) * modelP1Pps;
}

/** The model's side of every kernel, from the planned runs and their results (same order). */
export function modelSides(runs: readonly PlannedRun[], results: readonly RunResults[]): Record<string, Side> {
  const out: Record<string, Side> = {};
  runs.forEach((run, i) => {
    const r = results[i]!;
    for (const k of run.kernels) {
      const side = (out[k] ??= { loopback: {}, nic: {}, hotplug: {} });
      if (run.kind === "hotplug") side.hotplug[run.phase] = modelHotplugPhase(r, HOTPLUG_MARGIN_NS);
      else side[run.kind][run.phase] = modelPhase(r);
    }
  });
  return out;
}
