// Scenario file + flags → one fully resolved EmuConfig. Flags override the file; what neither
// gives comes from the default scenario: 4 CPUs, profile 6.6-patched, seed 1, 50ms, one NIC RX
// queue with its IRQ on CPU 0 fed 200 kpps over 64 uniform flows, RPS to every other CPU (e for
// 4 CPUs, so the user sees IPIs), the exact window of the cost model.
// Checks that need more than one field (CPU ids against the CPU count, sources, the event
// sequence) live here, after the flags are applied, and name the file field or the flag at fault.
import type {
  CostModel,
  EmuConfig,
  HotplugEventConfig,
  LoadPhaseConfig,
  LoopbackSenderConfig,
  Profile,
  RxQueueConfig,
  Sysctls,
} from "../model/config.ts";
import { DEFAULT_COSTS, DEFAULT_HZ, DEFAULT_PACKET_BYTES, DEFAULT_RING_SIZE, DEFAULT_RX_FRAMES, DEFAULT_RX_USECS, DEFAULT_SYSCTLS, exactWindowNs } from "../model/defaults.ts";
import { applyBootArgs, DEFAULT_PROFILE, PROFILE_NAMES, profileByName } from "../model/profiles.ts";
import { fieldError, UsageError, type FieldPath } from "./errors.ts";
import type { Scenario } from "./scenario.ts";
import type { NemesisSpec } from "../chaos/spec.ts";
import type { ScenarioPhase, ScenarioSpec } from "./scenario-schema.ts";
import { checkCpuId, cpuRange, formatCpuMask, formatNs, type CpuAtTime } from "./units.ts";

/** The `run` flags that shape the config, already parsed (cli/main.ts); all optional. */
export interface RunFlags {
  profile?: string;
  cpus?: number;
  seed?: number;
  duration_ns?: number;
  /** Applied to every load phase. */
  rate_pps?: number;
  /** --rate max: every load phase becomes a closed loop (loopback senders only). */
  rate_max?: boolean;
  /** --stalls / --host / --receiver replace the file's `stalls:` / `host:` / `receiver:` (null: none). */
  stalls?: ScenarioSpec["stalls"] | null;
  host?: ScenarioSpec["host"] | null;
  receiver?: ScenarioSpec["receiver"] | null;
  /** Applied to every load phase. */
  flows?: number;
  /** Applied to every RX queue and loopback sender. */
  rps_cpus?: number[];
  /** Replaces the file's queues, senders and load with one default source of this kind. */
  load?: "nic" | "loopback";
  /** --offline/--online together replace the file's `events`. */
  offline?: CpuAtTime[];
  online?: CpuAtTime[];
  window_ns?: number;
  /** Override the file's sysctls one by one. */
  sysctls?: { name: string; patch: Partial<Sysctls> }[];
  /** Replaces the file's `boot`. */
  boot?: string[];
}

/**
 * The nemeses of a run: --nemesis flags replace the scenario's `nemesis:` list (as --offline does
 * `events`). File entries get their place as origin, so a check against the host names it.
 */
export function resolveNemesisSpecs(scenario: Scenario | undefined, flags: NemesisSpec[] | undefined): NemesisSpec[] {
  if (flags) return flags;
  return (scenario?.spec.nemesis ?? []).map((n, i) => {
    const line = scenario!.lineOf(["nemesis", i]);
    return { ...n, origin: `${scenario!.file}: nemesis[${i}]${line ? ` (line ${line})` : ""}` };
  });
}

export const DEFAULT_CPUS = 4;
export const DEFAULT_SEED = 1;
export const DEFAULT_DURATION_NS = 50_000_000;
export const DEFAULT_RATE_PPS = 200_000;
export const DEFAULT_FLOWS = 64;

/** Reports a problem at a field of the file (when there is one) or at a flag. */
interface Blame {
  file(path: FieldPath, message: string): UsageError;
}

export function resolveConfig(scenario: Scenario | undefined, flags: RunFlags = {}): EmuConfig {
  const spec: ScenarioSpec = scenario?.spec ?? {};
  const blame: Blame = {
    file: (path, message) => (scenario ? fieldError(scenario, path, message) : new UsageError(message)),
  };
  const cpus = flags.cpus ?? spec.cpus ?? DEFAULT_CPUS;
  if (!Number.isInteger(cpus) || cpus < 1) throw new UsageError(`${flags.cpus !== undefined ? "--cpus" : "cpus"}: must be at least 1`);
  const duration_ns = flags.duration_ns ?? spec.duration ?? DEFAULT_DURATION_NS;
  if (duration_ns <= 0) throw flags.duration_ns !== undefined ? new UsageError("--duration: must be > 0") : blame.file(["duration"], "must be > 0");
  const costs = resolveCosts(spec, blame);
  const window_ns = flags.window_ns ?? spec.window ?? exactWindowNs(costs);
  if (window_ns <= 0) throw flags.window_ns !== undefined ? new UsageError("--window: must be > 0") : blame.file(["window"], "must be > 0");

  const cfg: EmuConfig = {
    cpus,
    seed: flags.seed ?? spec.seed ?? DEFAULT_SEED,
    duration_ns,
    window_ns,
    profile: resolveProfile(spec, flags, blame),
    sysctls: resolveSysctls(spec, flags, cpus, blame),
    costs,
    hz: spec.hz ?? DEFAULT_HZ,
    // Idle CPUs poll (TIF_POLLING_NRFLAG), as with the default x86 idle loop: IPIs then land in
    // flush_smp_call_function_queue() from do_idle, where RT's warning fires (docs/DESIGN.md §1.6).
    idle_poll: spec.idle_poll ?? true,
    ...resolveTopology(spec, flags, cpus, duration_ns, blame),
    events: resolveEvents(spec, flags, cpus, duration_ns, blame),
    ...resolveStalls(spec, flags, cpus, blame),
    ...resolveReceiver(spec, flags, cpus, blame),
    softnet_stat_columns: spec.softnet_stat_columns ?? 13,
    ...resolveHost(spec, flags, window_ns, blame),
  };
  const down = cfg.receiver && cfg.events.find((e) => e.action === "offline" && e.cpu === cfg.receiver!.cpu);
  if (down) {
    const by = flags.offline !== undefined || flags.online !== undefined ? `--offline ${down.cpu}@${formatNs(down.at_ns)}` : "events";
    throw knobError("receiver", flags.receiver !== undefined, "cpu", `CPU ${down.cpu} goes offline at ${formatNs(down.at_ns)} (${by}): the receiving task is pinned there and its socket would go unread`, blame);
  }
  return cfg;
}

/** What is wrong with a cost model the engine cannot run, or undefined (scripts/calibrate.ts asks too). */
export function costsProblem(costs: CostModel): string | undefined {
  // A remote enqueue must be visible on the target before the IPI announcing it is handled;
  // the model relies on it (an IPI never finds an empty backlog it was sent for).
  if (costs.rps_latency_ns > costs.ipi_latency_ns)
    return `rps_latency_ns (${costs.rps_latency_ns}) must be <= ipi_latency_ns (${costs.ipi_latency_ns}): an enqueue is visible before its IPI`;
  return undefined;
}

function resolveCosts(spec: ScenarioSpec, blame: Blame): CostModel {
  const costs: CostModel = { ...DEFAULT_COSTS, ...spec.costs };
  const problem = costsProblem(costs);
  if (problem) throw blame.file(["costs", spec.costs?.rps_latency_ns !== undefined ? "rps_latency_ns" : "ipi_latency_ns"], problem);
  return costs;
}

function resolveProfile(spec: ScenarioSpec, flags: RunFlags, blame: Blame): Profile {
  let profile: Profile;
  if (flags.profile !== undefined) {
    // --profile replaces the file's profile, switches included.
    if (!PROFILE_NAMES.includes(flags.profile))
      throw new UsageError(`--profile: unknown profile '${flags.profile}' (known: ${PROFILE_NAMES.join(", ")})`);
    profile = profileByName(flags.profile);
  } else {
    const { name = DEFAULT_PROFILE, ...switches } = spec.profile ?? {};
    if (!PROFILE_NAMES.includes(name))
      throw blame.file(["profile", ...(typeof spec.profile === "object" ? ["name"] : [])], `unknown profile '${name}' (known: ${PROFILE_NAMES.join(", ")})`);
    profile = profileByName(name);
    const changed = Object.entries(switches).filter(([k, v]) => v !== undefined && profile[k as keyof Profile] !== v);
    if (changed.length) profile = { ...profile, ...switches, name: `${name}+${changed.map(([k, v]) => `${k}=${String(v)}`).join("+")}` };
  }
  const boot = flags.boot ?? spec.boot ?? [];
  boot.forEach((arg, i) => {
    try {
      profile = applyBootArgs(profile, [arg]);
    } catch (err) {
      throw flags.boot ? new UsageError(`--boot ${arg}: ${(err as Error).message}`) : blame.file(["boot", i], (err as Error).message);
    }
  });
  return profile;
}

function resolveSysctls(spec: ScenarioSpec, flags: RunFlags, cpus: number, blame: Blame): Sysctls {
  let sysctls: Sysctls = { ...DEFAULT_SYSCTLS, ...spec.sysctls };
  for (const { patch } of flags.sysctls ?? []) sysctls = { ...sysctls, ...patch };
  const bitmap = [...sysctls.flow_limit_cpu_bitmap];
  const outOfRange = bitmap.find((cpu) => cpu >= cpus);
  if (outOfRange !== undefined) {
    const fromFlag = flags.sysctls?.some((s) => s.patch.flow_limit_cpu_bitmap !== undefined);
    const message = `CPU mask '${formatCpuMask(bitmap)}' sets CPU ${outOfRange}, but the host has only ${cpuRange(cpus)}`;
    throw fromFlag
      ? new UsageError(`--sysctl net.core.flow_limit_cpu_bitmap: ${message}`)
      : blame.file(["sysctls", "net.core.flow_limit_cpu_bitmap"], message);
  }
  return { ...sysctls, flow_limit_cpu_bitmap: bitmap };
}

type Topology = Pick<EmuConfig, "queues" | "senders" | "load">;

/** RPS to every CPU but CPU 0, where the IRQ or sender sits: `e` on 4 CPUs, off on 1. */
function defaultRpsCpus(cpus: number): number[] {
  return Array.from({ length: cpus - 1 }, (_, i) => i + 1);
}

function defaultTopology(kind: "nic" | "loopback", cpus: number, duration_ns: number): Topology {
  const rps_cpus = defaultRpsCpus(cpus);
  const phase: LoadPhaseConfig = {
    source: kind === "nic" ? { kind, queue: 0 } : { kind, sender: 0 },
    start_ns: 0,
    end_ns: duration_ns,
    rate: { kind: "constant", pps: DEFAULT_RATE_PPS },
    flows: DEFAULT_FLOWS,
    popularity: { kind: "uniform" },
    packet_bytes: DEFAULT_PACKET_BYTES,
  };
  return kind === "nic"
    ? { queues: [{ id: 0, irq_affinity: [0], ring_size: DEFAULT_RING_SIZE, rx_usecs: DEFAULT_RX_USECS, rx_frames: DEFAULT_RX_FRAMES, rps_cpus, rps_flow_cnt: 0 }], senders: [], load: [phase] }
    : { queues: [], senders: [{ id: 0, cpu: 0, rps_cpus, rps_flow_cnt: 0 }], load: [phase] };
}

function resolveTopology(spec: ScenarioSpec, flags: RunFlags, cpus: number, duration_ns: number, blame: Blame): Topology {
  const fromFile = !flags.load && (spec.queues !== undefined || spec.senders !== undefined || spec.load !== undefined);
  const topo = fromFile ? fileTopology(spec, cpus, duration_ns, blame) : defaultTopology(flags.load ?? "nic", cpus, duration_ns);
  if (flags.rps_cpus) {
    const outOfRange = flags.rps_cpus.find((cpu) => cpu >= cpus);
    if (outOfRange !== undefined)
      throw new UsageError(`--rps-cpus: CPU mask '${formatCpuMask(flags.rps_cpus)}' sets CPU ${outOfRange}, but the host has only ${cpuRange(cpus)}`);
    for (const q of topo.queues) q.rps_cpus = [...flags.rps_cpus];
    for (const s of topo.senders) s.rps_cpus = [...flags.rps_cpus];
  }
  for (const phase of topo.load) {
    if (flags.rate_max) {
      if (phase.source.kind === "nic")
        throw new UsageError(`--rate max: NIC queue ${phase.source.queue} is fed by the wire, not by a sender on a CPU; max applies to loopback senders only (try --load loopback)`);
      phase.rate = { kind: "max" };
    } else if (flags.rate_pps !== undefined)
      // A number over a file's `kind: max` paces that sender at a constant rate.
      phase.rate = phase.rate.kind === "max" ? { kind: "constant", pps: flags.rate_pps } : { ...phase.rate, pps: flags.rate_pps };
    if (flags.flows !== undefined) phase.flows = flags.flows;
  }
  return topo;
}

function fileTopology(spec: ScenarioSpec, cpus: number, duration_ns: number, blame: Blame): Topology {
  const inRange = (path: FieldPath, list: readonly number[]): number[] => {
    for (const cpu of list) {
      try {
        checkCpuId(cpu, cpus);
      } catch (err) {
        throw blame.file(path, (err as Error).message);
      }
    }
    return [...list];
  };
  const checkId = (path: FieldPath, id: number | undefined, index: number): number => {
    // Sources are numbered in order (see PacketArrays.source): an id is only a cross-check.
    if (id !== undefined && id !== index) throw blame.file([...path, "id"], `must be ${index}: ids are numbered in order from 0`);
    return index;
  };
  const queues: RxQueueConfig[] = (spec.queues ?? []).map((q, i) => {
    if (q.irq_affinity.length === 0) throw blame.file(["queues", i, "irq_affinity"], "needs at least one CPU");
    return {
      id: checkId(["queues", i], q.id, i),
      irq_affinity: inRange(["queues", i, "irq_affinity"], q.irq_affinity),
      ring_size: q.ring_size ?? DEFAULT_RING_SIZE,
      rx_usecs: q.rx_usecs ?? DEFAULT_RX_USECS,
      rx_frames: q.rx_frames ?? DEFAULT_RX_FRAMES,
      rps_cpus: inRange(["queues", i, "rps_cpus"], q.rps_cpus ?? []),
      rps_flow_cnt: q.rps_flow_cnt ?? 0,
    };
  });
  const senders: LoopbackSenderConfig[] = (spec.senders ?? []).map((s, i) => ({
    id: checkId(["senders", i], s.id, i),
    cpu: inRange(["senders", i, "cpu"], [s.cpu ?? 0])[0] ?? 0,
    rps_cpus: inRange(["senders", i, "rps_cpus"], s.rps_cpus ?? []),
    rps_flow_cnt: s.rps_flow_cnt ?? 0,
  }));
  const load = (spec.load ?? []).map((p, i) => filePhase(p, ["load", i], queues.length, senders.length, duration_ns, blame));
  return { queues, senders, load };
}

function filePhase(p: ScenarioPhase, path: FieldPath, queueCount: number, senderCount: number, duration_ns: number, blame: Blame): LoadPhaseConfig {
  const [kind, id, count, key] =
    p.source.kind === "nic" ? ["nic", p.source.queue, queueCount, "queues"] : ["loopback", p.source.sender, senderCount, "senders"];
  if (id >= count)
    throw blame.file([...path, "source"], `${kind}:${id} does not exist (${count ? `${key} has ids 0-${count - 1}` : `no ${key} are declared`})`);
  const start_ns = p.start ?? 0;
  // A phase may run past the end (e.g. --duration shortened the run): it is cut there.
  const end_ns = Math.min(p.end ?? duration_ns, duration_ns);
  if (start_ns >= duration_ns) throw blame.file([...path, "start"], `${formatNs(start_ns)} is not before the end of the run (${formatNs(duration_ns)})`);
  if (start_ns >= end_ns) throw blame.file([...path, "end"], `${formatNs(end_ns)} must be after start (${formatNs(start_ns)})`);
  if (p.rate?.kind === "max" && p.source.kind === "nic")
    throw blame.file([...path, "rate", "kind"], `max (a closed-loop sender) applies to loopback senders only: nic:${p.source.queue} is fed by the wire at a rate`);
  if (p.catch_up !== undefined && p.source.kind === "nic")
    throw blame.file([...path, "catch_up"], `applies to loopback senders only: nic:${p.source.queue}'s packets arrive on the wire whether or not its CPU keeps up`);
  if (p.catch_up !== undefined && p.rate?.kind === "max")
    throw blame.file([...path, "catch_up"], "a closed-loop sender (rate kind max) has no schedule to catch up on");
  return {
    source: p.source,
    start_ns,
    end_ns,
    rate: p.rate ?? { kind: "constant", pps: DEFAULT_RATE_PPS },
    flows: p.flows ?? DEFAULT_FLOWS,
    popularity: p.popularity ?? { kind: "uniform" },
    packet_bytes: p.packet_bytes ?? DEFAULT_PACKET_BYTES,
    ...(p.catch_up !== undefined ? { catch_up: p.catch_up } : {}),
  };
}

/** net.core.rmem_default: a socket's receive buffer unless set. */
export const DEFAULT_RMEM_BYTES = 212_992;
/** recvmsg() of one small datagram, and its queuing on the socket (udp_queue_rcv_skb), in ns. */
export const DEFAULT_RECV_PER_PACKET_NS = 1000;
export const DEFAULT_SOCK_ENQUEUE_NS = 200;

/** `receiver:` with its defaults; its CPU must exist (its staying online is checked with the events). */
function resolveReceiver(spec: ScenarioSpec, flags: RunFlags, cpus: number, blame: Blame): Pick<EmuConfig, "receiver"> {
  const r = flags.receiver !== undefined ? flags.receiver : spec.receiver;
  if (!r) return {};
  if (r.cpu >= cpus) throw knobError("receiver", flags.receiver !== undefined, "cpu", `CPU ${r.cpu} does not exist: the host has ${cpuRange(cpus)}`, blame);
  return {
    receiver: {
      cpu: r.cpu,
      rmem: r.rmem ?? { kind: "bytes", limit: DEFAULT_RMEM_BYTES },
      per_packet_ns: r.per_packet_ns ?? DEFAULT_RECV_PER_PACKET_NS,
      enqueue_ns: r.enqueue_ns ?? DEFAULT_SOCK_ENQUEUE_NS,
      contention_ns: r.contention_ns ?? 0,
    },
  };
}

/** A problem with `receiver`/`stalls`/`host` (or a field of it): at the flag (--receiver, …) when it gave them, else at the file's key. */
function knobError(key: "receiver" | "stalls" | "host", fromFlag: boolean, field: string | null, message: string, blame: Blame): UsageError {
  if (fromFlag) return new UsageError(`--${key}: ${field === null ? "" : `${field}: `}${message}`);
  return blame.file(field === null ? [key] : [key, field], message);
}

/** `stalls:` with its defaults: every CPU, inside softirq too, none longer than 10 × the mean. */
function resolveStalls(spec: ScenarioSpec, flags: RunFlags, cpus: number, blame: Blame): Pick<EmuConfig, "stalls"> {
  const fromFlag = flags.stalls !== undefined;
  const s = fromFlag ? flags.stalls : spec.stalls;
  if (!s) return {};
  const fail = (field: string, message: string) => knobError("stalls", fromFlag, field, message, blame);
  if (s.every <= 0) throw fail("every", "must be > 0 (the mean gap between two stalls of a CPU)");
  if (s.mean <= 0) throw fail("mean", "must be > 0 (the mean length of a stall)");
  const max_ns = s.max ?? 10 * s.mean;
  if (max_ns < s.mean) throw fail("max", `${formatNs(max_ns)} is below the mean (${formatNs(s.mean)}): the longest stall cannot be shorter than the average one`);
  const list = s.cpus ?? Array.from({ length: cpus }, (_, i) => i);
  if (list.length === 0) throw fail("cpus", "needs at least one CPU (drop stalls for none)");
  const outOfRange = list.find((c) => c >= cpus);
  if (outOfRange !== undefined) throw fail("cpus", `CPU ${outOfRange} is out of range: the host has ${cpuRange(cpus)}`);
  return { stalls: { every_ns: s.every, mean_ns: s.mean, max_ns, cpus: [...list], in_softirq: s.in_softirq ?? true } };
}

/** Default share of a slice below which a vCPU wants no share of the next (model/host.ts). */
export const DEFAULT_HOST_BUSY_SHARE = 0.05;

/**
 * How long a waking vCPU may wait for a busy host's core by default: the host kernel's wake-up
 * preemption granularity, CFS's sched_wakeup_granularity_ns (1 ms × (1 + log2 of the cores, at
 * most 8): 2 ms on 2 cores).
 */
export function defaultWakeWaitNs(cores: number): number {
  return 1_000_000 * (1 + Math.floor(Math.log2(Math.min(cores, 8))));
}

/** `host:` with its defaults; its words between CPUs must land within half a slice. */
function resolveHost(spec: ScenarioSpec, flags: RunFlags, window_ns: number, blame: Blame): Pick<EmuConfig, "host"> {
  const fromFlag = flags.host !== undefined;
  const h = fromFlag ? flags.host : spec.host;
  if (!h) return {};
  const stalls = flags.stalls !== undefined ? flags.stalls : spec.stalls;
  if (stalls)
    throw knobError("host", fromFlag, null, `cannot be combined with stalls${flags.stalls ? " (--stalls)" : ""}: both take the processor from a vCPU; the host decides who waits from who is busy`, blame);
  if (h.slice < 2 * window_ns)
    throw knobError("host", fromFlag, "slice", `${formatNs(h.slice)} is below twice the window (${formatNs(window_ns)}): every CPU's word for a slice must reach the others within half a slice`, blame);
  return { host: { cores: h.cores, slice_ns: h.slice, busy_share: h.busy_share ?? DEFAULT_HOST_BUSY_SHARE, wake_wait_ns: h.wake_wait ?? defaultWakeWaitNs(h.cores), slice_wait: h.slice_wait ?? 0, others: h.others ?? 0, lock_hold: h.lock_hold ?? 0 } };
}

/** Hotplug events in time order, checked as sysfs would: no double offline, never the last CPU. */
function resolveEvents(spec: ScenarioSpec, flags: RunFlags, cpus: number, duration_ns: number, blame: Blame): HotplugEventConfig[] {
  type Located = HotplugEventConfig & { fail(message: string): UsageError };
  const fromFlags = flags.offline !== undefined || flags.online !== undefined;
  const located: Located[] = fromFlags
    ? (["offline", "online"] as const).flatMap((action) =>
        (flags[action] ?? []).map((e) => ({
          ...e,
          action,
          fail: (m: string) => new UsageError(`--${action} ${e.cpu}@${formatNs(e.at_ns)}: ${m}`),
        })),
      )
    : (spec.events ?? []).map((e, i) => ({ ...e, fail: (m: string) => blame.file(["events", i], m) }));
  // Stable sort: two events at one time keep the order they were given in.
  located.sort((a, b) => a.at_ns - b.at_ns);
  const online = new Set(Array.from({ length: cpus }, (_, i) => i));
  for (const e of located) {
    if (e.cpu >= cpus) throw e.fail(`CPU ${e.cpu} is out of range: the host has ${cpuRange(cpus)}`);
    if (e.at_ns >= duration_ns) throw e.fail(`at ${formatNs(e.at_ns)} is not before the end of the run (${formatNs(duration_ns)})`);
    if (e.action === "offline") {
      if (!online.has(e.cpu)) throw e.fail(`CPU ${e.cpu} is already offline at ${formatNs(e.at_ns)}`);
      if (online.size === 1) throw e.fail(`CPU ${e.cpu} is the last online CPU (the kernel refuses to offline it)`);
      online.delete(e.cpu);
    } else {
      if (online.has(e.cpu)) throw e.fail(`CPU ${e.cpu} is already online at ${formatNs(e.at_ns)}`);
      online.add(e.cpu);
    }
  }
  return located.map(({ at_ns, cpu, action }) => ({ at_ns, cpu, action }));
}
