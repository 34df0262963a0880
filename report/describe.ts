// One-line descriptions of a configuration for report pages: what was offered to whom.
import type { EmuConfig, LoadPhaseConfig } from "../model/config.ts";
import { formatDurationNs, si } from "./metrics.ts";

function cpuList(cpus: readonly number[]): string {
  if (cpus.length === 0) return "off";
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; i++) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    parts.push(j > i ? `${cpus[i]}-${cpus[j]}` : String(cpus[i]));
    i = j;
  }
  return `CPU ${parts.join(",")}`;
}

function phase(cfg: EmuConfig, p: LoadPhaseConfig): string {
  const rate = p.rate.kind === "max" ? "closed loop (rate max)" : `${si(p.rate.pps)} pps ${p.rate.kind}`;
  const when = p.start_ns > 0 || p.end_ns < cfg.duration_ns ? ` from ${formatDurationNs(p.start_ns)} to ${formatDurationNs(p.end_ns)}` : "";
  if (p.source.kind === "nic") {
    const q = cfg.queues[p.source.queue];
    return `NIC queue ${p.source.queue} (IRQ ${cpuList(q?.irq_affinity ?? [])}, RPS ${cpuList(q?.rps_cpus ?? [])}): ${rate}, ${p.flows} flows${when}`;
  }
  const s = cfg.senders[p.source.sender];
  return `loopback sender on CPU ${s?.cpu ?? 0} (RPS ${cpuList(s?.rps_cpus ?? [])}): ${rate}, ${p.flows} flows${when}`;
}

export function describeLoad(cfg: EmuConfig): string {
  return cfg.load.map((p) => phase(cfg, p)).join("; ") || "no load";
}

export function describeEvents(cfg: EmuConfig): string {
  return cfg.events.map((e) => `${e.action} CPU ${e.cpu} at ${formatDurationNs(e.at_ns)}`).join(", ") || "none";
}

/** Sysctls that differ from the kernel's defaults, `netdev_budget=8`. */
export function describeSysctls(cfg: EmuConfig, defaults: EmuConfig["sysctls"]): string {
  const changed = Object.entries(cfg.sysctls).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(defaults[k as keyof typeof defaults]));
  return changed.map(([k, v]) => `${k}=${Array.isArray(v) ? cpuList(v) : String(v)}`).join(", ") || "defaults";
}
