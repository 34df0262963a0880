// The model's records on the wire: a CPU's counters, the run's configuration and the commands, as
// the protobuf messages of proto/softnet.proto (wire-plain.ts maps them by reflection). Decoding
// gives exactly the objects the model builds, keys in the model's order, and checks what the
// schema cannot say: bucket counts, argument ranges, known names.
import { COMMAND_ARGS, COMMAND_KINDS, type CommandArg, type CpuCommand } from "../model/messages.ts";
import type { EmuConfig } from "../model/config.ts";
import { DEFAULT_SYSCTLS } from "../model/defaults.ts";
import { CONTEXTS, DROP_REASONS, LATENCY_BUCKETS_NS, RAISE_SOURCES, type CpuCounters } from "../model/results.ts";
import { MAX_CPU_ID, wireType } from "./schema.ts";
import { BadPayload, fromWire, sameNames, toWire } from "./wire-plain.ts";

/* eslint-disable @typescript-eslint/no-explicit-any -- the parse boundary: protobufjs message objects */
const CountersType = wireType("CpuCounters");
const ConfigType = wireType("EmuConfig");
const CommandType = wireType("Command");

const fieldNames = (type: string): string[] => wireType(type).fieldsArray.map((f) => f.name);
sameNames("SoftirqRaises", fieldNames("SoftirqRaises"), RAISE_SOURCES);
sameNames("BusyNs", fieldNames("BusyNs"), CONTEXTS);
sameNames("DropsByReason", fieldNames("DropsByReason"), DROP_REASONS);
sameNames("Command kinds", CommandType.oneofs["kind"]!.fieldsArray.map((f) => f.name), COMMAND_KINDS);
for (const kind of COMMAND_KINDS)
  sameNames(`Command.${kind}`, (CommandType.fields[kind]!.resolvedType as typeof CommandType).fieldsArray.map((f) => f.name), Object.keys(COMMAND_ARGS[kind]));

// ---- counters ------------------------------------------------------------------------------

export function countersToWire(c: CpuCounters): object {
  const a = c.attributed;
  // number[][] has no protobuf form: each CPU's flush ids are a FlushIds message.
  return { ...c, attributed: { ipis_sent: a.ipis_sent, flow_limit_count: a.flow_limit_count, ipi_softirq_flushes: a.ipi_softirq_flushes.map((ids) => ({ ids })) } };
}

export function wireToCounters(m: any): CpuCounters {
  const c = fromWire(CountersType, m, "counters") as CpuCounters;
  const a = c.attributed as unknown as { ipis_sent: number[]; flow_limit_count: number[]; ipi_softirq_flushes: { ids: number[] }[] };
  c.attributed.ipi_softirq_flushes = a.ipi_softirq_flushes.map((f) => f.ids);
  if (c.latency_buckets.length !== LATENCY_BUCKETS_NS.length + 1)
    throw new BadPayload(`counters: ${c.latency_buckets.length} latency buckets, expected ${LATENCY_BUCKETS_NS.length + 1}`);
  if (a.flow_limit_count.length !== a.ipis_sent.length || a.ipi_softirq_flushes.length !== a.ipis_sent.length)
    throw new BadPayload("counters: attributed lists of unequal length");
  return c;
}

// ---- configuration ---------------------------------------------------------------------------

export function configToWire(cfg: EmuConfig): object {
  return toWire(ConfigType, cfg);
}

export function wireToConfig(m: any): EmuConfig {
  const cfg = fromWire(ConfigType, m, "config") as EmuConfig;
  if (cfg.cpus < 1 || cfg.cpus > MAX_CPU_ID + 1) throw new BadPayload(`config: ${cfg.cpus} cpus`);
  if (cfg.softnet_stat_columns !== 13 && cfg.softnet_stat_columns !== 15) throw new BadPayload(`config: softnet_stat_columns ${String(cfg.softnet_stat_columns)}`);
  const h = cfg.host;
  if (h && !(h.cores >= 1 && h.slice_ns >= 2 && h.busy_share >= 0 && h.busy_share <= 1 && h.wake_wait_ns >= 0 && h.lock_hold >= 0 && h.lock_hold <= 1 && h.slice_wait >= 0 && h.slice_wait <= 1 && h.others >= 0 && h.others <= MAX_CPU_ID + 1)) throw new BadPayload(`config: host ${JSON.stringify(h)}`);
  return cfg;
}

// ---- commands --------------------------------------------------------------------------------

const NUMERIC_SYSCTLS = new Set(Object.keys(DEFAULT_SYSCTLS).filter((k) => k !== "flow_limit_cpu_bitmap"));
const isCpu = (v: number): boolean => v <= MAX_CPU_ID;
const isTime = (v: number): boolean => Number.isFinite(v) && v >= 0;

/** The check of each kind of argument (uint32 fields are whole and non-negative already). */
const ARG_OK: Record<CommandArg, (v: any) => boolean> = {
  cpu: isCpu,
  index: () => true,
  ns: isTime,
  pps: isTime,
  share: (v: number) => v >= 0 && v <= 1,
  cpus: (v: number[]) => v.every(isCpu),
  sysctl: (v: string) => NUMERIC_SYSCTLS.has(v),
  value: Number.isFinite,
};

export function commandToWire(c: CpuCommand): object {
  return toWire(CommandType, c);
}

export function wireToCommand(m: any): CpuCommand {
  const c = fromWire(CommandType, m, "command");
  const args: Record<string, CommandArg> = COMMAND_ARGS[c.kind as CpuCommand["kind"]];
  for (const [name, arg] of Object.entries(args))
    if (!ARG_OK[arg](c[name])) throw new BadPayload(`command ${c.kind}: ${name} ${JSON.stringify(c[name])} is no ${arg}`);
  if (!isTime(c.at_ns)) throw new BadPayload(`command ${c.kind}: at_ns ${c.at_ns}`);
  return c as CpuCommand;
}
/* eslint-enable @typescript-eslint/no-explicit-any */
