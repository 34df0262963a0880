// The nemesis kinds: one generator per kind, each a pure function of (config, options, seeded
// Rng, end of the chaos phase) that emits faults as the model's CpuCommands. Faults are knobs the
// model already has (model/messages.ts CpuCommand); a generator only decides when and where.
// Every window ends inside the chaos phase or is closed by the heal (chaos/heal.ts).
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { Fault } from "../model/results.ts";
import type { Rng } from "../model/rng.ts";
import { phasesOf } from "../model/sources.ts";
import {
  ANY,
  type BurstOpts,
  type HotplugOpts,
  type IpiDelayOpts,
  type IrqAffinityOpts,
  type IrqOffOpts,
  type Nemesis,
  type RpsOpts,
  type SysctlOpts,
} from "./spec.ts";

/** One scheduled fault; `command` is absent for process faults (kill, pause). */
export interface Scheduled {
  fault: Fault;
  command?: CpuCommand;
}

export interface GenContext {
  cfg: EmuConfig;
  rng: Rng;
  /** End of the chaos phase: no fault starts at or after it. */
  endNs: number;
  out: Scheduled[];
  /** Offline intervals so far, shared by every hotplug nemesis of the run (and the scenario's). */
  offline: OfflineInterval[];
}

/** Integer uniform in [lo, hi). */
function uniform(rng: Rng, lo: number, hi: number): number {
  return hi <= lo ? lo : lo + Math.floor(rng.next() * (hi - lo));
}

function pick<T>(rng: Rng, list: readonly T[]): T {
  return list[Math.floor(rng.next() * list.length)]!;
}

/** A random non-empty subset, in CPU order. */
function subset(rng: Rng, cpus: readonly number[]): number[] {
  for (;;) {
    const s = cpus.filter(() => rng.next() < 0.5);
    if (s.length > 0) return s;
  }
}

/** Fault times: gaps uniform in [interval/2, 3·interval/2), so the mean rate is 1/interval. */
function ticks(rng: Rng, intervalNs: number, endNs: number): number[] {
  const out: number[] = [];
  for (let t = uniform(rng, 0, intervalNs); t < endNs; t += uniform(rng, Math.ceil(intervalNs / 2), Math.ceil((3 * intervalNs) / 2)) || 1) out.push(t);
  return out;
}

/** Around a mean: uniform in [mean/2, 3·mean/2), at least 1 ns. */
function around(rng: Rng, meanNs: number): number {
  return Math.max(1, uniform(rng, Math.ceil(meanNs / 2), Math.ceil((3 * meanNs) / 2)));
}

function emit(ctx: GenContext, nemesis: string, command: CpuCommand, target: string, params: Fault["params"]): void {
  ctx.out.push({ fault: { at_ns: command.at_ns, kind: command.kind, target, params, nemesis }, command });
}

export function generate(n: Nemesis, ctx: GenContext): void {
  switch (n.kind) {
    case "hotplug":
      return hotplug(n.opts, ctx);
    case "irq-affinity":
      return irqAffinity(n.opts, ctx);
    case "rps":
      return rps(n.opts, ctx);
    case "sysctl":
      return sysctl(n.opts, ctx);
    case "burst":
      return burst(n.opts, ctx);
    case "irq-off":
      return irqOff(n.opts, ctx);
    case "ipi-delay":
      return ipiDelay(n.opts, ctx);
    case "kill":
    case "pause": {
      // Process faults: the process driver (chaos/processes.ts) acts on them; the model sees nothing.
      const { at_ns, cpu, ...rest } = n.opts;
      ctx.out.push({ fault: { at_ns, kind: n.kind, target: `cpu ${cpu}`, params: { ...rest }, nemesis: n.kind } });
      return;
    }
  }
}

/** A CPU offline over [from, to). */
export interface OfflineInterval {
  cpu: number;
  from: number;
  to: number;
}

/** Offline intervals of the scenario's own hotplug events (to = Infinity: until the heal). */
export function scenarioOffline(cfg: EmuConfig): OfflineInterval[] {
  const open = new Map<number, number>();
  const out: OfflineInterval[] = [];
  for (const e of cfg.events) {
    if (e.action === "offline") open.set(e.cpu, e.at_ns);
    else if (open.has(e.cpu)) {
      out.push({ cpu: e.cpu, from: open.get(e.cpu)!, to: e.at_ns });
      open.delete(e.cpu);
    }
  }
  for (const [cpu, from] of open) out.push({ cpu, from, to: Infinity });
  return out;
}

/**
 * Offline a random CPU for about `dwell`, as `echo 0 > /sys/devices/system/cpu/cpuN/online`.
 * Times are arbitrary nanoseconds, so under load they land mid-softirq and with IPIs in flight.
 * `ctx.offline` holds every offline interval so far (the scenario's events, other hotplug
 * nemeses): a CPU is taken only if it is online for the whole dwell, and only if at every instant
 * of the dwell at least min_online CPUs stay online — so the last CPU never goes.
 */
function hotplug(o: HotplugOpts, ctx: GenContext): void {
  const { cfg, rng, endNs, offline } = ctx;
  // Intervals not over yet (ticks only grow): keeps a 1 000-event schedule linear.
  let live = [...offline];
  const downAt = (x: number) => live.filter((i) => i.from <= x && x < i.to).length;
  for (const t of ticks(rng, o.interval_ns, endNs)) {
    const dwell = around(rng, o.dwell_ns);
    const to = t + dwell;
    live = live.filter((i) => i.to > t);
    const candidates = o.cpus.filter((c) => !live.some((i) => i.cpu === c && i.from < to));
    if (candidates.length === 0) continue;
    // Fewest online CPUs during the dwell: at t, or whenever another interval starts inside it.
    const probes = [t, ...live.filter((i) => i.from > t && i.from < to).map((i) => i.from)];
    const fewest = Math.min(...probes.map((x) => cfg.cpus - downAt(x)));
    if (fewest - 1 < o.min_online) continue;
    const cpu = pick(rng, candidates);
    live.push({ cpu, from: t, to });
    offline.push({ cpu, from: t, to });
    emit(ctx, "hotplug", { kind: "offline", cpu, at_ns: t }, `cpu ${cpu}`, { dwell_ns: dwell });
    if (to < endNs) emit(ctx, "hotplug", { kind: "online", cpu, at_ns: to }, `cpu ${cpu}`, {});
  }
}

/** Move a NIC queue's IRQ, as a write to /proc/irq/N/smp_affinity: half the time to one CPU. */
function irqAffinity(o: IrqAffinityOpts, ctx: GenContext): void {
  const queues = ctx.cfg.queues.map((q) => q.id);
  for (const t of ticks(ctx.rng, o.interval_ns, ctx.endNs)) {
    const queue = o.queue === ANY ? pick(ctx.rng, queues) : o.queue;
    const cpus = ctx.rng.next() < 0.5 ? [pick(ctx.rng, o.cpus)] : subset(ctx.rng, o.cpus);
    emit(ctx, "irq-affinity", { kind: "irq_affinity", queue, cpus, at_ns: t }, `queue ${queue}`, { cpus });
  }
}

/** Rewrite a source's rps_cpus; one time in eight it writes 0 (RPS off). */
function rps(o: RpsOpts, ctx: GenContext): void {
  const n = ctx.cfg.queues.length + ctx.cfg.senders.length;
  const sources = Array.from({ length: n }, (_, i) => i);
  for (const t of ticks(ctx.rng, o.interval_ns, ctx.endNs)) {
    const source = o.source === ANY ? pick(ctx.rng, sources) : o.source;
    const cpus = ctx.rng.next() < 0.125 ? [] : subset(ctx.rng, o.cpus);
    emit(ctx, "rps", { kind: "rps", source, cpus, at_ns: t }, `source ${source}`, { cpus });
  }
}

/** `sysctl -w net.core.NAME=v` with v in [min, max], back to the original after the dwell. */
function sysctl(o: SysctlOpts, ctx: GenContext): void {
  const orig = ctx.cfg.sysctls[o.name];
  const target = `net.core.${o.name}`;
  let busyUntil = 0;
  for (const t of ticks(ctx.rng, o.interval_ns, ctx.endNs)) {
    if (t < busyUntil) continue; // one change at a time: a restore must not cut a later change short
    const value = uniform(ctx.rng, o.min, o.max + 1);
    const back = t + around(ctx.rng, o.dwell_ns);
    busyUntil = back;
    emit(ctx, "sysctl", { kind: "sysctl", key: o.name, value, at_ns: t }, target, { value });
    if (back < ctx.endNs) emit(ctx, "sysctl", { kind: "sysctl", key: o.name, value: orig, at_ns: back }, target, { value: orig, restore: 1 });
  }
}

/**
 * Load spikes: the source's rate × factor, and hot_share of its packets to one hot flow, for
 * about `duration`. A `rate` command overrides the rate of every later load phase too, so after
 * the first burst each phase start of that source gets its own rate back explicitly.
 */
function burst(o: BurstOpts, ctx: GenContext): void {
  const { cfg, rng, endNs } = ctx;
  const n = cfg.queues.length + cfg.senders.length;
  const loaded = Array.from({ length: n }, (_, i) => i).filter((s) => phasesOf(cfg, s).length > 0);
  if (loaded.length === 0) return;
  const windows = new Map<number, { from: number; to: number }[]>();
  for (const t of ticks(rng, o.interval_ns, endNs)) {
    const source = o.source === ANY ? pick(rng, loaded) : o.source;
    const list = windows.get(source) ?? [];
    const last = list[list.length - 1];
    const to = t + around(rng, o.duration_ns);
    // A closed-loop sender has no rate to multiply (and a restore must not give it one).
    if ((last && t < last.to) || ppsAt(cfg, source, t) === 0 || phasesOf(cfg, source).some((p) => p.rate.kind === "max")) continue;
    list.push({ from: t, to });
    windows.set(source, list);
  }
  for (const [source, list] of [...windows].sort((a, b) => a[0] - b[0])) {
    const phaseStarts = phasesOf(cfg, source).map((p) => p.start_ns).filter((s) => s > list[0]!.from && s < endNs);
    const points = [...new Set([...list.flatMap((w) => [w.from, w.to]), ...phaseStarts])].filter((p) => p < endNs).sort((a, b) => a - b);
    for (const at of points) {
      const w = list.find((x) => x.from <= at && at < x.to);
      const base = ppsAt(cfg, source, at);
      const pps = w ? base * o.factor : base;
      const why: Fault["params"] = w?.from === at ? { factor: o.factor } : w ? { factor: o.factor, phase_start: 1 } : { restore: 1 };
      emit(ctx, "burst", { kind: "rate", source, pps, at_ns: at }, `source ${source}`, { pps, ...why });
      if (o.hot_share > 0 && list.some((x) => x.from === at))
        emit(ctx, "burst", { kind: "hot_flow", source, share: o.hot_share, at_ns: at }, `source ${source}`, { share: o.hot_share });
      if (o.hot_share > 0 && list.some((x) => x.to === at) && !w)
        emit(ctx, "burst", { kind: "hot_flow", source, share: 0, at_ns: at }, `source ${source}`, { share: 0 });
    }
  }
}

/** Offered pps of a source at `at`: the phase running then, else the next one, else 0. */
function ppsAt(cfg: EmuConfig, source: number, at: number): number {
  const phases = phasesOf(cfg, source);
  const p = phases.find((x) => x.start_ns <= at && at < x.end_ns) ?? phases.find((x) => x.start_ns > at);
  return p?.rate.pps ?? 0;
}

/** local_irq_disable() + local_bh_disable() on a random CPU for about `duration`. */
function irqOff(o: IrqOffOpts, ctx: GenContext): void {
  for (const t of ticks(ctx.rng, o.interval_ns, ctx.endNs)) {
    const cpu = pick(ctx.rng, o.cpus);
    const duration_ns = Math.min(around(ctx.rng, o.duration_ns), ctx.endNs - t);
    emit(ctx, "irq-off", { kind: "irq_off", cpu, duration_ns, at_ns: t }, `cpu ${cpu}`, { duration_ns });
  }
}

/** IPIs to a random CPU arrive `extra` late for about `dwell` (one window per CPU at a time). */
function ipiDelay(o: IpiDelayOpts, ctx: GenContext): void {
  const busyUntil = new Map<number, number>();
  for (const t of ticks(ctx.rng, o.interval_ns, ctx.endNs)) {
    const cpu = pick(ctx.rng, o.cpus);
    if (t < (busyUntil.get(cpu) ?? 0)) continue;
    const until_ns = Math.min(t + around(ctx.rng, o.dwell_ns), ctx.endNs);
    busyUntil.set(cpu, until_ns);
    emit(ctx, "ipi-delay", { kind: "ipi_delay", cpu, extra_ns: o.extra_ns, until_ns, at_ns: t }, `cpu ${cpu}`, { extra_ns: o.extra_ns, until_ns });
  }
}
