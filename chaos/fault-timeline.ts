// A chaos run's faults[] as the metrics registry shows them (observe/metrics.ts FaultTimeline):
// when each fault took effect, by nemesis kind, and the windows of the faults that last — irq-off
// sections, ipi-delay windows, a sysctl turned down until its restore, a burst until its rate is
// back, a CPU offline until it is online again. Read from the faults themselves (their params and
// the fault that ends each window), so the same function serves the plan and the results.
import type { FaultTimeline } from "../observe/metrics.ts";
import type { Fault } from "../model/results.ts";
import type { Nemesis } from "./spec.ts";

/** Process faults happen on the wall clock: they count from the virtual time they hit (`hit_ns`). */
const PROCESS_FAULTS = new Set(["kill", "pause"]);

/**
 * `nemeses` name the kinds shown from the start (with `heal`); `healNs` ends every window still
 * open (the heal puts every knob back; a window past the chaos phase has no end fault of its own).
 */
export function faultTimeline(faults: readonly Fault[], nemeses: readonly Nemesis[], healNs: number): FaultTimeline {
  const applied = faults.flatMap((f) => {
    if (!PROCESS_FAULTS.has(f.kind)) return [{ kind: f.nemesis, at_ns: f.at_ns }];
    const hit = f.params.hit_ns;
    return typeof hit === "number" && hit >= 0 ? [{ kind: f.nemesis, at_ns: hit }] : [];
  });
  const windows: FaultTimeline["windows"][number][] = [];
  const open = new Map<string, { kind: string; target: string; from_ns: number }>();
  const close = (kind: string, target: string, at: number): void => {
    const w = open.get(`${kind} ${target}`);
    if (!w) return;
    open.delete(`${kind} ${target}`);
    windows.push({ ...w, to_ns: at });
  };
  for (const f of faults) {
    const p = f.params;
    const start = (): void => {
      if (!open.has(`${f.nemesis} ${f.target}`)) open.set(`${f.nemesis} ${f.target}`, { kind: f.nemesis, target: f.target, from_ns: f.at_ns });
    };
    if (f.kind === "irq_off") windows.push({ kind: f.nemesis, target: f.target, from_ns: f.at_ns, to_ns: f.at_ns + Number(p.duration_ns) });
    else if (f.kind === "ipi_delay") windows.push({ kind: f.nemesis, target: f.target, from_ns: f.at_ns, to_ns: Number(p.until_ns) });
    else if (f.nemesis === "hotplug" && f.kind === "offline") start();
    else if (f.kind === "online") close("hotplug", f.target, f.at_ns);
    else if (f.nemesis === "sysctl" && f.kind === "sysctl" && p.restore === undefined) start();
    else if (f.nemesis === "sysctl" && f.kind === "sysctl") close("sysctl", f.target, f.at_ns);
    // A burst starts with its factor; a phase start inside it only renews the rate.
    else if (f.nemesis === "burst" && f.kind === "rate" && p.factor !== undefined && p.phase_start === undefined) start();
    else if (f.nemesis === "burst" && f.kind === "rate" && p.restore !== undefined) close("burst", f.target, f.at_ns);
  }
  for (const w of open.values()) windows.push({ ...w, to_ns: Infinity });
  return {
    kinds: [...new Set([...nemeses.map((n) => n.kind), "heal"])],
    applied,
    windows: windows.map((w) => ({ ...w, to_ns: Math.min(w.to_ns, healNs) })).sort((a, b) => a.from_ns - b.from_ns),
  };
}
