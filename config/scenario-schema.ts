// The scenario file's schema (zod). Objects are strict, so a misspelt key is an error rather
// than a silently ignored setting. Scalars go through the same parsers as the flags
// (config/units.ts), so `10ms`, `e` and `net.core.netdev_max_backlog` mean the same in both places.
// What needs more than one field (CPU ids against `cpus`, load sources against `queues`) is
// checked when the scenario is resolved (config/resolve.ts), after the flags are applied.
import { z } from "zod";
import type { CostModel, PopularityConfig, RateConfig, Sysctls } from "../model/config.ts";
import { DEFAULT_COSTS } from "../model/defaults.ts";
import { UsageError } from "./errors.ts";
import { ExpressionError, parseExpression } from "../report/expr.ts";
import { nemesisFromMapping, parseNemesis, type NemesisSpec } from "../chaos/spec.ts";
import {
  MAX_CPUS,
  MAX_PPS,
  parseCpuMask,
  parseDurationNs,
  parseSysctlValue,
  roundUpPow2,
  SYSCTL_NAMES,
} from "./units.ts";

/**
 * Keys whose values are text even when they look like numbers: hex CPU masks and profile names
 * (`6.6`). The loader hands them over as written in the file.
 */
export const TEXT_KEYS: ReadonlySet<string> = new Set(["rps_cpus", "irq_affinity", "net.core.flow_limit_cpu_bitmap", "profile", "name", "cpu_mask"]);

const MAX_DURATION_NS = 3600e9;
export const MAX_FLOWS = 1 << 20;

function describe(v: unknown): string {
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return "a list";
  if (v === null) return "nothing";
  return typeof v === "object" ? "a mapping" : String(v);
}

/** A scalar checked by a units.ts-style parser: its UsageError becomes a zod issue at this path. */
function scalar<T>(parse: (v: unknown) => T) {
  return z.unknown().transform((v, ctx): T => {
    try {
      return parse(v);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      ctx.addIssue({ code: "custom", message: err.message });
      return z.NEVER;
    }
  });
}

function int(min: number, max: number) {
  return scalar((v) => {
    if (typeof v !== "number") throw new UsageError(`expected a whole number, got ${describe(v)}`);
    if (!Number.isInteger(v)) throw new UsageError(`${v} is not a whole number`);
    if (v < min) throw new UsageError(`must be >= ${min}`);
    if (v > max) throw new UsageError(`must be <= ${max}`);
    return v;
  });
}

/**
 * `10ms`, `2.5s`, `500ns`: a unit is required, as on the command line. A bare `5` used to mean
 * 5 ns, which is never what someone writing `duration: 5` meant.
 */
const duration = scalar((v) => {
  if (typeof v === "string") {
    const ns = parseDurationNs(v);
    if (ns > MAX_DURATION_NS) throw new UsageError(`duration '${v}' is too long: must be <= 3600s`);
    return ns;
  }
  if (typeof v === "number") throw new UsageError(`${v} has no unit: write a duration such as ${v}ms, ${v}s or ${v}ns`);
  throw new UsageError(`expected a duration such as 10ms, got ${describe(v)}`);
});

/** Masks are always hex, as in sysfs: `rps_cpus: 10` means CPU 4 (the loader keeps the text). */
function parseMask(v: unknown): number[] {
  if (typeof v !== "string" && typeof v !== "number") throw new UsageError(`expected a hex CPU mask such as e, got ${describe(v)}`);
  return parseCpuMask(String(v));
}
const mask = scalar(parseMask);

/** irq_affinity: a hex mask (smp_affinity) or a list of CPU ids (smp_affinity_list). */
const affinity = scalar((v): number[] => {
  if (!Array.isArray(v)) return parseMask(v);
  for (const cpu of v)
    if (typeof cpu !== "number" || !Number.isInteger(cpu) || cpu < 0 || cpu >= MAX_CPUS)
      throw new UsageError(`expected CPU ids from 0, got ${describe(cpu)}`);
  return [...new Set(v as number[])].sort((a, b) => a - b);
});

const pps = scalar((v) => {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UsageError(`expected packets per second, got ${describe(v)}`);
  if (v < 0) throw new UsageError("must be >= 0");
  if (v > MAX_PPS) throw new UsageError(`must be <= ${MAX_PPS}`);
  return v;
});

/** `nic:0`, `loopback:1`; `nic` and `loopback` alone mean id 0. */
const source = scalar((v) => {
  const m = typeof v === "string" ? /^(nic|loopback)(?::(\d+))?$/.exec(v.trim()) : null;
  if (!m) throw new UsageError(`expected nic:QUEUE or loopback:SENDER (e.g. nic:0), got ${describe(v)}`);
  const id = Number(m[2] ?? 0);
  return m[1] === "nic" ? { kind: "nic" as const, queue: id } : { kind: "loopback" as const, sender: id };
});

/** `assert:` and `abort:` entries: expressions over the results (report/expr.ts), parsed here so a
 *  syntax error names its line; paths are checked against the CPU count when the run is set up. */
const expression = scalar((v) => {
  if (typeof v !== "string") throw new UsageError(`expected an expression such as 'totals.dropped == 0', got ${describe(v)}`);
  try {
    parseExpression(v);
  } catch (err) {
    if (err instanceof ExpressionError) throw new UsageError(`'${v}': ${err.message}`);
    throw err;
  }
  return v;
});

/** A `nemesis:` entry: `hotplug:interval=1ms` as on the command line, or `{ kind: hotplug, interval: 1ms }`
 *  (chaos/spec.ts). Checks against the host (CPU count, sources) come when the run is planned. */
const nemesis = z.unknown().transform((v, ctx): NemesisSpec => {
  try {
    if (typeof v === "string") return parseNemesis(v, "");
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return nemesisFromMapping(v as Record<string, unknown>, "");
    throw new UsageError(`expected KIND:key=value,... or a mapping with kind:, got ${describe(v)}`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    ctx.addIssue({ code: "custom", message: err.message });
    return z.NEVER;
  }
});

/** A strict object whose unknown-key error lists the keys it knows. */
function strict<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape).join(", ");
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === "unrecognized_keys"
        ? `unknown key${iss.keys.length > 1 ? "s" : ""} ${iss.keys.map((k) => `'${k}'`).join(", ")} (known: ${known})`
        : undefined,
  });
}

const switches = {
  preempt_rt: z.boolean().optional(),
  backlog_threads: z.boolean().optional(),
  threaded_wakeup: z.enum(["conditional", "unconditional"]).optional(),
  local_napi_shortcut: z.boolean().optional(),
};

/** `profile: rt-6.6` or `profile: { name: rt-6.6, backlog_threads: true }`. */
const profile = z.preprocess((v) => (typeof v === "string" ? { name: v } : v), strict({ name: z.string(), ...switches }));

/**
 * `rate: { kind: poisson, pps: 1e5 }`; kind defaults to constant; onoff needs `on` and `off`;
 * `rate: max` (or `{ kind: max }`) is a closed-loop sender, which has no pps.
 */
const rate = z.preprocess(
  (v) => (v === "max" ? { kind: "max" } : v),
  strict({
    kind: z.enum(["constant", "poisson", "onoff", "max"]).optional(),
    pps: pps.optional(),
    on: duration.optional(),
    off: duration.optional(),
  }),
).transform((r, ctx): RateConfig | typeof z.NEVER => {
  const kind = r.kind ?? "constant";
  if (kind === "max") {
    const extra = (["pps", "on", "off"] as const).filter((k) => r[k] !== undefined);
    if (extra.length === 0) return { kind };
    ctx.addIssue({ code: "custom", path: [extra[0]!], message: `kind: max sends as fast as its CPU allows: it takes no ${extra.map((k) => `'${k}'`).join(", ")} (drop it, or pick a paced kind)` });
    return z.NEVER;
  }
  if (r.pps === undefined) {
    ctx.addIssue({ code: "custom", path: ["pps"], message: `kind: ${kind} needs pps: (packets per second), or use kind: max for a closed-loop sender` });
    return z.NEVER;
  }
  if (kind !== "onoff") {
    if (r.on === undefined && r.off === undefined) return { kind, pps: r.pps };
    ctx.addIssue({ code: "custom", message: `'on' and 'off' belong to kind: onoff, not ${kind}` });
    return z.NEVER;
  }
  if (r.on && r.off) return { kind, pps: r.pps, on_ns: r.on, off_ns: r.off };
  ctx.addIssue({ code: "custom", message: "kind: onoff needs on: and off: durations, both > 0" });
  return z.NEVER;
});

/** `popularity: uniform`, `popularity: zipf` (s = 1) or `popularity: { kind: zipf, s: 1.2 }`. */
const popularity = z.preprocess(
  (v) => (typeof v === "string" ? { kind: v } : v),
  strict({ kind: z.enum(["uniform", "zipf"]), s: scalar(zipfS).optional() }),
).transform((p, ctx): PopularityConfig | typeof z.NEVER => {
  if (p.kind === "zipf") return { kind: "zipf", s: p.s ?? 1 };
  if (p.s === undefined) return { kind: "uniform" };
  ctx.addIssue({ code: "custom", message: "'s' belongs to kind: zipf" });
  return z.NEVER;
});

function zipfS(v: unknown): number {
  if (typeof v !== "number" || !(v > 0) || v > 10) throw new UsageError(`zipf exponent must be a number in (0, 10], got ${describe(v)}`);
  return v;
}

const queue = strict({
  id: int(0, 1023).optional(),
  irq_affinity: affinity,
  ring_size: int(1, 1 << 16).optional(),
  /** ethtool -C rx-usecs / rx-frames (model/defaults.ts: DEFAULT_RX_USECS, DEFAULT_RX_FRAMES). */
  rx_usecs: int(0, 1_000_000).optional(),
  rx_frames: int(0, 1 << 16).optional(),
  rps_cpus: mask.optional(),
  rps_flow_cnt: int(0, 1 << 20).transform(roundUpPow2).optional(),
});

const sender = strict({
  id: int(0, 1023).optional(),
  cpu: int(0, MAX_CPUS - 1).optional(),
  rps_cpus: mask.optional(),
  rps_flow_cnt: int(0, 1 << 20).transform(roundUpPow2).optional(),
});

const phase = strict({
  source,
  start: duration.optional(),
  end: duration.optional(),
  rate: rate.optional(),
  flows: int(1, MAX_FLOWS).optional(),
  popularity: popularity.optional(),
  packet_bytes: int(1, 65535).optional(),
  /** A late open-loop sender sends what it missed back to back (default: it resumes its schedule). */
  catch_up: z.boolean().optional(),
});

/** `rmem: 212992` (bytes), `rmem: 208KiB`, `rmem: 256 packets`: a socket's receive buffer. */
const rmem = scalar((v): { kind: "bytes" | "packets"; limit: number } => {
  const m = typeof v === "number" ? [String(v), String(v), ""] : typeof v === "string" ? /^\s*(\d+)\s*(B|KiB|MiB|packets?|pkts?)?\s*$/i.exec(v) : null;
  if (!m) throw new UsageError(`expected bytes (212992, 208KiB, 1MiB) or packets (256 packets), got ${describe(v)}`);
  const n = Number(m[1]);
  const unit = (m[2] ?? "").toLowerCase();
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`must be at least 1, got ${describe(v)}`);
  if (unit.startsWith("p")) {
    if (n > 1 << 24) throw new UsageError(`must be <= ${1 << 24} packets`);
    return { kind: "packets", limit: n };
  }
  const bytes = n * (unit === "kib" ? 1024 : unit === "mib" ? 1 << 20 : 1);
  if (bytes > 2 ** 31 - 1) throw new UsageError("must be below 2 GiB (sk_rcvbuf is an int)");
  return { kind: "bytes", limit: bytes };
});

/** `receiver: { cpu: 1, rmem: 208KiB, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 }` (model/receiver.ts). */
const receiver = strict({
  cpu: int(0, MAX_CPUS - 1),
  rmem: rmem.optional(),
  per_packet_ns: int(0, 10e9).optional(),
  enqueue_ns: int(0, 10e9).optional(),
  contention_ns: int(0, 10e9).optional(),
});

/** `stalls: { every: 20ms, mean: 2ms, max: 20ms, cpus: e, in_softirq: true }` (model/stall.ts). */
const stalls = strict({
  every: duration,
  mean: duration,
  max: duration.optional(),
  cpus: affinity.optional(),
  in_softirq: z.boolean().optional(),
});

/** A share of something, 0..1 (busy_share). */
const fraction = scalar((v) => {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UsageError(`expected a number from 0 to 1, got ${describe(v)}`);
  if (v < 0 || v > 1) throw new UsageError(`must be from 0 to 1, got ${v}`);
  return v;
});

/** Cores' worth of work, 0..MAX_CPUS (host.others). */
const cores = scalar((v) => {
  if (typeof v !== "number" || !Number.isFinite(v)) throw new UsageError(`expected a number of cores (0 or more), got ${describe(v)}`);
  if (v < 0 || v > MAX_CPUS) throw new UsageError(`must be from 0 to ${MAX_CPUS}, got ${v}`);
  return v;
});

/** `host: { cores: 2, slice: 6ms, busy_share: 0.05, wake_wait: 6ms, slice_wait: 0.03, lock_hold: 0.3, others: 1 }` (model/host.ts). */
const host = strict({
  cores: int(1, MAX_CPUS),
  slice: duration,
  busy_share: fraction.optional(),
  wake_wait: duration.optional(),
  slice_wait: fraction.optional(),
  lock_hold: fraction.optional(),
  others: cores.optional(),
});

const event = strict({
  at: duration,
  offline: int(0, MAX_CPUS - 1).optional(),
  online: int(0, MAX_CPUS - 1).optional(),
}).transform((e, ctx) => {
  if ((e.offline === undefined) === (e.online === undefined)) {
    ctx.addIssue({ code: "custom", message: "give exactly one of offline: CPU or online: CPU" });
    return z.NEVER;
  }
  return e.offline !== undefined
    ? { at_ns: e.at, cpu: e.offline, action: "offline" as const }
    : { at_ns: e.at, cpu: e.online as number, action: "online" as const };
});

/** `sysctls:` with the kernel's names; values parsed as `--sysctl KEY=VALUE` would be. */
const sysctls = z.record(z.string(), z.unknown()).transform((map, ctx): Partial<Sysctls> => {
  let out: Partial<Sysctls> = {};
  for (const [name, value] of Object.entries(map)) {
    try {
      if (typeof value !== "number" && typeof value !== "string") throw new UsageError(`expected a value, got ${describe(value)}`);
      out = { ...out, ...parseSysctlValue(name, String(value)) };
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      // A bad name is reported at `sysctls`, a bad value at `sysctls.<name>`.
      const known = SYSCTL_NAMES.includes(name);
      ctx.addIssue({ code: "custom", path: known ? [name] : [], message: known ? err.message.replace(`${name}: `, "") : err.message });
    }
  }
  return out;
});

/** costs: any subset of the cost model; latencies must be positive (they bound the window). */
const costs = strict(
  Object.fromEntries(
    Object.keys(DEFAULT_COSTS).map((k) => [k, int(k.endsWith("latency_ns") ? 1 : 0, 10e9).optional()]),
  ) as Record<keyof CostModel, z.ZodOptional<ReturnType<typeof int>>>,
).transform((c) => c as Partial<CostModel>);

export const scenarioSchema = strict({
  cpus: int(1, MAX_CPUS).optional(),
  seed: int(0, 2 ** 32 - 1).optional(),
  duration: duration.optional(),
  window: duration.optional(),
  profile: profile.optional(),
  boot: z.array(z.string()).optional(),
  sysctls: sysctls.optional(),
  hz: int(1, 10_000).optional(),
  idle_poll: z.boolean().optional(),
  costs: costs.optional(),
  softnet_stat_columns: scalar((v) => {
    if (v !== 13 && v !== 15) throw new UsageError(`must be 13 (6.6) or 15 (6.12+), got ${describe(v)}`);
    return v;
  }).optional(),
  queues: z.array(queue).optional(),
  senders: z.array(sender).optional(),
  load: z.array(phase).optional(),
  events: z.array(event).optional(),
  /** A task pinned to a CPU reading one UDP socket that every processed packet goes to. */
  receiver: receiver.optional(),
  /** CPUs losing the processor now and then (a vCPU on a busy host). */
  stalls: stalls.optional(),
  /** The host's cores the vCPUs share, slice by slice (a guest with more vCPUs than host cores). */
  host: host.optional(),
  /** Checked on the final results; a false one fails the run (exit 1). */
  assert: z.array(expression).optional(),
  /** Checked at every checkpoint; the first that holds stops the run (exit 1). */
  abort: z.array(expression).optional(),
  /** Faults for a chaos run (chaos/): the run becomes chaos phase + heal + drain. */
  nemesis: z.array(nemesis).optional(),
});

/** What --stalls, --host and --receiver are checked with (cli/run-options.ts): the file's own rules. */
export { stalls as stallsSchema, host as hostSchema, receiver as receiverSchema };

/** A validated scenario: every field optional, durations in ns, masks as CPU lists. */
export type ScenarioSpec = z.output<typeof scenarioSchema>;
export type ScenarioPhase = z.output<typeof phase>;
