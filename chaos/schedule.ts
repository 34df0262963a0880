// The nemesis schedule: every nemesis's faults for one run, as a pure function of the config,
// the resolved nemeses and the run's seed. Each nemesis draws from its own seeded stream (by its
// position in the list), so adding one does not move the faults of the others; the merged list
// is in time order, ties kept in list order (the order the CPUs apply same-time commands in).
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { Fault } from "../model/results.ts";
import { Rng, subSeed } from "../model/rng.ts";
import { generate, scenarioOffline, type Scheduled } from "./kinds.ts";
import type { Nemesis } from "./spec.ts";

/** Streams of the nemeses, far from the load sources' streams (0, 1, …). */
const NEMESIS_STREAM = 0x4e000000;

export interface FaultSchedule {
  commands: CpuCommand[];
  faults: Fault[];
}

/** Faults of `nemeses` over the chaos phase [0, cfg.duration_ns). */
export function scheduleFaults(cfg: EmuConfig, nemeses: readonly Nemesis[], seed: number): FaultSchedule {
  const all: Scheduled[] = [];
  const offline = scenarioOffline(cfg);
  // A killed CPU is gone for good (crash policy): hotplug leaves it alone from the kill on.
  for (const n of nemeses) if (n.kind === "kill") offline.push({ cpu: n.opts.cpu, from: n.opts.at_ns, to: Infinity });
  nemeses.forEach((n, i) => {
    const out: Scheduled[] = [];
    generate(n, { cfg, rng: new Rng(subSeed(seed, NEMESIS_STREAM + i)), endNs: cfg.duration_ns, out, offline });
    all.push(...out);
  });
  const sorted = all.map((s, i) => ({ s, i })).sort((a, b) => a.s.fault.at_ns - b.s.fault.at_ns || a.i - b.i).map((x) => x.s);
  return {
    commands: sorted.flatMap((s) => (s.command ? [s.command] : [])),
    faults: sorted.map((s) => s.fault),
  };
}
