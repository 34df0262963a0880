// The heal at the end of the chaos phase (TigerBeetle's "heal, then check liveness"): every CPU
// online, every rps_cpus map, IRQ affinity and sysctl the nemeses touched back to the scenario's
// value, hot flows off, every source's rate to 0 (load stopped: the runner also ends every load
// phase there, chaos/runner.ts). Faults stop by themselves: none is scheduled past the chaos phase.
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand, NumericSysctl } from "../model/messages.ts";
import type { Fault } from "../model/results.ts";
import { phasesOf } from "../model/sources.ts";
import type { Scheduled } from "./kinds.ts";

const sameCpus = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Commands (with their faults, nemesis "heal") that undo the scenario's events and `commands` at `atNs`. */
export function healCommands(cfg: EmuConfig, commands: readonly CpuCommand[], atNs: number): Scheduled[] {
  const online = new Array<boolean>(cfg.cpus).fill(true);
  for (const e of cfg.events) online[e.cpu] = e.action === "online";
  const rps = new Map<number, number[]>();
  const affinity = new Map<number, number[]>();
  const sysctls = new Map<NumericSysctl, number>();
  const hot = new Map<number, number>();
  // Scenario events and faults, in time order (commands are sorted; events too).
  const timeline = [...cfg.events.map((e) => ({ kind: e.action, cpu: e.cpu, at_ns: e.at_ns }) as CpuCommand), ...commands].sort((a, b) => a.at_ns - b.at_ns);
  for (const c of timeline) {
    if (c.kind === "offline" || c.kind === "online") online[c.cpu] = c.kind === "online";
    else if (c.kind === "rps") rps.set(c.source, c.cpus);
    else if (c.kind === "irq_affinity") affinity.set(c.queue, c.cpus);
    else if (c.kind === "sysctl") sysctls.set(c.key, c.value);
    else if (c.kind === "hot_flow") hot.set(c.source, c.share);
  }
  const out: Scheduled[] = [];
  const add = (command: CpuCommand, target: string, params: Fault["params"]) =>
    out.push({ command, fault: { at_ns: atNs, kind: command.kind, target, params, nemesis: "heal" } });
  // Load stops first: a loopback sender that fell behind would otherwise keep sending what was due.
  for (let source = 0; source < cfg.queues.length + cfg.senders.length; source++)
    if (phasesOf(cfg, source).length > 0) add({ kind: "rate", source, pps: 0, at_ns: atNs }, `source ${source}`, { pps: 0 });
  online.forEach((up, cpu) => {
    if (!up) add({ kind: "online", cpu, at_ns: atNs }, `cpu ${cpu}`, {});
  });
  const nq = cfg.queues.length;
  for (const [queue, cpus] of [...affinity].sort((a, b) => a[0] - b[0])) {
    const orig = cfg.queues[queue]!.irq_affinity;
    if (!sameCpus(cpus, orig)) add({ kind: "irq_affinity", queue, cpus: [...orig], at_ns: atNs }, `queue ${queue}`, { cpus: [...orig] });
  }
  for (const [source, cpus] of [...rps].sort((a, b) => a[0] - b[0])) {
    const orig = source < nq ? cfg.queues[source]!.rps_cpus : cfg.senders[source - nq]!.rps_cpus;
    if (!sameCpus(cpus, orig)) add({ kind: "rps", source, cpus: [...orig], at_ns: atNs }, `source ${source}`, { cpus: [...orig] });
  }
  for (const [key, value] of sysctls) {
    const orig = cfg.sysctls[key];
    if (value !== orig) add({ kind: "sysctl", key, value: orig, at_ns: atNs }, `net.core.${key}`, { value: orig });
  }
  for (const [source, share] of [...hot].sort((a, b) => a[0] - b[0]))
    if (share !== 0) add({ kind: "hot_flow", source, share: 0, at_ns: atNs }, `source ${source}`, { share: 0 });
  return out;
}
