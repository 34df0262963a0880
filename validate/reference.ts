// The real-kernel reference data (validate/reference/, provenance in its README.md) as typed
// records. loopback.json is JSON already; nic-flood.txt and hotplug-loopback.txt are the
// measurement script's text output, parsed here (pure functions, so tests feed them hand-made text).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { LATER_BOOT_RUNS, LATER_NIC_BOOTS } from "./kernels.ts";
import type { CpuDelta as PhaseCounters } from "./relations.ts";

/** One CPU's deltas over a phase (loopback and NIC), as the relations read them, and the backlog. */
export interface CpuDelta extends PhaseCounters {
  /** backlog_len at the end of the phase. */
  bl: number;
}

export interface LoopbackPhase {
  /** rps_cpus as written (hex mask). */
  rps: string;
  flows: number;
  backlog: number;
  /** net.core.flow_limit_cpu_bitmap as written (hex mask). */
  flowLimit: string;
  sent: number;
  /** The sender's packets per second (closed loop). */
  rate: number;
  cpus: CpuDelta[];
}

export interface NicPhase {
  rps: string;
  backlog: number;
  budget: number;
  /** The device's rx_packets over the phase: what reached the guest (processed + dropped). */
  rxPackets: number;
  /** virtio-net's RX interrupts over the phase, every CPU's (the IRQ is pinned to one). */
  virtioIrqs: number;
  seconds: number;
  cpus: CpuDelta[];
}

/** Cumulative counters of one CPU at one step; absent when the CPU's row is not in softnet_stat. */
export interface HotplugRow {
  proc: number;
  drop: number;
  sq: number;
  rrps: number;
  fl: number;
  bl: number;
}

export const HOTPLUG_STEPS = ["t0_before_start", "imm_before_off", "imm_after_off", "off_mid", "imm_before_on", "imm_after_on", "final"] as const;
export type HotplugStep = (typeof HOTPLUG_STEPS)[number];

export interface HotplugPhase {
  rps: string;
  offlineCpu: number;
  backlog: number;
  /** Per step: seconds since the start, and the rows present (index = CPU; null = row absent). */
  steps: Record<HotplugStep, { rel: number; rows: (HotplugRow | null)[] }>;
  sent: number;
  received: number;
}

export interface Reference {
  loopback: Record<string, Record<string, LoopbackPhase>>;
  nic: Record<string, Record<string, NicPhase>>;
  hotplug: Record<string, Record<string, HotplugPhase>>;
}

/** Malformed reference data: which file, where, what. */
export class ReferenceError extends Error {
  override readonly name = "ReferenceError";
}

const REFERENCE_DIR = fileURLToPath(new URL("./reference/", import.meta.url));

export function loadReference(dir = REFERENCE_DIR): Reference {
  const read = (name: string): string => {
    try {
      return readFileSync(`${dir.replace(/\/?$/, "/")}${name}`, "utf8");
    } catch (err) {
      throw new ReferenceError(`${name}: cannot read the reference data: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const loopback = parseLoopback(read("loopback.json"), "loopback.json");
  // Later boots of the same kernels, by this repository's `npm run ground-truth`: `KERNEL#runN`.
  for (const n of LATER_BOOT_RUNS) {
    const file = `loopback-run${n}.json`;
    for (const [kernel, phases] of Object.entries(parseLoopback(read(file), file))) {
      const key = `${kernel}#run${n}`;
      if (loopback[key]) throw new ReferenceError(`${file}: ${key} is also in loopback.json`);
      loopback[key] = phases;
    }
  }
  const nic = parseNicFlood(read("nic-flood.txt"), "nic-flood.txt");
  // Later NIC boots, each a boot of its own: `KERNEL#nicN`.
  for (const n of LATER_NIC_BOOTS) {
    const file = `nic-flood-run${n}.txt`;
    for (const [kernel, phases] of Object.entries(parseNicFlood(read(file), file))) nic[`${kernel}#nic${n}`] = phases;
  }
  return {
    loopback,
    nic,
    hotplug: parseHotplug(read("hotplug-loopback.txt"), "hotplug-loopback.txt"),
  };
}

function num(v: unknown, where: string): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ReferenceError(`${where}: expected a count, got ${JSON.stringify(v)}`);
  return v;
}

/** `rps_cpus=e flows=64 ...` → { rps_cpus: "e", flows: "64", ... } */
function keyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z_]+)=(\S+)/g)) out[m[1]!] = m[2]!;
  return out;
}

function need(kv: Record<string, string>, key: string, where: string): string {
  const v = kv[key];
  if (v === undefined) throw new ReferenceError(`${where}: no ${key}=`);
  return v;
}

function intOf(text: string, where: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ReferenceError(`${where}: expected a whole number, got '${text}'`);
  return n;
}

export function parseLoopback(text: string, file: string): Reference["loopback"] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ReferenceError(`${file}: malformed JSON: ${(err as Error).message}`);
  }
  const runs = (data as { runs?: unknown }).runs;
  if (typeof runs !== "object" || runs === null) throw new ReferenceError(`${file}: no runs`);
  const out: Reference["loopback"] = {};
  for (const [kernel, phases] of Object.entries(runs as Record<string, Record<string, unknown>>)) {
    out[kernel] = {};
    for (const [phase, raw] of Object.entries(phases)) {
      const where = `${file}: runs.${kernel}.${phase}`;
      const p = raw as { desc?: unknown; cpus?: Record<string, Record<string, unknown>>; sent?: unknown; rate?: unknown };
      if (typeof p.desc !== "string" || typeof p.cpus !== "object" || p.cpus === null) throw new ReferenceError(`${where}: expected desc and cpus`);
      const kv = keyValues(p.desc);
      const ids = Object.keys(p.cpus).map((k) => intOf(k, `${where}.cpus`)).sort((a, b) => a - b);
      ids.forEach((id, i) => {
        if (id !== i) throw new ReferenceError(`${where}.cpus: CPUs must be 0..N-1, got ${ids.join(",")}`);
      });
      out[kernel][phase] = {
        rps: need(kv, "rps_cpus", `${where}.desc`),
        flows: intOf(need(kv, "flows", `${where}.desc`), `${where}.desc`),
        backlog: intOf(need(kv, "netdev_max_backlog", `${where}.desc`), `${where}.desc`),
        flowLimit: need(kv, "flow_limit_cpu_bitmap", `${where}.desc`),
        sent: num(p.sent, `${where}.sent`),
        rate: num(p.rate, `${where}.rate`),
        cpus: ids.map((id) => {
          const c = p.cpus![String(id)]!;
          const w = `${where}.cpus.${id}`;
          return { proc: num(c.proc, `${w}.proc`), drop: num(c.drop, `${w}.drop`), sq: num(c.sq, `${w}.sq`), rrps: num(c.rrps, `${w}.rrps`), fl: num(c.fl, `${w}.fl`), netrx: num(c.netrx, `${w}.netrx`), bl: num(c.bl, `${w}.bl`) };
        }),
      };
    }
  }
  return out;
}

/**
 * nic-flood.txt: `=== KERNEL: ...` starts a kernel, `## pN: key=value ...` a phase, then an `RX`
 * line, the host sender's `HOST ... elapsed=5.005s` line, a header `cpu processed dropped time_squeeze received_rps flow_limit_c
 * backlog_end NET_RX virtioIRQ CAL RES`, one row per CPU, a `sum` row and `eth0 delta: rx_packets=N ...`.
 */
export function parseNicFlood(text: string, file: string): Reference["nic"] {
  const out: Reference["nic"] = {};
  let kernel: string | undefined;
  let phase: (NicPhase & { name: string; hasRx: boolean }) | undefined;
  const finish = (lineNo: number) => {
    if (!phase || !kernel) return;
    const where = `${file}:${lineNo}: ${kernel} ${phase.name}`;
    if (phase.cpus.length === 0) throw new ReferenceError(`${where}: no CPU rows`);
    if (!phase.hasRx) throw new ReferenceError(`${where}: no 'eth0 delta: rx_packets=' line`);
    const { name, hasRx: _, ...rest } = phase;
    out[kernel]![name] = rest;
    phase = undefined;
  };
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const k = /^=== (\S+):/.exec(line);
    if (k) {
      finish(i + 1);
      kernel = k[1]!;
      out[kernel] = {};
      return;
    }
    const p = /^## (p\d+): (.*)$/.exec(line);
    if (p) {
      finish(i + 1);
      if (!kernel) throw new ReferenceError(`${where}: a phase before any '=== KERNEL:' line`);
      const kv = keyValues(p[2]!);
      phase = {
        name: p[1]!,
        rps: need(kv, "rps_cpus", where),
        backlog: intOf(need(kv, "netdev_max_backlog", where), where),
        budget: intOf(need(kv, "netdev_budget", where), where),
        rxPackets: 0,
        virtioIrqs: 0,
        seconds: 5,
        cpus: [],
        hasRx: false,
      };
      return;
    }
    if (!phase) return;
    // The host sender's phase length: the arrival rate is rx_packets over it.
    const host = /^\s+HOST .*elapsed=([\d.]+)s/.exec(line);
    if (host) phase.seconds = Number(host[1]);
    const row = /^\s+(\d+)((?:\s+\d+){10})\s*$/.exec(line);
    if (row) {
      const f = row[2]!.trim().split(/\s+/).map(Number);
      if (intOf(row[1]!, where) !== phase.cpus.length) throw new ReferenceError(`${where}: CPU rows out of order`);
      phase.cpus.push({ proc: f[0]!, drop: f[1]!, sq: f[2]!, rrps: f[3]!, fl: f[4]!, bl: f[5]!, netrx: f[6]! });
      phase.virtioIrqs += f[7]!;
    }
    const eth = /eth0 delta: rx_packets=(\d+)/.exec(line);
    if (eth) {
      phase.rxPackets = intOf(eth[1]!, where);
      phase.hasRx = true;
    }
  });
  finish(lines.length);
  return out;
}

/**
 * hotplug-loopback.txt: `#### KERNEL.log`, `## hN rps_cpus=f offline_cpu=2 netdev_max_backlog=1000`,
 * step lines `NAME rel=S  0:p/d/sq/rrps/fl/bl  1:...` (absent CPUs are offline), `TX sent=N`, `RX received=N`.
 */
export function parseHotplug(text: string, file: string): Reference["hotplug"] {
  const out: Reference["hotplug"] = {};
  let kernel: string | undefined;
  let phase: { name: string; rps: string; offlineCpu: number; backlog: number; steps: Partial<HotplugPhase["steps"]>; sent?: number; received?: number } | undefined;
  const finish = (lineNo: number) => {
    if (!phase || !kernel) return;
    const where = `${file}:${lineNo}: ${kernel} ${phase.name}`;
    for (const s of HOTPLUG_STEPS) if (!phase.steps[s]) throw new ReferenceError(`${where}: no ${s} line`);
    if (phase.sent === undefined || phase.received === undefined) throw new ReferenceError(`${where}: no TX sent= or RX received= line`);
    // Every CPU is online before the start: pad the other steps' rows to that many (null = absent).
    const n = phase.steps.t0_before_start!.rows.length;
    for (const st of Object.values(phase.steps)) while (st.rows.length < n) st.rows.push(null);
    out[kernel]![phase.name] = {
      rps: phase.rps,
      offlineCpu: phase.offlineCpu,
      backlog: phase.backlog,
      steps: phase.steps as HotplugPhase["steps"],
      sent: phase.sent,
      received: phase.received,
    };
    phase = undefined;
  };
  const lines = text.split("\n");
  lines.forEach((line, i) => {
    const where = `${file}:${i + 1}`;
    const k = /^#### (\S+?)(?:\.log)?\s*$/.exec(line);
    if (k) {
      finish(i + 1);
      kernel = k[1]!;
      out[kernel] = {};
      return;
    }
    const h = /^\s*## (h\d+) (.*)$/.exec(line);
    if (h) {
      finish(i + 1);
      if (!kernel) throw new ReferenceError(`${where}: a phase before any '#### KERNEL' line`);
      const kv = keyValues(h[2]!);
      phase = {
        name: h[1]!,
        rps: need(kv, "rps_cpus", where),
        offlineCpu: intOf(need(kv, "offline_cpu", where), where),
        backlog: intOf(need(kv, "netdev_max_backlog", where), where),
        steps: {},
      };
      return;
    }
    if (!phase) return;
    const s = /^\s*(\w+)\s+rel=([\d.]+)\s+(.*)$/.exec(line);
    if (s && (HOTPLUG_STEPS as readonly string[]).includes(s[1]!)) {
      const rows: (HotplugRow | null)[] = [];
      for (const m of s[3]!.matchAll(/(\d+):(\d+)\/(\d+)\/(\d+)\/(\d+)\/(\d+)\/(\d+)/g)) {
        const cpu = intOf(m[1]!, where);
        while (rows.length < cpu) rows.push(null);
        const [proc, drop, sq, rrps, fl, bl] = m.slice(2, 8).map(Number) as [number, number, number, number, number, number];
        rows[cpu] = { proc, drop, sq, rrps, fl, bl };
      }
      if (rows.length === 0) throw new ReferenceError(`${where}: ${s[1]}: no CPU rows`);
      phase.steps[s[1] as HotplugStep] = { rel: Number(s[2]), rows };
      return;
    }
    const tx = /^\s*TX sent=(\d+)/.exec(line);
    if (tx) phase.sent = intOf(tx[1]!, where);
    const rx = /^\s*RX received=(\d+)/.exec(line);
    if (rx) phase.received = intOf(rx[1]!, where);
  });
  finish(lines.length);
  return out;
}
