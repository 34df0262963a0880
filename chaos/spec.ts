// Nemesis specs: `KIND[:key=value,...]` from --nemesis, or a mapping from a scenario's `nemesis:`
// section, parsed into typed, defaulted options. Each kind documents its keys with units here;
// the schedule generators (chaos/kinds.ts) read nothing else. Bad input is a one-line UsageError
// naming the spec and the key: `--nemesis hotplug:min_online=9: min_online 9 is larger than ...`.
import type { EmuConfig } from "../model/config.ts";
import type { NumericSysctl } from "../model/messages.ts";
import { UsageError } from "../config/errors.ts";
import { cpuRange, formatCpuMask, formatNs, parseCpuMask, parseDurationNs } from "../config/units.ts";

type KeyType = "duration" | "count" | "fraction" | "factor" | "mask" | "sysctl" | "id";

interface KeyDef {
  type: KeyType;
  /** Shown in --help and the README. */
  doc: string;
}

/** Numeric sysctls a nemesis may turn (flow_limit_table_len sizes tables; rps_sock_flow_entries is RFS). */
export const NEMESIS_SYSCTLS = ["netdev_max_backlog", "netdev_budget", "netdev_budget_usecs", "dev_weight", "dev_weight_rx_bias"] as const satisfies readonly NumericSysctl[];
export type NemesisSysctl = (typeof NEMESIS_SYSCTLS)[number];

const interval: KeyDef = { type: "duration", doc: "mean virtual time between two faults (each gap is uniform in [interval/2, 3·interval/2))" };
const cpuMask: KeyDef = { type: "mask", doc: "hex mask of the CPUs it may hit (default: all)" };

/** Every kind and its keys. `kill` and `pause` act on CPU processes: --engine processes only. */
export const NEMESIS_KINDS = {
  hotplug: {
    doc: "offline a random CPU, online it again after a dwell; never below min_online (at least 1) online CPUs",
    keys: { interval, dwell: { type: "duration", doc: "mean time a CPU stays offline" }, min_online: { type: "count", doc: "fewest online CPUs, >= 1" }, cpu_mask: cpuMask },
  },
  "irq-affinity": {
    doc: "write a random CPU set to a NIC queue's /proc/irq/N/smp_affinity",
    keys: { interval, queue: { type: "id", doc: "the NIC queue (default: a random one each time)" }, cpu_mask: cpuMask },
  },
  rps: {
    doc: "write a random CPU set (sometimes 0 = off) to a source's rps_cpus",
    keys: { interval, source: { type: "id", doc: "the source: NIC queues first, then loopback senders (default: random)" }, cpu_mask: cpuMask },
  },
  sysctl: {
    doc: "turn a net.core sysctl down to a random value in [min, max] for a dwell, then back",
    keys: {
      interval,
      dwell: { type: "duration", doc: "how long the changed value stays" },
      name: { type: "sysctl", doc: `the sysctl: ${NEMESIS_SYSCTLS.join(", ")} (default netdev_max_backlog)` },
      min: { type: "count", doc: "smallest value written (default: the original / 32, at least 1)" },
      max: { type: "count", doc: "largest value written (default: the original / 4)" },
    },
  },
  burst: {
    doc: "a load spike (rate × factor) with a hot flow taking hot_share of a source's packets, for a while",
    keys: {
      interval,
      duration: { type: "duration", doc: "how long a burst lasts" },
      factor: { type: "factor", doc: "rate multiplier during the burst" },
      hot_share: { type: "fraction", doc: "share of the source's packets that go to one hot flow (0 = none)" },
      source: { type: "id", doc: "the source (default: random)" },
    },
  },
  "irq-off": {
    doc: "a CPU runs with interrupts and softirqs off (a long critical section) for about `duration`",
    keys: { interval, duration: { type: "duration", doc: "mean length of the irqs-off section" }, cpu_mask: cpuMask },
  },
  "ipi-delay": {
    doc: "RPS IPIs to a CPU arrive `extra` late for a dwell (a busy hypervisor)",
    keys: { interval, extra: { type: "duration", doc: "added IPI latency" }, dwell: { type: "duration", doc: "how long IPIs are late" }, cpu_mask: cpuMask },
  },
  kill: {
    doc: "SIGKILL a CPU process once the run reaches virtual time `at` (crash policy: lost_on_crash)",
    keys: { at: { type: "duration", doc: "virtual time (default: the middle of the chaos phase)" }, cpu: { type: "id", doc: "the CPU (default: the highest)" } },
  },
  pause: {
    doc: "SIGSTOP a CPU process at virtual time `at`, SIGCONT after `wall` of wall-clock time",
    keys: {
      at: { type: "duration", doc: "virtual time (default: the middle of the chaos phase)" },
      cpu: { type: "id", doc: "the CPU (default: the highest)" },
      wall: { type: "duration", doc: "wall-clock pause; longer than the CPU timeout (3s) = a crash" },
    },
  },
} as const satisfies Record<string, { doc: string; keys: Record<string, KeyDef> }>;

export type NemesisKind = keyof typeof NEMESIS_KINDS;
export const NEMESIS_KIND_NAMES = Object.keys(NEMESIS_KINDS) as NemesisKind[];
/** Kinds that need one OS process per CPU. */
export const PROCESS_KINDS: readonly NemesisKind[] = ["kill", "pause"];

/** A parsed spec: kind plus the keys given (values in ns, CPU lists, numbers). Defaults come later. */
export interface NemesisSpec {
  kind: NemesisKind;
  /** As written: `--nemesis hotplug:interval=1ms` or `nemesis[0]`, for messages. */
  origin: string;
  given: Record<string, number | number[] | string>;
}

/** `origin: ` in front of a message, or nothing (a scenario file's schema names the place itself). */
function at(origin: string): string {
  return origin ? `${origin}: ` : "";
}

/** `hotplug:interval=1ms,min_online=2` → a spec (keys checked, values parsed; no config needed). */
export function parseNemesis(text: string, origin = `--nemesis ${text}`): NemesisSpec {
  const t = text.trim();
  const colon = t.indexOf(":");
  const kind = colon < 0 ? t : t.slice(0, colon);
  const pairs = colon < 0 ? [] : t.slice(colon + 1).split(",").filter((p) => p.trim() !== "");
  const entries = pairs.map((p) => {
    const eq = p.indexOf("=");
    if (eq <= 0) throw new UsageError(`${at(origin)}'${p}' is not key=value`);
    return [p.slice(0, eq).trim(), p.slice(eq + 1).trim()] as const;
  });
  return nemesisFromEntries(kind, entries, origin);
}

/** A scenario file's `{ kind: hotplug, interval: 1ms }` → a spec (values as YAML gave them). */
export function nemesisFromMapping(map: Record<string, unknown>, origin: string): NemesisSpec {
  const { kind, ...rest } = map;
  if (typeof kind !== "string") throw new UsageError(`${at(origin)}missing kind (one of ${NEMESIS_KIND_NAMES.join(", ")})`);
  return nemesisFromEntries(kind, Object.entries(rest).map(([k, v]) => [k, String(v)] as const), origin);
}

function nemesisFromEntries(kind: string, entries: readonly (readonly [string, string])[], origin: string): NemesisSpec {
  if (!(kind in NEMESIS_KINDS)) throw new UsageError(`${at(origin)}unknown nemesis kind '${kind}' (known: ${NEMESIS_KIND_NAMES.join(", ")})`);
  const k = kind as NemesisKind;
  const keys: Record<string, KeyDef> = NEMESIS_KINDS[k].keys;
  const given: NemesisSpec["given"] = {};
  for (const [key, value] of entries) {
    const def = keys[key];
    if (!def) throw new UsageError(`${at(origin)}unknown key '${key}' for ${kind} (known: ${Object.keys(keys).join(", ")})`);
    if (key in given) throw new UsageError(`${at(origin)}key '${key}' given twice`);
    try {
      given[key] = parseValue(def.type, value);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      throw new UsageError(`${at(origin)}${key}: ${err.message}`);
    }
  }
  return { kind: k, origin, given };
}

function parseValue(type: KeyType, v: string): number | number[] | string {
  switch (type) {
    case "duration":
      return parseDurationNs(v);
    case "mask":
      return parseCpuMask(v);
    case "sysctl": {
      const name = v.replace(/^net\.core\./, "");
      if (!(NEMESIS_SYSCTLS as readonly string[]).includes(name))
        throw new UsageError(`'${v}' is not a sysctl a nemesis can turn (known: ${NEMESIS_SYSCTLS.map((s) => `net.core.${s}`).join(", ")})`);
      return name;
    }
    default: {
      if (v.startsWith("-")) throw new UsageError(`${v} is negative`);
      const n = Number(v);
      if (v === "" || !Number.isFinite(n)) throw new UsageError(`'${v}' is not a number`);
      if ((type === "count" || type === "id") && !Number.isInteger(n)) throw new UsageError(`${v} is not a whole number`);
      if (type === "fraction" && n > 1) throw new UsageError(`${v} is not a share between 0 and 1`);
      if (type === "factor" && n <= 0) throw new UsageError(`${v} must be > 0`);
      return n;
    }
  }
}

// ------------------------------------------------------------------ resolved options, per kind

export interface HotplugOpts { interval_ns: number; dwell_ns: number; min_online: number; cpus: number[] }
export interface IrqAffinityOpts { interval_ns: number; queue: number; cpus: number[] }
export interface RpsOpts { interval_ns: number; source: number; cpus: number[] }
export interface SysctlOpts { interval_ns: number; dwell_ns: number; name: NemesisSysctl; min: number; max: number }
export interface BurstOpts { interval_ns: number; duration_ns: number; factor: number; hot_share: number; source: number }
export interface IrqOffOpts { interval_ns: number; duration_ns: number; cpus: number[] }
export interface IpiDelayOpts { interval_ns: number; extra_ns: number; dwell_ns: number; cpus: number[] }
export interface KillOpts { at_ns: number; cpu: number }
export interface PauseOpts { at_ns: number; cpu: number; wall_ns: number }

export type Nemesis =
  | { kind: "hotplug"; opts: HotplugOpts }
  | { kind: "irq-affinity"; opts: IrqAffinityOpts }
  | { kind: "rps"; opts: RpsOpts }
  | { kind: "sysctl"; opts: SysctlOpts }
  | { kind: "burst"; opts: BurstOpts }
  | { kind: "irq-off"; opts: IrqOffOpts }
  | { kind: "ipi-delay"; opts: IpiDelayOpts }
  | { kind: "kill"; opts: KillOpts }
  | { kind: "pause"; opts: PauseOpts };

/** -1 in `queue`/`source`: pick a random one at each fault. */
export const ANY = -1;

/**
 * Fill in defaults and check the spec against the host: CPU ids and masks in range, sources that
 * exist, min_online <= CPUs, intervals > 0, and that kill/pause have CPU processes to act on.
 */
export function resolveNemesis(spec: NemesisSpec, cfg: EmuConfig, engine: "inprocess" | "processes"): Nemesis {
  const g = spec.given;
  const fail = (m: string): UsageError => new UsageError(`${at(spec.origin)}${m}`);
  const all = Array.from({ length: cfg.cpus }, (_, i) => i);
  const dur = (key: string, dflt: number, min = 1): number => {
    const v = (g[key] as number | undefined) ?? dflt;
    if (v < min) throw fail(`${key} must be >= ${formatNs(min)}, got ${formatNs(v)}`);
    return v;
  };
  const mask = (): number[] => {
    const cpus = (g.cpu_mask as number[] | undefined) ?? all;
    const bad = cpus.find((c) => c >= cfg.cpus);
    if (bad !== undefined) throw fail(`cpu_mask '${formatCpuMask(cpus)}' sets CPU ${bad}, but the host has only ${cpuRange(cfg.cpus)}`);
    if (cpus.length === 0) throw fail("cpu_mask is empty");
    return cpus;
  };
  const cpu = (): number => {
    const c = (g.cpu as number | undefined) ?? cfg.cpus - 1;
    if (c >= cfg.cpus) throw fail(`cpu ${c} is out of range: the host has ${cpuRange(cfg.cpus)}`);
    return c;
  };
  const nSources = cfg.queues.length + cfg.senders.length;
  const source = (): number => {
    const s = (g.source as number | undefined) ?? ANY;
    if (nSources === 0) throw fail("the scenario has no load source (NIC queue or loopback sender)");
    if (s >= nSources) throw fail(`source ${s} does not exist (sources 0-${nSources - 1}: NIC queues first, then loopback senders)`);
    return s;
  };
  if (PROCESS_KINDS.includes(spec.kind) && engine !== "processes")
    throw fail(`${spec.kind} acts on CPU processes: it needs --engine processes`);
  switch (spec.kind) {
    case "hotplug": {
      const min_online = (g.min_online as number | undefined) ?? 1;
      if (min_online < 1) throw fail("min_online must be >= 1 (the kernel never offlines the last CPU)");
      if (min_online > cfg.cpus) throw fail(`min_online ${min_online} is larger than the CPU count (the host has ${cpuRange(cfg.cpus)})`);
      return { kind: "hotplug", opts: { interval_ns: dur("interval", 2_000_000), dwell_ns: dur("dwell", 1_000_000), min_online, cpus: mask() } };
    }
    case "irq-affinity": {
      const queue = (g.queue as number | undefined) ?? ANY;
      if (cfg.queues.length === 0) throw fail("the scenario has no NIC queue");
      if (queue >= cfg.queues.length) throw fail(`queue ${queue} does not exist (queues 0-${cfg.queues.length - 1})`);
      return { kind: "irq-affinity", opts: { interval_ns: dur("interval", 5_000_000), queue, cpus: mask() } };
    }
    case "rps":
      return { kind: "rps", opts: { interval_ns: dur("interval", 5_000_000), source: source(), cpus: mask() } };
    case "sysctl": {
      const name = ((g.name as string | undefined) ?? "netdev_max_backlog") as NemesisSysctl;
      const orig = cfg.sysctls[name];
      const floor = name === "netdev_max_backlog" || name === "netdev_budget" || name === "netdev_budget_usecs" ? 0 : 1;
      const min = (g.min as number | undefined) ?? Math.max(1, Math.floor(orig / 32));
      const max = (g.max as number | undefined) ?? Math.max(min, Math.floor(orig / 4));
      if (min < floor) throw fail(`min ${min} is below what net.core.${name} accepts (${floor})`);
      if (max < min) throw fail(`max ${max} is smaller than min ${min}`);
      return { kind: "sysctl", opts: { interval_ns: dur("interval", 5_000_000), dwell_ns: dur("dwell", 2_000_000), name, min, max } };
    }
    case "burst":
      return {
        kind: "burst",
        opts: {
          interval_ns: dur("interval", 5_000_000),
          duration_ns: dur("duration", 1_000_000),
          factor: (g.factor as number | undefined) ?? 4,
          hot_share: (g.hot_share as number | undefined) ?? 0.5,
          source: source(),
        },
      };
    case "irq-off":
      return { kind: "irq-off", opts: { interval_ns: dur("interval", 5_000_000), duration_ns: dur("duration", 500_000), cpus: mask() } };
    case "ipi-delay":
      return { kind: "ipi-delay", opts: { interval_ns: dur("interval", 5_000_000), extra_ns: dur("extra", 100_000), dwell_ns: dur("dwell", 2_000_000), cpus: mask() } };
    case "kill":
    case "pause": {
      const at_ns = (g.at as number | undefined) ?? Math.floor(cfg.duration_ns / 2);
      if (at_ns >= cfg.duration_ns) throw fail(`at ${formatNs(at_ns)} is not inside the chaos phase (${formatNs(cfg.duration_ns)})`);
      if (spec.kind === "kill") return { kind: "kill", opts: { at_ns, cpu: cpu() } };
      return { kind: "pause", opts: { at_ns, cpu: cpu(), wall_ns: dur("wall", 500_000_000) } };
    }
  }
}

/** The spec in flag form with every default filled in: what `chaos.nemeses` shows. */
export function formatNemesis(n: Nemesis): string {
  const parts = Object.entries(n.opts).map(([k, v]) => {
    const key = k.replace(/_ns$/, "").replace(/^cpus$/, "cpu_mask");
    if (Array.isArray(v)) return `${key}=${formatCpuMask(v)}`;
    if (k.endsWith("_ns")) return `${key}=${formatNs(v)}`;
    if ((k === "queue" || k === "source") && v === ANY) return null;
    return `${key}=${v}`;
  });
  return `${n.kind}:${parts.filter((p) => p !== null).join(",")}`;
}
