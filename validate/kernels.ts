// The kernels of the reference data and the model profile each one is compared with
// (validate/reference/README.md has the packages and the boots).
import type { CostModel } from "../model/config.ts";

export interface KernelInfo {
  /** The run key in the reference files. */
  name: string;
  profile: string;
  /** How RPS reaches its targets: IPIs and NET_RX there, or backlog threads. */
  mode: "ipi" | "threads";
  rt: boolean;
  /** A second boot of a kernel already listed: its loopback figures only, compared with the same model runs. */
  repeatOf?: string;
  /** What this kernel build costs beyond the validate scenarios' `costs:` (BUILD_COSTS). */
  buildCosts?: Partial<CostModel>;
}

/**
 * 6.1's RPS path is dearer than 6.12's on the same machine: the host's view of the sender's vCPU
 * thread (docs/CALIBRATION.md, "The host's view") measured 2–4 µs more per packet with one remote
 * target and 5–13 µs more with three. What grows with the targets in the model is the IPIs a
 * packet needs (an idle target needs one; a busy one batches), so the difference is an IPI's cost:
 * with one busy target it is spread over many packets, with three over few. Set by hand on the
 * fitted costs (12 µs and 20 µs tried): 6.1's median boot sent 0.76 times as fast with rps e as
 * without RPS, 6.12's 1.09, and the same costs give both one figure (docs/CALIBRATION.md).
 */
export const BUILD_COSTS: Readonly<Record<string, Partial<CostModel>>> = {
  "6.1": { ipi_send_ns: 20000 },
};

/**
 * Later boots of 6.1-generic and 6.12-generic by `npm run ground-truth`, one file each
 * (loopback-run2.json … in validate/reference/, read as KERNEL#runN; validate/reference/README.md).
 */
export const LATER_BOOT_RUNS = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] as const;

/**
 * Later NIC boots of every kernel by `npm run ground-truth -- --phases n1,...,n5`, one file each
 * (nic-flood-run2.txt … in validate/reference/, read as KERNEL#nicN: a boot of its own, not the
 * loopback boot of the same number).
 */
export const LATER_NIC_BOOTS = [2] as const;

const FIRST_BOOTS: readonly KernelInfo[] = [
  { name: "6.1-generic", profile: "6.6", mode: "ipi", rt: false, buildCosts: BUILD_COSTS["6.1"] },
  { name: "6.12-generic", profile: "6.6-patched", mode: "ipi", rt: false },
  { name: "6.12-generic-threaded", profile: "6.6-patched-threads", mode: "threads", rt: false },
  { name: "6.1-rt", profile: "rt-6.6", mode: "ipi", rt: true, buildCosts: BUILD_COSTS["6.1"] },
  { name: "6.12-rt", profile: "rt-6.6-patched", mode: "threads", rt: true },
];

/** A later boot of `k`, read as `k.name` + `suffix`. */
const later = (k: KernelInfo, suffix: string): KernelInfo => ({ ...k, name: `${k.name}${suffix}`, repeatOf: k.name });
const first = (name: string): KernelInfo => FIRST_BOOTS.find((k) => k.name === name)!;

export const KERNELS: readonly KernelInfo[] = [
  ...FIRST_BOOTS,
  later(first("6.1-rt"), "#run2"),
  ...LATER_BOOT_RUNS.flatMap((n) => [later(first("6.1-generic"), `#run${n}`), later(first("6.12-generic"), `#run${n}`)]),
  ...LATER_NIC_BOOTS.flatMap((n) => FIRST_BOOTS.map((k) => later(k, `#nic${n}`))),
];

export const LOOPBACK_PHASES = ["p1", "p2", "p3", "p4", "p5", "p6", "p7"] as const;
export const NIC_PHASES = ["p1", "p2", "p3", "p4", "p5"] as const;
export const HOTPLUG_PHASES = ["h1", "h2", "h3", "h4"] as const;

export function kernelInfo(name: string): KernelInfo | undefined {
  return KERNELS.find((k) => k.name === name);
}
