// The relations `softnet-emu validate` checks: each is one figure (a ratio, a share, an ordering, a
// yes/no) computed the same way on a real kernel's counters and on the model's, with an explicit
// tolerance. Pure: the inputs are phase data in one shape for both sides (validate/sides.ts builds
// them), the output is one row per relation and kernel.
//
// Tolerances are on ratios and orderings only, never on absolute rates: the reference ran under
// QEMU TCG (validate/reference/README.md), whose speed is not a machine's. Each tolerance says
// why it is as wide as it is; docs/CALIBRATION.md lists them with the fit's residuals.
import type { KernelInfo } from "./kernels.ts";

/** One CPU's counters over a phase (or a window of one). */
export interface CpuDelta {
  proc: number;
  drop: number;
  sq: number;
  rrps: number;
  fl: number;
  /** NET_RX runs (/proc/softirqs). */
  netrx: number;
}

export interface PhaseData {
  /** Packets the source offered (loopback: sent by the sender; NIC: reached the device). */
  sent: number;
  /** The sender's packets per second (loopback); the arrival rate (NIC). */
  rate: number;
  /** sent − processed − dropped − still queued: 0 when every packet is accounted for. */
  unaccounted: number;
  cpus: CpuDelta[];
}

/** A hotplug phase cut into the windows before the offline, while offline, and after the online. */
export interface HotplugData {
  offlineCpu: number;
  before: CpuDelta[];
  during: CpuDelta[];
  after: CpuDelta[];
  /** The offline CPU's row was missing while it was offline and back afterwards. */
  rowAbsentWhileOffline: boolean;
  /** Its counters continued from where they stopped (never reset), and it processed again. */
  countersKept: boolean;
  unaccounted: number;
}

/** Everything known about one kernel (or the model run as that kernel's profile). */
export interface Side {
  loopback: Partial<Record<string, PhaseData>>;
  nic: Partial<Record<string, PhaseData>>;
  hotplug: Partial<Record<string, HotplugData>>;
}

export type Value = number | boolean | number[];

export type Tolerance =
  /** |model − kernel| ≤ abs (numbers; every element of a vector). */
  | { kind: "abs"; abs: number }
  /** model / kernel within [1/factor, factor]; both 0 passes. */
  | { kind: "factor"; factor: number }
  /** The same yes/no (or exactly the same number). */
  | { kind: "same" };

export interface RelationDef {
  id: string;
  /** What the figure is, in a kernel engineer's words. */
  what: string;
  /** Which kernels it applies to (default: every kernel with the data). */
  applies?: (k: KernelInfo) => boolean;
  /** The figure from one side; `other(name)` gives another kernel's side of the same kind (cross-kernel relations). undefined: no data. */
  value: (s: Side, other: (kernel: string) => Side | undefined) => Value | undefined;
  tol: Tolerance;
  /** Why the tolerance is what it is. */
  why: string;
  /**
   * A figure that moves from one boot of a kernel to the next further than any tolerance that would
   * still say something (the sender's rate under TCG): compared once per kernel over every boot of
   * it. The kernel's figure is the median of value() over its boots ("median"), or what the
   * function makes of the boots' sides (an ordering of medians), and an "abs" tolerance widens to twice the boots' robust standard deviation (1.4826 × the
   * median absolute deviation) where that is wider. The model's figure is pooled the same way.
   */
  overBoots?: "median" | ((boots: readonly Side[]) => Value | undefined);
}

export interface RelationRow {
  id: string;
  kernel: string;
  profile: string;
  what: string;
  kernel_value: Value;
  model_value: Value | null;
  tolerance: string;
  pass: boolean;
  /** The model figures that pass, for a number compared within "abs" or "factor". */
  band?: [number, number];
  /** An overBoots relation on a kernel booted more than once: each boot's own figure, first boot first. */
  boots?: { kernel: string; value: Value }[];
}

// ---- helpers over CPU rows ------------------------------------------------------------------

const sum = (cpus: readonly CpuDelta[], k: keyof CpuDelta, from = 0): number => cpus.slice(from).reduce((s, c) => s + c[k], 0);

/** Each CPU's share of the processed packets. */
export function shares(cpus: readonly CpuDelta[]): number[] {
  const total = sum(cpus, "proc");
  return cpus.map((c) => (total > 0 ? c.proc / total : 0));
}

/**
 * CPU 0's share (the sender's or the IRQ's CPU: its role is fixed), then the others' largest
 * first: which CPU a flow hashes to is the hash's choice (the kernel's hash seed is random at
 * boot), so only the shape of the targets' shares compares.
 */
export function roleShares(cpus: readonly CpuDelta[]): number[] {
  const [first = 0, ...rest] = shares(cpus);
  return [first, ...rest.sort((a, b) => b - a)];
}

/** a / b, undefined when b is 0 (no data for the ratio). */
export function ratio(a: number, b: number): number | undefined {
  return b > 0 ? a / b : undefined;
}

/** The CPU that processed most: a single flow's RPS target. */
function busiest(cpus: readonly CpuDelta[]): number {
  let best = 0;
  cpus.forEach((c, i) => {
    if (c.proc > cpus[best]!.proc) best = i;
  });
  return best;
}

/**
 * 64 flows hashed over 4 CPUs: a CPU's share has a standard deviation of √(¼·¾/64) ≈ 0.054 per
 * hash seed; kernel and model are two independent seeds (the kernel's is random at boot), so their
 * difference has ≈ 0.077, and ±0.15 is two of those. A row holds every CPU's share at once: drawing
 * both seeds at random (64 flows, uniform hash), a model with the right mechanism passes a row with
 * rps e (three targets, CPU 0's share 0) 99.3 % of the time at ±0.15, but one with rps f (four
 * shares, CPU 0's not sorted) only 94 %; ±0.20 brings rps f to 98.9 %. The model's hash is not the
 * kernel's (skb_get_hash of a different seed), so only this spread is comparable.
 */
const SHARES_WHY = "64 flows hash unevenly: each seed's share of a CPU varies by ±0.054 (1 sd), kernel and model are two seeds";
const SHARES_F_WHY = `${SHARES_WHY}; four shares in a row (rps f): ±0.20 passes a right model 98.9 % of the time (±0.15: 94 %)`;
/** rps f spreads over four CPUs, every one compared (see above). */
const sharesTol = (p: string): Tolerance => ({ kind: "abs", abs: p === "p3" ? 0.2 : 0.15 });

const ipi = (k: KernelInfo) => k.mode === "ipi";
const threads = (k: KernelInfo) => k.mode === "threads";
const generic = (k: KernelInfo) => !k.rt;
const lo = (s: Side, p: string) => s.loopback[p];
const nic = (s: Side, p: string) => s.nic[p];
/** CPUs 1..N-1: the RPS targets of rps_cpus=e (the sender or the IRQ is on CPU 0). */
const TARGETS = 1;

// ---- the relations --------------------------------------------------------------------------

/** Why the sender's rate ratios over rps 0 have the tolerance they have. */
const SPREAD_WHY =
  "the first boots' ratios differ by 0.07–0.12 between 6.1 and 6.12; one kernel's boots spread further, so the tolerance is theirs where wider (docs/CALIBRATION.md)";

export const RELATIONS: readonly RelationDef[] = [
  {
    id: "loopback.conservation",
    what: "every loopback phase: packets sent − processed − dropped − queued (worst phase)",
    value: (s) => worst(Object.values(s.loopback).map((p) => p?.unaccounted)),
    tol: { kind: "same" },
    why: "the kernel's books balance exactly (softnet_stat + the sender's count); so must the model's",
  },
  ...(["p1", "p2", "p3"] as const).map(
    (p): RelationDef => ({
      id: `loopback.${p}.shares`,
      what: `loopback ${p}: shares of the processed packets, the sender's CPU 0 first, then the others largest first`,
      value: (s) => mapDefined(lo(s, p), (d) => roleShares(d.cpus)),
      tol: sharesTol(p),
      why: p === "p3" ? SHARES_F_WHY : SHARES_WHY,
    }),
  ),
  {
    id: "loopback.p4.shares",
    what: "loopback p4 (one flow): shares of processed, CPU 0 first, then the others largest first",
    value: (s) => mapDefined(lo(s, "p4"), (d) => roleShares(d.cpus)),
    tol: { kind: "abs", abs: 0.05 },
    why: "one flow goes to one target (which one is the hash's choice)",
  },
  {
    id: "loopback.p1.sender-netrx-per-packet",
    what: "loopback p1 (no RPS): NET_RX runs per processed packet on the sender's CPU",
    value: (s) => mapDefined(lo(s, "p1"), (d) => ratio(d.cpus[0]!.netrx, d.cpus[0]!.proc)),
    tol: { kind: "abs", abs: 0.05 },
    why: "netif_rx from the sendmsg path raises NET_RX per packet, run at the end of the bh section",
  },
  {
    id: "loopback.sender-netrx-per-rrps",
    what: "loopback p2, p4, p5 (rps e): sender's NET_RX runs / Σ received_rps (raised only to send IPIs)",
    applies: ipi,
    value: (s) => {
      const ps = ["p2", "p4", "p5"].map((p) => lo(s, p)).filter((d): d is PhaseData => d !== undefined);
      if (ps.length === 0) return undefined;
      return ratio(ps.reduce((a, d) => a + d.cpus[0]!.netrx, 0), ps.reduce((a, d) => a + sum(d.cpus, "rrps"), 0));
    },
    tol: { kind: "abs", abs: 0.05 },
    why: "each IPI the sender sends comes from one NET_RX run of its own (exact in the kernel)",
  },
  {
    id: "loopback.p2.target-netrx-per-packet",
    what: "loopback p2: Σ NET_RX runs / Σ processed on the RPS targets",
    applies: ipi,
    value: (s) => mapDefined(lo(s, "p2"), (d) => ratio(sum(d.cpus, "netrx", TARGETS), sum(d.cpus, "proc", TARGETS))),
    tol: { kind: "factor", factor: 2 },
    why: "batching depends on timing; two boots of one kernel differ by ×1.4 (6.1-rt: 0.24 and 0.17)",
  },
  {
    id: "loopback.p2.target-netrx-per-rrps",
    what: "loopback p2: Σ NET_RX runs / Σ received_rps on the RPS targets",
    applies: ipi,
    value: (s) => mapDefined(lo(s, "p2"), (d) => ratio(sum(d.cpus, "netrx", TARGETS), sum(d.cpus, "rrps", TARGETS))),
    tol: { kind: "abs", abs: 0.05 },
    why: "an IPI almost always starts a NET_RX run of its own (kernels: 1.02–1.05)",
  },
  {
    id: "loopback.p2.packets-per-ipi",
    what: "loopback p2: packets per IPI (Σ processed / Σ received_rps on the targets)",
    applies: ipi,
    value: (s) => mapDefined(lo(s, "p2"), (d) => ratio(sum(d.cpus, "proc", TARGETS), sum(d.cpus, "rrps", TARGETS))),
    tol: { kind: "factor", factor: 2 },
    why: "batching depends on timing; two boots of one kernel differ by ×1.4 (6.1-rt: 4.4 and 6.2)",
  },
  {
    id: "loopback.threads.no-ipi",
    what: "loopback, every phase: Σ received_rps + NET_RX runs on the targets (backlog threads: none)",
    applies: threads,
    value: (s) => {
      const ps = ["p2", "p4", "p5", "p6", "p7"].map((p) => lo(s, p)).filter((d): d is PhaseData => d !== undefined);
      return ps.length ? ps.reduce((a, d) => a + sum(d.cpus, "rrps") + sum(d.cpus, "netrx", TARGETS), 0) : undefined;
    },
    tol: { kind: "same" },
    why: "with backlog threads RPS wakes the target's thread: no IPI, no softirq there",
  },
  {
    id: "loopback.rate.0>e>f",
    what: "loopback sender rate ordering: rps 0 > e > f (the median boot's rates)",
    applies: (k) => ipi(k) && generic(k),
    value: (s) => {
      const [a, b, c] = ["p1", "p2", "p3"].map((p) => lo(s, p)?.rate);
      return a === undefined || b === undefined || c === undefined ? undefined : a > b && b > c;
    },
    // One boot's three 5-second rates order themselves as the host's scheduling falls (6.12's e
    // was faster than 0 on ten of its twelve boots, 6.1's on three): the claim is the median boot's.
    overBoots: (boots) => {
      const e = medianOf(boots, (s) => ratio(lo(s, "p2")?.rate ?? 0, lo(s, "p1")?.rate ?? 0));
      const f = medianOf(boots, (s) => ratio(lo(s, "p3")?.rate ?? 0, lo(s, "p1")?.rate ?? 0));
      return e === undefined || f === undefined ? undefined : e < 1 && f < e;
    },
    tol: { kind: "same" },
    why: "the patch's throughput claim: RPS makes loopback slower, f slowest (IPI mode); over the boots, as the medians of e/0 and f/0 order",
  },
  ...(
    [
      ["p2", "e", "rps e", SPREAD_WHY],
      ["p3", "f", "rps f", SPREAD_WHY],
      [
        "p4",
        "e-one-flow",
        "rps e and one flow (one remote target)",
        "one remote target takes the receive path off the sender's CPU: faster than rps 0 on every boot of both kernels, wherever the flow landed (docs/CALIBRATION.md)",
      ],
    ] as const
  ).map(
    ([p, m, how, why]): RelationDef => ({
      id: `loopback.rate.${m}/0`,
      what: `loopback sender rate with ${how} over rps 0 (median over the boots)`,
      applies: (k) => ipi(k) && generic(k),
      value: (s) => ratio(lo(s, p)?.rate ?? 0, lo(s, "p1")?.rate ?? 0),
      overBoots: "median",
      tol: { kind: "abs", abs: 0.15 },
      why,
    }),
  ),
  {
    id: "loopback.rate.e>f",
    what: "loopback sender rate: rps e > rps f (the median boot's rates)",
    value: (s) => {
      const [e, f] = ["p2", "p3"].map((p) => lo(s, p)?.rate);
      return e === undefined || f === undefined ? undefined : e > f;
    },
    // 6.1's seventh boot had e and f within 0.4 % of each other, the other way round.
    overBoots: (boots) => {
      const fe = medianOf(boots, (s) => ratio(lo(s, "p3")?.rate ?? 0, lo(s, "p2")?.rate ?? 0));
      return fe === undefined ? undefined : fe < 1;
    },
    tol: { kind: "same" },
    why: "holds on the median boot of every kernel (and on every boot but one tie): with f the sender also processes a quarter itself",
  },
  {
    id: "loopback.ipi≈threads@f",
    what: "loopback rps f: sender rate with backlog threads / in IPI mode (6.12)",
    applies: (k) => k.name === "6.12-generic",
    value: (s, other) => {
      const t = other("6.12-generic-threaded");
      return t ? ratio(lo(t, "p3")?.rate ?? 0, lo(s, "p3")?.rate ?? 0) : undefined;
    },
    tol: { kind: "abs", abs: 0.15 },
    why: "the patch: 'the performance drops mostly to the same value' (kernels: 0.93)",
  },
  {
    id: "loopback.local-shortcut",
    what: "loopback rps 0: sender rate with backlog threads / in IPI mode (6.12): use_local_napi's recovery",
    applies: (k) => k.name === "6.12-generic",
    value: (s, other) => {
      const t = other("6.12-generic-threaded");
      return t ? ratio(lo(t, "p1")?.rate ?? 0, lo(s, "p1")?.rate ?? 0) : undefined;
    },
    tol: { kind: "abs", abs: 0.1 },
    why: "the patch: a backlog scheduled on its own CPU stays in softirq, 'this restores the loopback throughput' (kernels: 0.97)",
  },
  {
    id: "loopback.p3.sender-squeezes",
    what: "loopback p3 (rps f): the sender's CPU runs out of budget or time (time_squeeze > 0)",
    value: (s) => mapDefined(lo(s, "p3"), (d) => d.cpus[0]!.sq > 0),
    tol: { kind: "same" },
    why: "the sender's CPU processes its own quarter and raises NET_RX for the rest: every kernel squeezes there",
  },
  {
    id: "loopback.target-squeezes",
    what: "loopback p2–p7: RPS targets squeeze (IPI mode: yes; backlog threads never count one)",
    value: (s) => {
      const ps = ["p2", "p4", "p5", "p6", "p7"].map((p) => lo(s, p)).filter((d): d is PhaseData => d !== undefined);
      return ps.length ? ps.some((d) => sum(d.cpus, "sq", TARGETS) > 0) : undefined;
    },
    tol: { kind: "same" },
    why: "process_backlog in net_rx_action hits the budget or the 2-jiffy limit; the threads' loop has no time_squeeze",
  },
  {
    id: "loopback.p5.every-target-drops",
    what: "loopback p5 (backlog 32): every RPS target's row counts drops",
    value: (s) => mapDefined(lo(s, "p5"), (d) => d.cpus.slice(TARGETS).every((c) => c.drop > 0)),
    tol: { kind: "same" },
    why: "a vCPU that loses the processor for a while overflows a 32-packet backlog on every target",
  },
  {
    id: "loopback.p5.drop-fraction",
    what: "loopback p5 (backlog 32): dropped / sent",
    value: (s) => mapDefined(lo(s, "p5"), (d) => ratio(sum(d.cpus, "drop"), d.sent)),
    tol: { kind: "abs", abs: 0.2 },
    why: "the kernels drop 36–57 % (two boots of 6.1-rt: 50 % and 44 %)",
  },
  {
    id: "loopback.p6.drops-on-target",
    what: "loopback p6 (limiter on the targets, one flow): drops only on the flow's target, flow_limit_count 0 everywhere",
    value: (s) =>
      mapDefined(lo(s, "p6"), (d) => {
        const t = busiest(d.cpus);
        return d.cpus.every((c, i) => c.fl === 0 && (i === t || c.drop === 0));
      }),
    tol: { kind: "same" },
    why: "skb_flow_limit() consults the enqueuing CPU's limiter (CPU 0, not in the bitmap); drops count on the target",
  },
  {
    id: "loopback.p7.flow-limit-on-sender",
    what: "loopback p7 (limiter on the sender, one flow): flow_limit_count only on CPU 0, drops only on the target",
    value: (s) =>
      mapDefined(lo(s, "p7"), (d) => {
        const t = busiest(d.cpus);
        return d.cpus[0]!.fl > 0 && d.cpus.every((c, i) => (i === 0 || c.fl === 0) && (i === t || c.drop === 0));
      }),
    tol: { kind: "same" },
    why: "the limiter is this_cpu's (the enqueuer's) and counts there; the packet is dropped on the target's row",
  },
  {
    id: "loopback.p7.drops-before-limiter",
    what: "loopback p7: the target's drops CPU 0's limiter did not count, in ms of the sender's rate",
    value: (s) => mapDefined(lo(s, "p7"), (d) => (d.rate > 0 ? ((sum(d.cpus, "drop") - d.cpus[0]!.fl) / d.rate) * 1000 : undefined)),
    tol: { kind: "abs", abs: 12 },
    why:
      "skb_flow_limit() drops a flow only once it fills half of the last 128 half-full enqueues: until then a stalled " +
      "target overflows its backlog instead, for at most about one host slice (kernels: 0–6.4 ms over 28 boots, " +
      "whether they dropped 1.7 k or 380 k packets)",
  },

  // ---- the NIC path ----
  {
    id: "nic.conservation",
    what: "every NIC phase: rx_packets − processed − dropped − queued (worst phase)",
    value: (s) => worst(Object.values(s.nic).map((p) => p?.unaccounted)),
    tol: { kind: "same" },
    why: "the device's rx_packets equal softnet_stat's processed + dropped exactly",
  },
  ...(["p1", "p2", "p3"] as const).map(
    (p): RelationDef => ({
      id: `nic.${p}.shares`,
      what: `NIC ${p}: shares of the processed packets, the IRQ's CPU 0 first, then the others largest first`,
      value: (s) => mapDefined(nic(s, p), (d) => roleShares(d.cpus)),
      tol: sharesTol(p),
      why: p === "p3" ? SHARES_F_WHY : SHARES_WHY,
    }),
  ),
  {
    id: "nic.p1.packets-per-netrx",
    what: "NIC p1 (no RPS): packets per NET_RX run on the IRQ CPU",
    value: (s) => mapDefined(nic(s, "p1"), (d) => ratio(d.cpus[0]!.proc, d.cpus[0]!.netrx)),
    tol: { kind: "factor", factor: 2 },
    why: "interrupt coalescing and NAPI batching depend on timing (kernels: 12–54)",
  },
  {
    id: "nic.p2.packets-per-ipi",
    what: "NIC p2 (rps e): packets per IPI (Σ processed / Σ received_rps on the targets)",
    applies: ipi,
    value: (s) => mapDefined(nic(s, "p2"), (d) => ratio(sum(d.cpus, "proc", TARGETS), sum(d.cpus, "rrps", TARGETS))),
    tol: { kind: "factor", factor: 2 },
    why: "one device poll of up to 64 packets sends at most one IPI per target (kernels: 43–64)",
  },
  {
    id: "nic.p2.target-netrx-per-rrps",
    what: "NIC p2: Σ NET_RX runs / Σ received_rps on the targets",
    applies: ipi,
    value: (s) => mapDefined(nic(s, "p2"), (d) => ratio(sum(d.cpus, "netrx", TARGETS), sum(d.cpus, "rrps", TARGETS))),
    tol: { kind: "abs", abs: 0.35 },
    why: "targets also raise NET_RX for other reasons at low load (kernels: 1.29–1.58)",
  },
  {
    id: "nic.threads.no-ipi",
    what: "NIC, every phase: Σ received_rps + NET_RX runs on the targets (backlog threads: none)",
    applies: threads,
    value: (s) => {
      const ps = Object.values(s.nic).filter((d): d is PhaseData => d !== undefined);
      return ps.length ? ps.reduce((a, d) => a + sum(d.cpus, "rrps") + sum(d.cpus, "netrx", TARGETS), 0) : undefined;
    },
    tol: { kind: "same" },
    why: "with backlog threads no IPI is sent and the targets run no NET_RX",
  },
  {
    id: "nic.p4.every-target-drops",
    what: "NIC p4 (backlog 32): every RPS target's row counts drops",
    value: (s) => mapDefined(nic(s, "p4"), (d) => d.cpus.slice(TARGETS).every((c) => c.drop > 0)),
    tol: { kind: "same" },
    why: "a device poll delivers up to 64 packets at once, more than a 32-packet backlog holds",
  },
  {
    id: "nic.p5.squeeze-jump",
    what: "NIC netdev_budget=8: the IRQ CPU's time_squeeze with budget 8 ≥ 10 × with 300",
    value: (s) => {
      const a = nic(s, "p5")?.cpus[0]?.sq;
      const b = nic(s, "p2")?.cpus[0]?.sq;
      return a === undefined || b === undefined ? undefined : a > 0 && a >= 10 * b;
    },
    tol: { kind: "same" },
    why: "a budget of 8 ends nearly every net_rx_action with work left (kernels: ×20–×218)",
  },
  {
    id: "nic.p5.target-squeezes",
    what: "NIC netdev_budget=8: the RPS targets squeeze (IPI mode: yes; backlog threads never count one)",
    value: (s) => mapDefined(nic(s, "p5"), (d) => sum(d.cpus, "sq", TARGETS) > 0),
    tol: { kind: "same" },
    why: "process_backlog gets the same small budget in net_rx_action; threads do not count squeezes",
  },

  // ---- hotplug ----
  {
    id: "hotplug.conservation",
    what: "every hotplug phase: sent − processed − dropped − queued at the end (worst phase)",
    value: (s) => worst(Object.values(s.hotplug).map((h) => h?.unaccounted)),
    tol: { kind: "same" },
    why: "dev_cpu_dead hands the dying CPU's queues to a survivor: nothing is lost",
  },
  {
    id: "hotplug.row-absent",
    what: "every hotplug phase: the offline CPU's softnet_stat row is gone while offline and back after",
    value: (s) => allOf(Object.values(s.hotplug).map((h) => h?.rowAbsentWhileOffline)),
    tol: { kind: "same" },
    why: "softnet_seq_show skips offline CPUs",
  },
  {
    id: "hotplug.counters-kept",
    what: "every hotplug phase: the CPU's counters continue after online (never reset) and it processes again",
    value: (s) => allOf(Object.values(s.hotplug).map((h) => h?.countersKept)),
    tol: { kind: "same" },
    why: "softnet_data is per-CPU memory that survives the offline",
  },
  {
    id: "hotplug.hand-over",
    what: "every hotplug phase: the sender's CPU takes a larger share while the target is offline than before or after",
    value: (s) =>
      allOf(
        Object.values(s.hotplug).map((h) => {
          if (!h) return undefined;
          const share = (w: CpuDelta[]) => shares(w)[0] ?? 0;
          return share(h.during) > share(h.before) && share(h.during) > share(h.after);
        }),
      ),
    tol: { kind: "same" },
    why: "get_rps_cpu() skips an offline target: its flows are processed on the enqueuing CPU meanwhile",
  },
];

/** The median of a figure over sides that have it. */
function medianOf(sides: readonly Side[], f: (s: Side) => number | undefined): number | undefined {
  const xs = sides.map(f).filter((x): x is number => x !== undefined);
  return xs.length ? median(xs) : undefined;
}

function mapDefined<T>(v: T | undefined, f: (v: T) => Value | undefined): Value | undefined {
  return v === undefined ? undefined : f(v);
}

/** The largest |x| of the values present (0 is a balanced book). */
function worst(xs: readonly (number | undefined)[]): number | undefined {
  const present = xs.filter((x): x is number => x !== undefined);
  return present.length ? Math.max(...present.map(Math.abs)) : undefined;
}

function allOf(xs: readonly (boolean | undefined)[]): boolean | undefined {
  const present = xs.filter((x): x is boolean => x !== undefined);
  return present.length ? present.every(Boolean) : undefined;
}

// ---- comparing ------------------------------------------------------------------------------

export function describeTolerance(t: Tolerance): string {
  switch (t.kind) {
    case "abs":
      return `±${t.abs}`;
    case "factor":
      return `×/÷${t.factor}`;
    case "same":
      return "same";
  }
}

/** The model figures within() accepts against a kernel figure, as a closed interval (none for "same"). */
export function toleranceBand(kernel: number, t: Tolerance): [number, number] | undefined {
  if (t.kind === "abs") return [kernel - t.abs, kernel + t.abs];
  if (t.kind === "factor") return [kernel / t.factor, kernel * t.factor];
  return undefined;
}

/** Does the model's figure match the kernel's within the tolerance? */
export function within(kernel: Value, model: Value, t: Tolerance): boolean {
  if (typeof kernel === "boolean" || typeof model === "boolean") return kernel === model;
  if (Array.isArray(kernel) || Array.isArray(model)) {
    if (!Array.isArray(kernel) || !Array.isArray(model) || kernel.length !== model.length) return false;
    return kernel.every((k, i) => within(k, model[i]!, t));
  }
  switch (t.kind) {
    case "same":
      return kernel === model;
    case "abs":
      return Math.abs(model - kernel) <= t.abs + 1e-12;
    case "factor":
      if (kernel === 0 || model === 0) return kernel === model;
      return model / kernel <= t.factor && kernel / model <= t.factor;
  }
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m]! : (a[m - 1]! + a[m]!) / 2;
}

/** A robust standard deviation: 1.4826 × the median absolute deviation (σ for normal samples; one wild boot moves it little). */
export function robustSd(xs: readonly number[]): number {
  const m = median(xs);
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)));
}

/** An overBoots relation's tolerance: "abs" widened to 2 robust standard deviations of the kernel's boots. */
export function bootsTolerance(t: Tolerance, samples: readonly number[]): Tolerance {
  if (t.kind !== "abs" || samples.length < 3) return t;
  // Rounded up to the hundredth shown: the tolerance printed is the one applied.
  const spread = Math.ceil(2 * robustSd(samples) * 100 - 1e-9) / 100;
  return spread > t.abs ? { kind: "abs", abs: spread } : t;
}

/** The kernels compared as one over their boots: the first boot's name → every boot present, first first. */
function bootGroups(infos: readonly KernelInfo[], present: (name: string) => boolean): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const k of infos) {
    if (!present(k.name)) continue;
    const first = k.repeatOf ?? k.name;
    const group = groups.get(first);
    if (group) group.push(k.name);
    else groups.set(first, [k.name]);
  }
  return groups;
}

/**
 * Every relation on every kernel that has the data: `kernels` are the reference sides by kernel
 * name, `models` the model's side for each kernel (its profile's runs). An overBoots relation gives
 * one row per kernel, on its first boot present, over every boot of it present.
 */
export function evaluateRelations(
  infos: readonly KernelInfo[],
  kernels: Record<string, Side>,
  models: Record<string, Side>,
  defs: readonly RelationDef[] = RELATIONS,
): RelationRow[] {
  const rows: RelationRow[] = [];
  const groups = bootGroups(infos, (n) => kernels[n] !== undefined);
  for (const def of defs)
    for (const k of infos) {
      if (def.applies && !def.applies(k)) continue;
      const boots = def.overBoots ? groups.get(k.repeatOf ?? k.name) : kernels[k.name] && [k.name];
      if (!boots || boots[0] !== k.name) continue;
      const ks = boots.map((n) => kernels[n]!);
      const perBoot = ks.map((s) => def.value(s, (n) => kernels[n]));
      const kv = def.overBoots ? pool(def.overBoots, ks, perBoot) : perBoot[0];
      if (kv === undefined) continue;
      const ms = boots.map((n) => models[n]).filter((s): s is Side => s !== undefined);
      const modelPerBoot = ms.map((s) => def.value(s, (n) => models[n]));
      const mv = ms.length < boots.length ? null : ((def.overBoots ? pool(def.overBoots, ms, modelPerBoot) : modelPerBoot[0]) ?? null);
      const samples = perBoot.filter((v): v is number => typeof v === "number");
      // The boots with a figure of their own (a later NIC boot has no loopback phase to give one).
      const figures = boots.flatMap((n, i) => (perBoot[i] === undefined ? [] : [{ kernel: n, value: perBoot[i]! }]));
      const tol = def.overBoots ? bootsTolerance(def.tol, samples) : def.tol;
      const band = typeof kv === "number" ? toleranceBand(kv, tol) : undefined;
      rows.push({
        id: def.id,
        kernel: k.name,
        profile: k.profile,
        what: def.what,
        kernel_value: kv,
        model_value: mv,
        tolerance: describeTolerance(tol) + (tol !== def.tol ? ` (2σ of ${samples.length} boots)` : ""),
        pass: mv !== null && within(kv, mv, tol),
        ...(band ? { band } : {}),
        ...(figures.length > 1 ? { boots: figures } : {}),
      });
    }
  return rows;
}

function pool(how: NonNullable<RelationDef["overBoots"]>, sides: readonly Side[], perBoot: readonly (Value | undefined)[]): Value | undefined {
  if (how !== "median") return how(sides);
  const xs = perBoot.filter((v): v is number => typeof v === "number");
  return xs.length ? median(xs) : undefined;
}
