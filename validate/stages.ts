// validate's runs, in the order their inputs need them:
//   1. loopback p1 under each profile: the model's own speed, which sets each NIC phase's arrival
//      rate (plan.ts nicRate);
//   2. the NIC phases' bursts: rx_usecs fitted per kernel and phase to its packets per interrupt
//      (bursts.ts);
//   3. every phase asked for, the NIC ones at that rate and with that burst.
// Shared by `softnet-emu validate` and scripts/calibrate.ts, so both compare the same runs.
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { fitRxUsecs, kernelPacketsPerIrq, type BurstFit } from "./bursts.ts";
import { planRuns, type Kind, type PlanOptions, type PlannedRun } from "./plan.ts";
import type { Reference } from "./reference.ts";
import { KERNELS } from "./kernels.ts";

export interface Runners {
  /** Runs planned runs (the chosen engine, with progress). */
  run(runs: readonly PlannedRun[]): Promise<RunResults[]>;
  /** Runs the burst fit's trials: bare configurations, many of them (in-process, quiet). */
  trial(cfgs: EmuConfig[]): Promise<RunResults[]>;
  /** Told the bursts once they are fitted, before the runs that use them. */
  fitted?(bursts: readonly ReplayedBurst[]): void;
}

export interface ReplayedBurst extends BurstFit {
  kernel_name: string;
  phase: string;
}

export interface Staged {
  runs: PlannedRun[];
  results: RunResults[];
  bursts: ReplayedBurst[];
}

type StageOptions = PlanOptions & { kinds: readonly Kind[] };

/**
 * The model's loopback p1 per profile, which NIC rates are scaled by — for the kernels selected and
 * the first boots of those selected (a later NIC boot has no loopback phase of its own).
 */
const stageOne = (ref: Reference, o: StageOptions) => {
  if (!o.kinds.includes("nic")) return [];
  const kernels = o.kernels && [...o.kernels, ...KERNELS.filter((k) => k.repeatOf && o.kernels!.includes(k.name)).map((k) => k.repeatOf!)];
  return planRuns(ref, { ...o, ...(kernels ? { kernels } : {}), kinds: ["loopback"], phases: ["loopback/p1"] });
};

/** The runs runStages() makes (their rates and bursts aside): for a count and the profiles. */
export function stagedRuns(ref: Reference, o: StageOptions): PlannedRun[] {
  const stage1 = stageOne(ref, o);
  return [...stage1, ...planRuns(ref, o).filter((p) => !stage1.some((s) => s.key === p.key))];
}

export async function runStages(ref: Reference, o: StageOptions, r: Runners): Promise<Staged> {
  const nic = o.kinds.includes("nic");
  const stage1 = stageOne(ref, o);
  const results1 = await r.run(stage1);
  const p1Rate = Object.fromEntries(stage1.map((s, i) => [s.profile, results1[i]!.totals.injected / (results1[i]!.virtual_ns / 1e9)]));
  const withRate: PlanOptions = { ...o, ...(stage1.length ? { loopbackP1Rate: p1Rate } : {}) };

  const bursts: ReplayedBurst[] = [];
  if (nic) {
    const fitted = planRuns(ref, { ...withRate, kinds: ["nic"] })
      .map((run) => ({ run, target: kernelPacketsPerIrq(ref.nic[run.kernels[0]!]![run.phase]!) }))
      .filter((x): x is { run: PlannedRun; target: number } => x.target !== undefined);
    const fits = await fitRxUsecs(
      fitted.map((x) => x.run.cfg),
      fitted.map((x) => x.target),
      r.trial,
    );
    fitted.forEach((x, i) => {
      for (const k of x.run.kernels) bursts.push({ kernel_name: k, phase: x.run.phase, ...fits[i]! });
    });
  }
  if (bursts.length > 0) r.fitted?.(bursts);
  const nicRxUsecs = Object.fromEntries(bursts.map((b) => [`${b.kernel_name}/${b.phase}`, b.rxUsecs]));
  const planned = planRuns(ref, { ...withRate, nicRxUsecs }).filter((p) => !stage1.some((s) => s.key === p.key));
  const results2 = await r.run(planned);
  return { runs: [...stage1, ...planned], results: [...results1, ...results2], bursts };
}
