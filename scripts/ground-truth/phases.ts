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

/**
 * Phases beyond the reference's, run only when named in --phases: which CPUs deliver to the socket,
 * one mask at a time — two remote targets (6), the sender's CPU and two targets (7), the sender's
 * and the receiver's CPUs (3) — to tell the number of CPUs delivering from the sender's CPU being
 * one of them (docs/CALIBRATION.md, "The host's view").
 */
export const EXTRA_PHASES: readonly Phase[] = [
  { name: "p8", rpsCpus: "6", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p9", rpsCpus: "7", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
  { name: "p10", rpsCpus: "3", flows: 64, backlog: 1000, flowLimitBitmap: "0" },
];

/** The `desc` of a phase in the fixture: the exact settings, in the reference's words. */
export function phaseDesc(p: Phase, secs: number): string {
  return (
    `rps_cpus=${p.rpsCpus} flows=${p.flows} secs=${secs} netdev_max_backlog=${p.backlog} ` +
    `flow_limit_cpu_bitmap=${p.flowLimitBitmap} sender_cpu=${SENDER_CPU} receiver_cpu=${RECEIVER_CPU}`
  );
}

/**
 * CPU hotplug under the loopback flood (64 flows): a 6-second flood, `offlineCpu` taken offline at
 * 2 s and brought back at 4 s, cumulative softnet_stat rows at each step. Run in a boot of their own,
 * so the counters start from the boot as in the reference.
 */
export interface HotplugPhase {
  readonly name: string;
  readonly rpsCpus: string;
  readonly offlineCpu: number;
  readonly backlog: number;
}

export const HOTPLUG_PHASES: readonly HotplugPhase[] = [
  { name: "h1", rpsCpus: "f", offlineCpu: 2, backlog: 1000 },
  { name: "h2", rpsCpus: "e", offlineCpu: 2, backlog: 1000 },
  // The receiver's CPU: the task moves, its CPU's backlog is handed over.
  { name: "h3", rpsCpus: "e", offlineCpu: 1, backlog: 1000 },
  { name: "h4", rpsCpus: "e", offlineCpu: 3, backlog: 32 },
];

/** The steps of a hotplug phase, in order (the names of the reference's hotplug-loopback.txt). */
export const HOTPLUG_STEPS = ["t0_before_start", "imm_before_off", "imm_after_off", "off_mid", "imm_before_on", "imm_after_on", "final"] as const;

/**
 * The NIC path (nic-flood.txt of the reference): a virtio-net queue behind QEMU's user-mode
 * network, its IRQ pinned to CPU 0, the receiver on CPU 1, a sender on the host flooding the
 * forwarded UDP port with 64 flows. Named n1..n5 here, p1..p5 in the text they are written as.
 */
export interface NicPhase {
  readonly name: string;
  /** The name in nic-flood.txt. */
  readonly textName: string;
  /** eth0's rx-0 rps_cpus, hex. */
  readonly rpsCpus: string;
  readonly backlog: number;
  /** net.core.netdev_budget */
  readonly budget: number;
}

export const NIC_PHASES: readonly NicPhase[] = [
  { name: "n1", textName: "p1", rpsCpus: "0", backlog: 1000, budget: 300 },
  { name: "n2", textName: "p2", rpsCpus: "e", backlog: 1000, budget: 300 },
  { name: "n3", textName: "p3", rpsCpus: "f", backlog: 1000, budget: 300 },
  { name: "n4", textName: "p4", rpsCpus: "e", backlog: 32, budget: 300 },
  // A budget of 8: net_rx_action() runs out after one poll, the IRQ CPU squeezes.
  { name: "n5", textName: "p5", rpsCpus: "e", backlog: 1000, budget: 8 },
];

/** Flows of the host's flood (source ports 30000..30063, as the reference's). */
export const NIC_FLOWS = 64;

export interface PhaseSelection {
  readonly loopback: Phase[];
  readonly hotplug: HotplugPhase[];
  readonly nic: NicPhase[];
}

/** `--phases p1,p3,h2,n1` → those phases, in the order given; unknown or repeated names are refused. */
export function selectPhases(list: string): PhaseSelection {
  const names = list.split(",").map((s) => s.trim());
  const out: PhaseSelection = { loopback: [], hotplug: [], nic: [] };
  const loopback = [...PHASES, ...EXTRA_PHASES];
  const known = [...loopback, ...HOTPLUG_PHASES, ...NIC_PHASES].map((q) => q.name);
  for (const n of names) {
    if (names.indexOf(n) !== names.lastIndexOf(n)) throw new GroundTruthUsage(`--phases: phase '${n}' given twice`);
    const p = loopback.find((q) => q.name === n);
    const h = HOTPLUG_PHASES.find((q) => q.name === n);
    const nic = NIC_PHASES.find((q) => q.name === n);
    if (p) out.loopback.push(p);
    else if (h) out.hotplug.push(h);
    else if (nic) out.nic.push(nic);
    else throw new GroundTruthUsage(`--phases: unknown phase '${n}' (known: ${known.join(",")})`);
  }
  return out;
}

/** The guest's instructions, on the kernel command line (init.sh reads them from /proc/cmdline). */
export function phasesCmdline(phases: readonly Phase[], secs: number, hotplug: readonly HotplugPhase[] = [], nic: readonly NicPhase[] = []): string {
  const spec = phases.map((p) => [p.name, p.rpsCpus, p.flows, p.backlog, p.flowLimitBitmap].join(":")).join(",");
  const hspec = hotplug.map((h) => [h.name, h.rpsCpus, h.offlineCpu, h.backlog].join(":")).join(",");
  const nspec = nic.map((n) => [n.name, n.rpsCpus, n.backlog, n.budget].join(":")).join(",");
  return `gt_secs=${secs} gt_phases=${spec}${hotplug.length ? ` gt_hotplug=${hspec}` : ""}${nic.length ? ` gt_nic=${nspec}` : ""}`;
}
