// The loopback phases of the reference data: one closed-loop sender on CPU 0, one receiver on CPU 1,
// and per phase the RPS mask of lo, the number of flows, the backlog limit and the flow-limit mask.
import { GroundTruthUsage } from "./errors.ts";

export interface Phase {
  readonly name: string;
  /** lo's rx-0 rps_cpus, hex as in sysfs. */
  readonly rpsCpus: string;
  readonly flows: number;
  /** net.core.netdev_max_backlog */
  readonly backlog: number;
  /** net.core.flow_limit_cpu_bitmap, hex */
  readonly flowLimitBitmap: string;
}

export const SENDER_CPU = 0;
export const RECEIVER_CPU = 1;

export const PHASES: readonly Phase[] = [
  { name: "p1", rpsCpus: "0", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p2", rpsCpus: "e", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p3", rpsCpus: "f", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p4", rpsCpus: "e", flows: 1, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p5", rpsCpus: "e", flows: 64, backlog: 32, flowLimitBitmap: "0" },
  // One flow, a small backlog: the flow limiter engages from half of it, counted on the CPU whose
  // bit is set (the enqueuing CPU's table), the packets it refuses dropped on the target.
  { name: "p6", rpsCpus: "e", flows: 1, backlog: 64, flowLimitBitmap: "e" },
  { name: "p7", rpsCpus: "e", flows: 1, backlog: 64, flowLimitBitmap: "1" },
];

/** The `desc` of a phase in the fixture: the exact settings, in the reference's words. */
export function phaseDesc(p: Phase, secs: number): string {
  return (
    `rps_cpus=${p.rpsCpus} flows=${p.flows} secs=${secs} netdev_max_backlog=${p.backlog} ` +
    `flow_limit_cpu_bitmap=${p.flowLimitBitmap} sender_cpu=${SENDER_CPU} receiver_cpu=${RECEIVER_CPU}`
  );
}

/** `--phases p1,p3` → those phases, in the order given; unknown or repeated names are refused. */
export function selectPhases(list: string): Phase[] {
  const names = list.split(",").map((s) => s.trim());
  const out: Phase[] = [];
  for (const n of names) {
    const p = PHASES.find((q) => q.name === n);
    if (!p) throw new GroundTruthUsage(`--phases: unknown phase '${n}' (known: ${PHASES.map((q) => q.name).join(",")})`);
    if (out.includes(p)) throw new GroundTruthUsage(`--phases: phase '${n}' given twice`);
    out.push(p);
  }
  return out;
}

/** The guest's instructions, on the kernel command line (init.sh reads them from /proc/cmdline). */
export function phasesCmdline(phases: readonly Phase[], secs: number): string {
  const spec = phases.map((p) => [p.name, p.rpsCpus, p.flows, p.backlog, p.flowLimitBitmap].join(":")).join(",");
  return `gt_secs=${secs} gt_phases=${spec}`;
}
