// The options `run` and `coordinator` share, defined once: those that shape the emulated host and
// its load (a scenario file and the flags that override it), and those of a live run (pacing,
// /metrics and the control API, --procfs, --keep-alive). The experiment commands copy the first
// group from `run` (cli/experiment-common.ts); RUN_ONLY_OPTIONS lists what they must not copy.
import { InvalidArgumentError, Option, type Command } from "commander";
import { PROFILE_NAMES } from "../model/profiles.ts";
import { ENGINES, type EngineName } from "./engines.ts";
import { UsageError } from "../config/errors.ts";
import type { RunFlags } from "../config/resolve.ts";
import type { z } from "zod";
import { hostSchema, MAX_FLOWS, receiverSchema, stallsSchema, type ScenarioSpec } from "../config/scenario-schema.ts";
import {
  MAX_CPUS,
  parseCount,
  parseCpuAtTime,
  parseCpuMask,
  parseDurationNs,
  parsePps,
  parseSysctl,
  SYSCTL_NAMES,
  type CpuAtTime,
} from "../config/units.ts";

/** A commander argument parser from a units.ts parser: a UsageError becomes a clean one-liner. */
export function arg<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text);
    } catch (err) {
      if (err instanceof UsageError) throw new InvalidArgumentError(err.message);
      throw err;
    }
  };
}

/** Repeatable option: every occurrence is parsed and collected. */
export function repeated<T>(parse: (text: string) => T): (text: string, prev: T[] | undefined) => T[] {
  const one = arg(parse);
  return (text, prev) => [...(prev ?? []), one(text)];
}

export function positiveDuration(text: string): number {
  const ns = parseDurationNs(text);
  if (ns <= 0) throw new UsageError("must be > 0");
  return ns;
}

/** A wall-clock duration (timeouts), typed like a virtual one: `3s`, `1500ms`. */
export function wallMs(text: string): number {
  return positiveDuration(text) / 1e6;
}

/** A timeout of the process engine: 100ms to 24h (shorter ones would accuse every busy process). */
export function timeoutMs(text: string): number {
  const ms = wallMs(text);
  if (ms < 100 || ms > 86_400_000) throw new UsageError(`'${text}' is out of range for a timeout: expected 100ms to 24h`);
  return ms;
}

function profileName(text: string): string {
  if (!PROFILE_NAMES.includes(text)) throw new UsageError(`unknown profile '${text}' (known: ${PROFILE_NAMES.join(", ")})`);
  return text;
}

/** `--rate`: packets per second or `max`; given twice, both must be numbers or both max. */
function rateOption(text: string, prev: number | "max" | undefined): number | "max" {
  const value = text.trim() === "max" ? "max" : arg(parsePps)(text);
  if (prev !== undefined && (prev === "max") !== (value === "max"))
    throw new InvalidArgumentError(`max (a closed loop) and a number of packets per second (${prev === "max" ? text : prev}) do not go together: give one`);
  return value;
}

/**
 * `--stalls every=20ms,mean=2ms,cpus=e` / `--receiver cpu=1,rmem=208KiB`: the scenario's mapping
 * as KEY=VALUE pairs, checked by the same schema as the file; `off` removes the file's.
 */
function knobOption<T>(schema: z.ZodType<T>): (text: string) => T | null {
  return (text) => {
    const t = text.trim();
    if (t === "off" || t === "none") return null;
    const map: Record<string, unknown> = {};
    for (const part of t.split(",")) {
      const m = /^\s*([a-z_]+)\s*=\s*(.+?)\s*$/.exec(part);
      if (!m) throw new InvalidArgumentError(`'${part}' is not KEY=VALUE (e.g. every=20ms,mean=2ms; off for none)`);
      const v = m[2]!;
      map[m[1]!] = v === "true" ? true : v === "false" ? false : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
    }
    const r = schema.safeParse(map);
    if (r.success) return r.data;
    // An unknown key first: the missing ones are likely what it misspelt.
    const issue = r.error.issues.find((i) => i.code === "unrecognized_keys") ?? r.error.issues[0]!;
    throw new InvalidArgumentError(`${issue.path.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`);
  };
}

/** `--pace F`: virtual seconds per wall second, > 0. */
function paceFactor(text: string): number {
  const f = Number(text);
  if (text.trim() === "" || !Number.isFinite(f) || f <= 0) throw new UsageError(`'${text}' is not a pace: expected a number > 0 of virtual seconds per wall second (1 = real time)`);
  return f;
}

/** A TCP port; 0 lets the OS choose (the URL is printed). */
function tcpPort(text: string): number {
  return parseCount(text, 0, 65535);
}

/** What commander hands over for the scenario options (camel-cased). */
export interface ScenarioCliOptions {
  scenario?: string;
  profile?: string;
  cpus?: number;
  seed?: number;
  duration?: number;
  rate?: number | "max";
  flows?: number;
  rpsCpus?: number[];
  load?: "nic" | "loopback";
  offline?: CpuAtTime[];
  online?: CpuAtTime[];
  window?: number;
  sysctl?: ReturnType<typeof parseSysctl>[];
  boot?: string[];
  stalls?: ScenarioSpec["stalls"] | null;
  host?: ScenarioSpec["host"] | null;
  receiver?: ScenarioSpec["receiver"] | null;
}

/** The options that shape the emulated host and its load: a scenario file and the flags over it. */
export function addScenarioOptions(cmd: Command): Command {
  return cmd
    .option("--scenario <FILE>", "YAML scenario file (see examples/)")
    .option("--profile <NAME>", `kernel profile: ${PROFILE_NAMES.join(", ")}`, arg(profileName))
    .option("--cpus <N>", `number of CPUs (1-${MAX_CPUS}; default 4)`, arg((t) => parseCount(t, 1, MAX_CPUS)))
    .option("--seed <N>", "seed of every random choice, flow hashing included (default 1)", arg((t) => parseCount(t, 0, 2 ** 32 - 1)))
    .option("--duration <D>", "virtual time to emulate (default 50ms)", arg(positiveDuration))
    .option("--rate <PPS|max>", "offered packets per second, for every load phase; max: closed-loop senders that send as fast as their CPU allows (loopback only)", rateOption)
    .option("--flows <N>", "number of flows, for every load phase", arg((t) => parseCount(t, 1, MAX_FLOWS)))
    .option("--rps-cpus <HEXMASK>", "rps_cpus of every RX queue and loopback sender (0 = RPS off)", arg((t) => parseCpuMask(t)))
    .addOption(
      new Option("--load <KIND>", "one NIC RX queue with its IRQ on CPU 0, or a loopback UDP sender on CPU 0 (replaces the scenario's queues, senders and load)").choices([
        "nic",
        "loopback",
      ]),
    )
    .option("--offline <CPU@TIME>", "take a CPU offline at a virtual time, e.g. 2@10ms (repeatable; with --online, replaces the scenario's events)", repeated(parseCpuAtTime))
    .option("--online <CPU@TIME>", "bring a CPU back online, e.g. 2@30ms (repeatable)", repeated(parseCpuAtTime))
    .option("--window <D>", "synchronisation window (default: the smallest cross-CPU latency, which is exact)", arg(positiveDuration))
    .option("--sysctl <KEY=VALUE>", `set a sysctl, overriding the scenario's (repeatable): ${SYSCTL_NAMES.join(", ")}`, repeated(parseSysctl))
    .option("--boot <ARG>", "kernel command-line switch, e.g. thread_backlog_napi (repeatable; replaces the scenario's boot list)", repeated((t) => t))
    .option("--stalls <SPEC>", "CPUs losing the processor now and then: every=D,mean=D[,max=D,cpus=HEXMASK,in_softirq=false] (replaces the scenario's stalls; off = none)", knobOption(stallsSchema))
    .option("--host <SPEC>", "the vCPUs share fewer host cores, slice by slice: cores=N,slice=D[,busy_share=0.05,wake_wait=D,slice_wait=0,others=0,lock_hold=0] (replaces the scenario's host; off = a core per vCPU; not with stalls)", knobOption(hostSchema))
    .option("--receiver <SPEC>", "a receiving task reading one UDP socket: cpu=N[,rmem=BYTES|NKiB|Npackets,per_packet_ns=N,enqueue_ns=N,contention_ns=N] (replaces the scenario's receiver; off = none)", knobOption(receiverSchema));
}

/** The scenario options as RunFlags (config/resolve.ts); `durationNs` replaces --duration (chaos runs). */
export function runFlagsOf(o: ScenarioCliOptions, durationNs = o.duration): RunFlags {
  return {
    profile: o.profile,
    cpus: o.cpus,
    seed: o.seed,
    duration_ns: durationNs,
    rate_pps: typeof o.rate === "number" ? o.rate : undefined,
    rate_max: o.rate === "max" ? true : undefined,
    flows: o.flows,
    rps_cpus: o.rpsCpus,
    load: o.load,
    offline: o.offline,
    online: o.online,
    window_ns: o.window,
    sysctls: o.sysctl,
    boot: o.boot,
    ...(o.stalls !== undefined ? { stalls: o.stalls } : {}),
    ...(o.host !== undefined ? { host: o.host } : {}),
    ...(o.receiver !== undefined ? { receiver: o.receiver } : {}),
  };
}

export function engineOption(defaultEngine: EngineName): Option {
  return new Option("--engine <NAME>", "processes: one OS process per CPU over ZeroMQ, with a coordinator; inprocess: every CPU in this process")
    .choices(ENGINES)
    .default(defaultEngine);
}

/** What commander hands over for the live-run options. */
export interface LiveCliOptions {
  pace?: number;
  metricsPort?: number;
  metricsHost?: string;
  controlToken?: string;
  controlTokenFile?: string;
  keepAlive?: boolean;
  procfs?: string;
}

/**
 * --pace, --metrics-port, --metrics-host, --control-token(-file), --keep-alive, --procfs: how a run
 * can be watched while it goes. The server listens on 127.0.0.1 unless --metrics-host says
 * otherwise (containers: 0.0.0.0); off loopback the control API's commands need a token.
 */
export function addLiveOptions(cmd: Command): Command {
  return cmd
    .option("--pace <F>", "pace virtual time to the wall clock: F virtual seconds per wall second (1 = real time; default: as fast as possible)", arg(paceFactor))
    .option("--metrics-port <PORT>", "serve /metrics (Prometheus), /healthz and the control API on PORT during the run (0 = any free port)", arg(tcpPort))
    .option("--metrics-host <ADDR>", "the address --metrics-port listens on (default 127.0.0.1, this host only; 0.0.0.0 = every interface, e.g. in a container); off loopback the control API's commands need a token", arg(hostAddress))
    .option("--control-token <T>", "the bearer token POST /control/* needs (also SOFTNET_CONTROL_TOKEN; visible in ps: prefer the file or the variable); made up and printed when --metrics-host is not loopback and none is given")
    .option("--control-token-file <F>", "read the control token from file F (its first line)")
    .option("--keep-alive", "after the run, keep serving /metrics and the control API until SIGINT/SIGTERM (needs --metrics-port)")
    .option("--procfs <DIR>", "keep DIR/net/softnet_stat, DIR/softirqs, DIR/interrupts and DIR/stat in the kernel's formats as the run goes (node_exporter --path.procfs=DIR)");
}

/** A --metrics-host value: an IP address or a host name, nothing blank. */
function hostAddress(text: string): string {
  const t = text.trim();
  if (t === "" || /[\s/]/.test(t)) throw new UsageError(`'${text}' is not an address to listen on (e.g. 127.0.0.1, 0.0.0.0, ::1)`);
  return t.replace(/^\[(.*)\]$/, "$1");
}

export function checkLiveOptions(o: LiveCliOptions): void {
  if (o.keepAlive && o.metricsPort === undefined) throw new UsageError("--keep-alive: needs --metrics-port (there is nothing else to keep serving)");
  for (const [flag, given] of [
    ["--metrics-host", o.metricsHost],
    ["--control-token", o.controlToken],
    ["--control-token-file", o.controlTokenFile],
  ] as const)
    if (given !== undefined && o.metricsPort === undefined) throw new UsageError(`${flag}: needs --metrics-port (there is no server without it)`);
  if (o.controlToken !== undefined && o.controlTokenFile !== undefined)
    throw new UsageError("--control-token-file: give it or --control-token, not both");
}

/** `run` options the experiment commands must not copy: they run many runs, none watched live. */
export const RUN_ONLY_OPTIONS: readonly string[] = [
  "--pace",
  "--metrics-port",
  "--metrics-host",
  "--control-token",
  "--control-token-file",
  "--keep-alive",
  "--procfs",
  "--cpu-timeout",
  "--transport",
  "--max-frame",
  "--verbose",
];
