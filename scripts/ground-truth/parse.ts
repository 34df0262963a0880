// Reads the guest's serial console (lines "GT <phase> <before|after> <file> <line of the file>",
// "GT <phase> tx|rx ...", see init.sh) into snapshots, and the snapshots into the fixture's phase
// deltas. Pure: text in, numbers out.
import type { CpuRow, PhaseData, PhaseTimes } from "./format.ts";
import type { HostCpu } from "./host-cpu.ts";
import { HOTPLUG_STEPS, NIC_FLOWS, type HotplugPhase, type NicPhase } from "./phases.ts";

/** softnet_stat columns, 0-based, the same in 6.1 (13 columns) and 6.12 (15: input_qlen, process_qlen added). */
export const SOFTNET = { processed: 0, dropped: 1, timeSqueeze: 2, receivedRps: 9, flowLimitCount: 10, backlogLen: 11, index: 12 } as const;

export interface Snapshot {
  /** CPU number → softnet_stat columns (online CPUs only, as the kernel prints them). */
  readonly softnet: Map<number, number[]>;
  /** /proc/softirqs: row name (NET_RX...) → CPU number → count. */
  readonly softirqs: Map<string, Map<number, number>>;
  /** /proc/interrupts: row name (CAL, RES, 4...) → CPU number → count. */
  readonly interrupts: Map<string, Map<number, number>>;
  /** /proc/net/snmp: "Udp" → field → value. */
  readonly snmp: Map<string, Map<string, number>>;
  /** /proc/stat: CPU number → its time columns (user nice system idle iowait irq softirq steal ...), in USER_HZ ticks. */
  readonly stat: Map<number, number[]>;
  /** ksoftirqd/N's /proc/PID/schedstat: CPU number → ns it ran. */
  readonly ksoftirqdNs: Map<number, number>;
  /** The NIC's /sys/class/net/DEV/statistics (NIC phases): rx_packets, rx_dropped... */
  readonly netdev: Map<string, number>;
  readonly dmesg: string[];
}

export interface ConsolePhase {
  readonly name: string;
  /** The settings the guest read back after writing them. */
  settings?: string;
  before?: Snapshot;
  after?: Snapshot;
  tx?: { sent: number; errors: number; elapsedNs: number; cpu?: number; runNs?: number; waitNs?: number };
  rx?: { received: number; cpu?: number };
  /** A NIC phase's flood, as the host's sender reported it. */
  host?: { sent: number; errors: number; elapsedNs: number };
  /** A loopback phase's host CPU per vCPU thread while the sender ran (qemu.ts, host-cpu.ts). */
  hostCpu?: HostCpu;
  /** A hotplug phase's steps: seconds since its start and the softnet_stat rows then. */
  steps?: Map<string, { rel: number; softnet: Map<number, number[]> }>;
}

export interface ConsoleRecord {
  kernel?: string;
  cmdline?: string;
  cpus?: number;
  readonly phases: Map<string, ConsolePhase>;
  done: boolean;
  /** "GT warn ..." lines of the guest. */
  readonly warnings: string[];
  /** GT lines that could not be read (a kernel message cut into one, say): "line N: why". */
  readonly malformed: string[];
}

function emptySnapshot(): Snapshot & { headers: Map<string, number[]>; snmpHeader: Map<string, string[]> } {
  return { softnet: new Map(), softirqs: new Map(), interrupts: new Map(), snmp: new Map(), stat: new Map(), ksoftirqdNs: new Map(), netdev: new Map(), dmesg: [], headers: new Map(), snmpHeader: new Map() };
}

/** Key=value pairs of a line ("sent=1 errors=0" → {sent: "1", errors: "0"}). */
function pairs(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const tok of s.trim().split(/\s+/)) {
    const i = tok.indexOf("=");
    if (i > 0) m.set(tok.slice(0, i), tok.slice(i + 1));
  }
  return m;
}

function int(v: string | undefined, what: string): number {
  if (v === undefined || !/^\d+$/.test(v)) throw new Error(`console: ${what} is '${v ?? "missing"}', not a count`);
  return Number(v);
}

// Terminal escapes of the firmware (SeaBIOS clears the screen) and carriage returns.
const ESCAPES = /\x1b(?:\[[0-9;?]*[A-Za-z]|[A-Za-z])|\r/g;

export function parseConsole(text: string): ConsoleRecord {
  const rec: ConsoleRecord = { phases: new Map(), done: false, warnings: [], malformed: [] };
  const snaps = new Map<string, ReturnType<typeof emptySnapshot>>();
  const phase = (name: string): ConsolePhase => {
    let p = rec.phases.get(name);
    if (!p) rec.phases.set(name, (p = { name }));
    return p;
  };
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(ESCAPES, "");
    const at = line.indexOf("GT ");
    if (at < 0) return;
    try {
      readLine(line.slice(at + 3));
    } catch (e) {
      // One unreadable line costs what it carried (the phase that needs it says so), not the boot.
      rec.malformed.push(`line ${i + 1}: ${(e as Error).message}`);
    }
  });
  return rec;

  function readLine(body: string): void {
    const [first = "", second = "", third = ""] = body.split(" ", 3);
    if (first === "boot") {
      const kv = pairs(body.slice(5).replace(/ cmdline=.*$/, ""));
      rec.kernel = kv.get("kernel");
      rec.cpus = kv.has("cpus") ? int(kv.get("cpus"), "boot cpus") : undefined;
      rec.cmdline = /cmdline=(.*)$/.exec(body)?.[1];
    } else if (first === "done") rec.done = true;
    else if (first === "warn") rec.warnings.push(body.slice(5));
    else if (second === "phase") phase(first).settings = body.slice(first.length + 7);
    else if (second === "tx") {
      const kv = pairs(body.slice(first.length + 4));
      phase(first).tx = {
        sent: int(kv.get("sent"), `${first} tx sent`),
        errors: int(kv.get("errors"), `${first} tx errors`),
        elapsedNs: int(kv.get("elapsed_ns"), `${first} tx elapsed_ns`),
        ...(kv.has("cpu") ? { cpu: int(kv.get("cpu"), `${first} tx cpu`) } : {}),
        ...(kv.has("run_ns") ? { runNs: int(kv.get("run_ns"), `${first} tx run_ns`), waitNs: int(kv.get("wait_ns"), `${first} tx wait_ns`) } : {}),
      };
    } else if (second === "rx") {
      const kv = pairs(body.slice(first.length + 4));
      phase(first).rx = { received: int(kv.get("received"), `${first} rx received`), ...(kv.has("cpu") ? { cpu: int(kv.get("cpu"), `${first} rx cpu`) } : {}) };
    } else if (second === "host") {
      const kv = pairs(body.slice(first.length + 6));
      phase(first).host = { sent: int(kv.get("sent"), `${first} host sent`), errors: int(kv.get("errors"), `${first} host errors`), elapsedNs: int(kv.get("elapsed_ns"), `${first} host elapsed_ns`) };
    } else if (second === "hostcpu") {
      const kv = pairs(body.slice(first.length + 9));
      const vcpuMs = (kv.get("vcpu_ms") ?? "").split(",").map((v) => int(v, `${first} hostcpu vcpu_ms`));
      phase(first).hostCpu = { wallMs: int(kv.get("wall_ms"), `${first} hostcpu wall_ms`), vcpuMs, otherMs: int(kv.get("other_ms"), `${first} hostcpu other_ms`) };
    } else if (second === "hotplug") phase(first).settings = body.slice(first.length + 9);
    else if (second === "nic") phase(first).settings = body.slice(first.length + 5);
    else if (second === "flood") return;
    else if (second === "step") {
      const m = /^(\w+) rel=(-?[\d.]+)$/.exec(body.slice(first.length + 6).trim());
      if (!m) throw new Error(`console: bad step line '${body}'`);
      const p = phase(first);
      (p.steps ??= new Map()).set(m[1]!, { rel: Number(m[2]), softnet: new Map() });
    } else if ((HOTPLUG_STEPS as readonly string[]).includes(second) && third === "softnet_stat") {
      const step = phase(first).steps?.get(second);
      if (!step) throw new Error(`console: ${first} ${second}: softnet_stat before its step line`);
      const cols = softnetColumns(body.slice(first.length + second.length + third.length + 3));
      step.softnet.set(cols[SOFTNET.index]!, cols);
    } else if (second === "before" || second === "after") {
      const key = `${first} ${second}`;
      let s = snaps.get(key);
      if (!s) {
        snaps.set(key, (s = emptySnapshot()));
        phase(first)[second] = s;
      }
      const rest = body.slice(first.length + second.length + third.length + 3);
      addLine(s, third, rest);
    }
  }
}

/** A softnet_stat row: 13 (6.1) or 15 (6.12) columns of 8 hex digits, nothing else. */
function softnetColumns(rest: string): number[] {
  const tok = rest.trim().split(/\s+/);
  if (tok.length < 13 || !tok.every((t) => /^[0-9a-f]{8}$/.test(t))) throw new Error(`console: softnet_stat line '${rest.trim()}' is not 13+ columns of 8 hex digits`);
  return tok.map((h) => parseInt(h, 16));
}

function addLine(s: ReturnType<typeof emptySnapshot>, file: string, rest: string): void {
  const tok = rest.trim().split(/\s+/);
  switch (file) {
    case "softnet_stat": {
      const cols = softnetColumns(rest);
      // Rows are online CPUs only: the index column, not the row number, says which CPU.
      s.softnet.set(cols[SOFTNET.index]!, cols);
      return;
    }
    case "softirqs":
    case "interrupts": {
      if (tok.length && tok.every((t) => /^CPU\d+$/.test(t))) {
        s.headers.set(file, tok.map((t) => Number(t.slice(3))));
        return;
      }
      const cpus = s.headers.get(file);
      const name = tok[0]?.replace(/:$/, "");
      if (!cpus || !name || !tok[0]!.endsWith(":")) return;
      const row = new Map<number, number>();
      cpus.forEach((cpu, i) => {
        const v = tok[i + 1];
        if (v !== undefined && /^\d+$/.test(v)) row.set(cpu, Number(v));
      });
      (file === "softirqs" ? s.softirqs : s.interrupts).set(name, row);
      return;
    }
    case "snmp": {
      const proto = tok[0]?.replace(/:$/, "");
      if (!proto) return;
      const header = s.snmpHeader.get(proto);
      if (!header || tok.slice(1).every((t) => !/^-?\d+$/.test(t))) {
        s.snmpHeader.set(proto, tok.slice(1));
        return;
      }
      s.snmp.set(proto, new Map(header.map((h, i) => [h, Number(tok[i + 1])])));
      s.snmpHeader.delete(proto);
      return;
    }
    case "stat": {
      const m = /^cpu(\d+)$/.exec(tok[0] ?? "");
      if (m && tok.length >= 9 && tok.slice(1).every((t) => /^\d+$/.test(t))) s.stat.set(Number(m[1]), tok.slice(1).map(Number));
      return;
    }
    case "ksoftirqd":
      // "N RUN_NS WAIT_NS SLICES"
      if (tok.length >= 2 && tok.slice(0, 2).every((t) => /^\d+$/.test(t))) s.ksoftirqdNs.set(Number(tok[0]), Number(tok[1]));
      return;
    case "dmesg":
      s.dmesg.push(rest);
      return;
    case "netdev": {
      const m = /^(\w+)=(\d+)$/.exec(rest.trim());
      if (m) s.netdev.set(m[1]!, Number(m[2]));
      return;
    }
  }
}

/** Counters are unsigned 32-bit in the kernel: a delta survives one wrap. */
function delta(after: number, before: number): number {
  return (after - before + 2 ** 32) % 2 ** 32;
}

/** The fixture's data for one phase; throws naming what the console lacks. */
export function phaseData(p: ConsolePhase, desc: string): PhaseData {
  const { before, after, tx } = p;
  if (!before || !after || !tx) throw new Error(`phase ${p.name}: the console has no ${!before ? "'before' snapshot" : !after ? "'after' snapshot" : "sender result"} (did the guest stop early?)`);
  const netrxB = before.softirqs.get("NET_RX"), netrxA = after.softirqs.get("NET_RX");
  const calB = before.interrupts.get("CAL"), calA = after.interrupts.get("CAL");
  if (!netrxA || !netrxB) throw new Error(`phase ${p.name}: no NET_RX row in /proc/softirqs`);
  if (!calA || !calB) throw new Error(`phase ${p.name}: no CAL row in /proc/interrupts`);
  const cpusOf = (s: Snapshot) => [...s.softnet.keys()].sort((x, y) => x - y).join(",");
  // No CPU goes on or off line in a loopback phase: a row missing on one side is a line lost.
  if (cpusOf(before) !== cpusOf(after)) throw new Error(`phase ${p.name}: softnet_stat has CPUs ${cpusOf(before)} before and ${cpusOf(after)} after (a line lost?)`);
  const cpus: Record<string, CpuRow> = {};
  for (const [cpu, a] of [...after.softnet].sort((x, y) => x[0] - y[0])) {
    const b = before.softnet.get(cpu);
    if (!b) throw new Error(`phase ${p.name}: CPU ${cpu} is in the 'after' softnet_stat only`);
    const d = (col: number) => delta(a[col]!, b[col]!);
    cpus[String(cpu)] = {
      proc: d(SOFTNET.processed),
      drop: d(SOFTNET.dropped),
      sq: d(SOFTNET.timeSqueeze),
      rrps: d(SOFTNET.receivedRps),
      fl: d(SOFTNET.flowLimitCount),
      bl: a[SOFTNET.backlogLen]!,
      netrx: delta(netrxA.get(cpu) ?? 0, netrxB.get(cpu) ?? 0),
      cal: delta(calA.get(cpu) ?? 0, calB.get(cpu) ?? 0),
    };
  }
  const rate = tx.elapsedNs > 0 ? Math.round((tx.sent * 1e9) / tx.elapsedNs) : 0;
  return { desc, cpus, sent: tx.sent, rate };
}

/** One CPU's time over a phase, in ms (/proc/stat's ticks, tick-sampled), and ksoftirqd's (schedstat, exact). */
export interface CpuTime {
  readonly user: number;
  readonly system: number;
  readonly irq: number;
  readonly softirq: number;
  readonly idle: number;
  readonly ksoftirqd?: number;
}

/** /proc/stat's columns (after "cpuN") that CpuTime keeps; USER_HZ is 100 on every Linux architecture we boot. */
const STAT = { user: 0, nice: 1, system: 2, idle: 3, iowait: 4, irq: 5, softirq: 6 } as const;
const MS_PER_TICK = 10;

function cpuTimes(before: Snapshot | undefined, after: Snapshot | undefined): Map<number, CpuTime> {
  const out = new Map<number, CpuTime>();
  if (!before || !after) return out;
  for (const [cpu, a] of after.stat) {
    const b = before.stat.get(cpu);
    if (!b) continue;
    const ms = (...cols: number[]) => cols.reduce((sum, i) => sum + (a[i]! - b[i]!), 0) * MS_PER_TICK;
    const ka = after.ksoftirqdNs.get(cpu), kb = before.ksoftirqdNs.get(cpu);
    out.set(cpu, {
      user: ms(STAT.user, STAT.nice),
      system: ms(STAT.system),
      irq: ms(STAT.irq),
      softirq: ms(STAT.softirq),
      idle: ms(STAT.idle, STAT.iowait),
      ...(ka !== undefined && kb !== undefined ? { ksoftirqd: Math.round((ka - kb) / 1e6) } : {}),
    });
  }
  return out;
}

/**
 * What the fixture does not keep but a reader of one boot wants: the receiver's side, warnings, and
 * where each CPU's time went (from "before" to "after", so the drain's idle time is in `idle`).
 */
export function phaseExtras(p: ConsolePhase): { received?: number; sendErrors?: number; rcvbufErrors?: number; dmesgWarnings: number; cpuTime: Map<number, CpuTime> } {
  const udp = (s: Snapshot | undefined) => s?.snmp.get("Udp")?.get("RcvbufErrors");
  const a = udp(p.after), b = udp(p.before);
  const dmesgWarnings = [...(p.before?.dmesg ?? []), ...(p.after?.dmesg ?? [])].filter((l) => /WARNING|BUG|Oops/.test(l)).length;
  return {
    received: p.rx?.received,
    sendErrors: p.tx?.errors,
    rcvbufErrors: a !== undefined && b !== undefined ? a - b : undefined,
    dmesgWarnings,
    cpuTime: cpuTimes(p.before, p.after),
  };
}

/** The `--times-out` record of a phase whose fixture data is `d`; undefined when the guest printed no CPU times. */
export function phaseTimes(p: ConsolePhase, d: PhaseData): PhaseTimes | undefined {
  const times = phaseExtras(p).cpuTime;
  if (times.size === 0 || !p.tx) return undefined;
  const tx = p.tx;
  return {
    sent: d.sent,
    rate: d.rate,
    sender: { elapsed_ns: tx.elapsedNs, ...(tx.runNs !== undefined ? { run_ns: tx.runNs, wait_ns: tx.waitNs } : {}) },
    ...(p.hostCpu ? { host: { wall_ms: p.hostCpu.wallMs, vcpu_ms: p.hostCpu.vcpuMs, other_ms: p.hostCpu.otherMs } } : {}),
    processed: Object.fromEntries(Object.entries(d.cpus).map(([c, r]) => [c, r.proc])),
    cpus: Object.fromEntries(
      [...times].map(([c, t]) => [
        String(c),
        { user_ms: t.user, system_ms: t.system, irq_ms: t.irq, softirq_ms: t.softirq, idle_ms: t.idle, ...(t.ksoftirqd !== undefined ? { ksoftirqd_ms: t.ksoftirqd } : {}) },
      ]),
    ),
  };
}

/**
 * The hotplug phases of one boot in the text format of the reference's hotplug-loopback.txt
 * ("#### KERNEL.log", " ## hN rps_cpus=.. offline_cpu=N netdev_max_backlog=N", a line per step with
 * cumulative processed/dropped/time_squeeze/received_rps/flow_limit_count/backlog_len per online CPU,
 * then TX and RX). Throws naming what the console lacks.
 */
export function hotplugText(kernelKey: string, phases: readonly HotplugPhase[], rec: ConsoleRecord): string {
  const out = [`#### ${kernelKey}.log`];
  for (const h of phases) {
    const p = rec.phases.get(h.name);
    if (!p?.steps || !p.tx || !p.rx) throw new Error(`hotplug ${h.name}: the console has no ${!p?.steps ? "steps" : !p.tx ? "sender result" : "receiver result"}`);
    out.push(` ## ${h.name} rps_cpus=${h.rpsCpus} offline_cpu=${h.offlineCpu} netdev_max_backlog=${h.backlog}`);
    for (const name of HOTPLUG_STEPS) {
      const st = p.steps.get(name);
      if (!st || st.softnet.size === 0) throw new Error(`hotplug ${h.name}: no ${name} step`);
      const rows = [...st.softnet].sort((a, b) => a[0] - b[0]).map(([cpu, c]) => {
        const v = [SOFTNET.processed, SOFTNET.dropped, SOFTNET.timeSqueeze, SOFTNET.receivedRps, SOFTNET.flowLimitCount, SOFTNET.backlogLen].map((i) => c[i]!);
        return `${cpu}:${v.join("/")}`;
      });
      out.push(`  ${name.padEnd(15)} rel=${st.rel.toFixed(2)}  ${rows.join("  ")}`);
    }
    out.push(`  TX sent=${p.tx.sent} on_cpu_end=${p.tx.cpu ?? "?"}`);
    out.push(`  RX received=${p.rx.received} on_cpu_end=${p.rx.cpu ?? "?"}`);
  }
  return `${out.join("\n")}\n`;
}

/**
 * The NIC phases of one boot in the text format of the reference's nic-flood.txt, which validate
 * reads (validate/reference.ts parseNicFlood): "=== KERNEL: RELEASE ...", then per phase "## pN:"
 * with the settings the guest read back, the host sender's HOST line, the receiver's RX line, a row
 * per CPU — processed, dropped, time_squeeze, received_rps, flow_limit_count, backlog at the end,
 * NET_RX runs, the virtio input IRQ's interrupts, CAL and RES IPIs — their sum, and the device's and
 * UDP's deltas. Throws naming what the console lacks.
 */
export function nicText(kernelKey: string, release: string, bootArgs: readonly string[], phases: readonly NicPhase[], secs: number, rec: ConsoleRecord): string {
  const spec = phases.map((n) => `${n.rpsCpus}:${n.backlog}:${n.budget}`).join(",");
  const out = [`=== ${kernelKey}: ${release} extra='${bootArgs.join(" ")}' phases=${spec} secs=${secs} flows=${NIC_FLOWS}`];
  for (const n of phases) {
    const p = rec.phases.get(n.name);
    const missing = !p?.settings ? "settings line" : !p.before ? "'before' snapshot" : !p.after ? "'after' snapshot" : !p.host ? "host sender result" : !p.rx ? "receiver result" : undefined;
    if (missing || !p?.before || !p.after || !p.host || !p.rx || !p.settings) throw new Error(`nic ${n.name}: the console has no ${missing}`);
    const { before, after, host, rx } = p;
    const kv = pairs(p.settings);
    const irq = kv.get("irq");
    if (!irq) throw new Error(`nic ${n.name}: the guest found no virtio input IRQ`);
    const rows = (s: Snapshot, name: string, file: "softirqs" | "interrupts") => {
      const r = s[file].get(name);
      if (!r) throw new Error(`nic ${n.name}: no ${name} row in /proc/${file}`);
      return r;
    };
    const col = (name: string, file: "softirqs" | "interrupts", cpu: number) => delta(rows(after, name, file).get(cpu) ?? 0, rows(before, name, file).get(cpu) ?? 0);
    const dev = (k: string) => delta(after.netdev.get(k) ?? 0, before.netdev.get(k) ?? 0);
    const udp = (k: string) => (after.snmp.get("Udp")?.get(k) ?? 0) - (before.snmp.get("Udp")?.get(k) ?? 0);
    if (!after.netdev.has("rx_packets") || !before.netdev.has("rx_packets")) throw new Error(`nic ${n.name}: no rx_packets of the device`);
    const elapsed = host.elapsedNs / 1e9;
    out.push(`## ${n.textName}: ${["rps_cpus", "netdev_max_backlog", "netdev_budget", "irq", "affinity", "receiver_cpu", "dev"].map((k) => `${k}=${kv.get(k) ?? "?"}`).join(" ")}`);
    out.push(`   HOST sent=${host.sent} send_errors=${host.errors} elapsed=${elapsed.toFixed(3)}s rate=${Math.round(host.sent / elapsed)} pps flows=${NIC_FLOWS}`);
    out.push(`   RX cpu=1 received=${rx.received} on_cpu_end=${rx.cpu ?? "?"}`);
    out.push(`   cpu${["processed", "dropped", "time_squeeze", "received_rps", "flow_limit_c", "backlog_end"].map((h) => h.padStart(13)).join("")}${["NET_RX", "virtioIRQ", "CAL", "RES"].map((h) => h.padStart(10)).join("")}`);
    const sums = new Array<number>(10).fill(0);
    for (const [cpu, a] of [...after.softnet].sort((x, y) => x[0] - y[0])) {
      const b = before.softnet.get(cpu);
      if (!b) throw new Error(`nic ${n.name}: CPU ${cpu} is in the 'after' softnet_stat only`);
      const d = (c: number) => delta(a[c]!, b[c]!);
      const v = [d(SOFTNET.processed), d(SOFTNET.dropped), d(SOFTNET.timeSqueeze), d(SOFTNET.receivedRps), d(SOFTNET.flowLimitCount), a[SOFTNET.backlogLen]!, col("NET_RX", "softirqs", cpu), col(irq, "interrupts", cpu), col("CAL", "interrupts", cpu), col("RES", "interrupts", cpu)];
      v.forEach((x, i) => (sums[i]! += x));
      out.push(`${String(cpu).padStart(6)}${v.slice(0, 6).map((x) => String(x).padStart(13)).join("")}${v.slice(6).map((x) => String(x).padStart(10)).join("")}`);
    }
    out.push(`   sum${sums.slice(0, 5).map((x) => String(x).padStart(13)).join("")}${"".padStart(13)}${sums.slice(6).map((x) => String(x).padStart(10)).join("")}`);
    out.push(`   eth0 delta: ${["rx_packets", "rx_dropped", "rx_missed_errors", "rx_fifo_errors", "rx_errors", "rx_bytes"].map((k) => `${k}=${dev(k)}`).join(" ")}`);
    out.push(`   guest UDP delta: InDatagrams=${udp("InDatagrams")} RcvbufErrors=${udp("RcvbufErrors")}`);
    const warnings = after.dmesg.filter((l) => /WARNING/.test(l)).length;
    out.push(`   WARNING count in the phase: ${warnings}`);
  }
  return `${out.join("\n")}\n`;
}
