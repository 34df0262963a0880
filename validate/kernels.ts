// The kernels of the reference data and the model profile each one is compared with
// (validate/reference/README.md has the packages and the boots).

export interface KernelInfo {
  /** The run key in the reference files. */
  name: string;
  profile: string;
  /** How RPS reaches its targets: IPIs and NET_RX there, or backlog threads. */
  mode: "ipi" | "threads";
  rt: boolean;
  /** A second boot of a kernel already listed: its loopback figures only, compared with the same model runs. */
  repeatOf?: string;
}

/**
 * Later boots of 6.1-generic and 6.12-generic by `npm run ground-truth`, one file each
 * (loopback-run2.json … in validate/reference/, read as KERNEL#runN; validate/reference/README.md).
 */
export const LATER_BOOT_RUNS = [2, 3, 4, 5, 6, 7] as const;

export const KERNELS: readonly KernelInfo[] = [
  { name: "6.1-generic", profile: "6.6", mode: "ipi", rt: false },
  { name: "6.12-generic", profile: "6.6-patched", mode: "ipi", rt: false },
  { name: "6.12-generic-threaded", profile: "6.6-patched-threads", mode: "threads", rt: false },
  { name: "6.1-rt", profile: "rt-6.6", mode: "ipi", rt: true },
  { name: "6.1-rt#run2", profile: "rt-6.6", mode: "ipi", rt: true, repeatOf: "6.1-rt" },
  { name: "6.12-rt", profile: "rt-6.6-patched", mode: "threads", rt: true },
  ...LATER_BOOT_RUNS.flatMap((n): KernelInfo[] => [
    { name: `6.1-generic#run${n}`, profile: "6.6", mode: "ipi", rt: false, repeatOf: "6.1-generic" },
    { name: `6.12-generic#run${n}`, profile: "6.6-patched", mode: "ipi", rt: false, repeatOf: "6.12-generic" },
  ]),
];

export const LOOPBACK_PHASES = ["p1", "p2", "p3", "p4", "p5", "p6", "p7"] as const;
export const NIC_PHASES = ["p1", "p2", "p3", "p4", "p5"] as const;
export const HOTPLUG_PHASES = ["h1", "h2", "h3", "h4"] as const;

export function kernelInfo(name: string): KernelInfo | undefined {
  return KERNELS.find((k) => k.name === name);
}
