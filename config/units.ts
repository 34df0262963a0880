// Parsers for the values users type: durations, hex CPU masks, CPU@TIME, KEY=VALUE sysctls, sizes.
// Shared by the flags (cli/main.ts) and the scenario files (config/scenario.ts). Each throws a
// UsageError whose message says what is wrong without repeating the input's name: the caller
// knows whether it was `--duration` or `load[0].start` and puts that in front.
import type { Sysctls } from "../model/config.ts";
import { parseMaxFrame } from "../transport/auth.ts";
import { UsageError } from "./errors.ts";

/** The emulator's CPU limit (a softnet_stat row per CPU, one process each in the distributed engine). */
export const MAX_CPUS = 256;

const NS_PER_UNIT: Readonly<Record<string, bigint>> = {
  ns: 1n,
  us: 1_000n,
  "µs": 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
};

const DURATION_RE = /^(\d+)(?:\.(\d+))?\s*(ns|us|µs|ms|s)$/;

/**
 * `50ms`, `1s`, `5us`, `200ns`, `2.5ms` → integer nanoseconds. A unit is required: a bare `50`
 * is ambiguous (ns? ms?) and most often a mistake. Computed in BigInt so `0.1s` is exact.
 */
export function parseDurationNs(text: string): number {
  const t = text.trim();
  if (t.startsWith("-")) throw new UsageError(`duration '${text}' is negative`);
  const m = DURATION_RE.exec(t);
  if (!m) throw new UsageError(`'${text}' is not a duration: expected a number and a unit (ns, us, ms, s), e.g. 50ms or 2.5ms`);
  const [, whole = "0", frac = "", unit = "ns"] = m;
  const perUnit = NS_PER_UNIT[unit] ?? 1n;
  const scale = 10n ** BigInt(frac.length);
  const scaled = (BigInt(whole) * scale + BigInt(frac || "0")) * perUnit;
  if (scaled % scale !== 0n) throw new UsageError(`duration '${text}' is not a whole number of nanoseconds`);
  const ns = scaled / scale;
  if (ns > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`duration '${text}' is too large`);
  return Number(ns);
}

/** Integer ns → the shortest exact human form: 50000000 → `50ms`, 2500000 → `2.5ms`. */
export function formatNs(ns: number): string {
  for (const [unit, per] of [["s", 1e9], ["ms", 1e6], ["us", 1e3]] as const) {
    if (ns >= per) {
      const v = ns / per;
      // Three decimals are enough for a summary; exact values stay in the JSON.
      return `${Number.isInteger(v) ? v : Number(v.toFixed(3))}${unit}`;
    }
  }
  return `${ns}ns`;
}

/**
 * A hex CPU mask as the kernel writes and reads them (rps_cpus, smp_affinity,
 * flow_limit_cpu_bitmap): `e`, `0xf`, `0`, or 32-bit groups separated by commas,
 * `00000001,00000000` (CPU 32). BigInt, so more than 32 CPUs work. Returns sorted CPU ids.
 * With `cpuCount`, a set bit at or above it is an error, as the kernel's cpumask_parse() refuses.
 */
export function parseCpuMask(text: string, cpuCount?: number): number[] {
  const t = text.trim();
  const body = t.replace(/^0x/i, "");
  const groups = body.split(",");
  const wellFormed = body !== "" && groups.every((g) => /^[0-9a-f]+$/i.test(g) && (groups.length === 1 || g.length <= 8));
  if (!wellFormed || t.length > 2 + MAX_CPUS / 4 + MAX_CPUS / 32)
    throw new UsageError(`'${text}' is not a hex CPU mask (e.g. e = CPUs 1-3, f = CPUs 0-3, 0 = none)`);
  // Each comma-separated group after the first holds exactly 32 bits, as in bitmap_parse().
  let mask = 0n;
  for (const g of groups) mask = groups.length > 1 ? (mask << 32n) | BigInt(`0x${g}`) : BigInt(`0x${g}`);
  const cpus: number[] = [];
  for (let cpu = 0; mask > 0n; cpu++, mask >>= 1n) if (mask & 1n) cpus.push(cpu);
  const last = cpus[cpus.length - 1];
  if (last !== undefined && last >= MAX_CPUS) throw new UsageError(`CPU mask '${text}' sets CPU ${last}, above the limit of ${MAX_CPUS} CPUs`);
  if (cpuCount !== undefined && last !== undefined && last >= cpuCount)
    throw new UsageError(`CPU mask '${text}' sets CPU ${last}, but the host has only ${cpuRange(cpuCount)}`);
  return cpus;
}

/** Sorted CPU ids → the kernel's hex form (`e`), for messages and the summary. */
export function formatCpuMask(cpus: readonly number[]): string {
  let mask = 0n;
  for (const cpu of cpus) mask |= 1n << BigInt(cpu);
  return mask.toString(16);
}

/** `4 CPUs (CPUs 0-3)`, `1 CPU (CPU 0)`: how messages name the valid ids. */
export function cpuRange(cpuCount: number): string {
  return cpuCount === 1 ? "1 CPU (CPU 0)" : `${cpuCount} CPUs (CPUs 0-${cpuCount - 1})`;
}

/** A CPU id; checked against `cpuCount` when given. */
export function parseCpuId(text: string, cpuCount?: number): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new UsageError(`'${text}' is not a CPU id (a number from 0)`);
  const cpu = Number(t);
  checkCpuId(cpu, cpuCount ?? MAX_CPUS);
  return cpu;
}

export function checkCpuId(cpu: number, cpuCount: number): void {
  if (cpu >= cpuCount) throw new UsageError(`CPU ${cpu} is out of range: the host has ${cpuRange(cpuCount)}`);
}

export interface CpuAtTime {
  cpu: number;
  at_ns: number;
}

/** `CPU@TIME` for --offline/--online: `2@10ms`. */
export function parseCpuAtTime(text: string): CpuAtTime {
  const at = text.indexOf("@");
  if (at < 0) throw new UsageError(`'${text}' is not CPU@TIME (e.g. 2@10ms)`);
  return { cpu: parseCpuId(text.slice(0, at)), at_ns: parseDurationNs(text.slice(at + 1)) };
}

/** A non-negative integer with an upper bound, from a flag or a file. */
export function parseCount(text: string, min: number, max: number): number {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) throw new UsageError(`'${text}' is not a whole number`);
  const n = Number(t);
  if (n < min) throw new UsageError(`${t} is too small: must be >= ${min}`);
  if (n > max) throw new UsageError(`${t} is too large: must be <= ${max}`);
  return n;
}

/** A rate in packets per second: a non-negative number, `1e6` and `250000.5` allowed. */
export function parsePps(text: string): number {
  const t = text.trim();
  if (t.startsWith("-")) throw new UsageError(`rate ${t} is negative: must be >= 0`);
  const n = /^(\d+(\.\d*)?|\.\d+)(e\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`'${text}' is not a rate in packets per second (e.g. 200000 or 1e6)`);
  if (n > MAX_PPS) throw new UsageError(`rate ${t} is too large: must be <= ${MAX_PPS}`);
  return n;
}

export const MAX_PPS = 100_000_000;

// --- sysctls -----------------------------------------------------------------------------------

type SysctlKey = keyof Sysctls;

interface SysctlSpec {
  field: SysctlKey;
  parse(value: string): Sysctls[SysctlKey];
}

const INT_MAX = 2 ** 31 - 1;

/** Round up to a power of two, as rps_sock_flow_sysctl() and store_rps_dev_flow_table_cnt() do. */
export function roundUpPow2(n: number): number {
  return n <= 1 ? n : 2 ** Math.ceil(Math.log2(n));
}

function intSysctl(field: SysctlKey, min: number, max: number): SysctlSpec {
  return { field, parse: (v) => parseCount(v, min, max) };
}

/**
 * The net.core sysctls of docs/DESIGN.md §1.8, by the kernel's names. Bounds are the kernel's
 * (proc_dointvec_minmax limits), capped where the emulator allocates per entry.
 */
const SYSCTLS: Readonly<Record<string, SysctlSpec>> = {
  "net.core.netdev_max_backlog": intSysctl("netdev_max_backlog", 0, 1 << 20),
  "net.core.netdev_budget": intSysctl("netdev_budget", 0, INT_MAX),
  "net.core.netdev_budget_usecs": intSysctl("netdev_budget_usecs", 0, INT_MAX),
  "net.core.dev_weight": intSysctl("dev_weight", 1, 1 << 20),
  "net.core.dev_weight_rx_bias": intSysctl("dev_weight_rx_bias", 1, 1 << 20),
  "net.core.flow_limit_cpu_bitmap": { field: "flow_limit_cpu_bitmap", parse: (v) => parseCpuMask(v) },
  "net.core.flow_limit_table_len": {
    field: "flow_limit_table_len",
    parse(v) {
      const n = parseCount(v, 1, 1 << 20);
      // flow_limit_table_len_sysctl() refuses anything else: buckets are indexed by hash & (len - 1).
      if ((n & (n - 1)) !== 0) throw new UsageError(`${n} is not a power of two (the kernel refuses it)`);
      return n;
    },
  },
  "net.core.rps_sock_flow_entries": {
    field: "rps_sock_flow_entries",
    parse: (v) => roundUpPow2(parseCount(v, 0, 1 << 22)),
  },
};

export const SYSCTL_NAMES = Object.keys(SYSCTLS);

/** `net.core.netdev_max_backlog` + `32` → `{ netdev_max_backlog: 32 }`. */
export function parseSysctlValue(name: string, value: string): Partial<Sysctls> {
  const spec = SYSCTLS[name];
  if (!spec) {
    const hint = SYSCTLS[`net.core.${name}`] ? ` (did you mean net.core.${name}?)` : "";
    throw new UsageError(`unknown sysctl '${name}'${hint}; known: ${SYSCTL_NAMES.join(", ")}`);
  }
  try {
    return { [spec.field]: spec.parse(value) };
  } catch (err) {
    throw new UsageError(`${name}: ${(err as Error).message}`);
  }
}

/** `KEY=VALUE` for --sysctl. */
export function parseSysctl(text: string): { name: string; patch: Partial<Sysctls> } {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new UsageError(`'${text}' is not KEY=VALUE (e.g. net.core.netdev_max_backlog=32)`);
  const name = text.slice(0, eq).trim();
  return { name, patch: parseSysctlValue(name, text.slice(eq + 1)) };
}

/** `--max-frame <BYTES>` (transport/auth.ts): bytes or 64KiB..64MiB. */
export function parseMaxFrameBytes(text: string): number {
  try {
    return parseMaxFrame(text);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}
