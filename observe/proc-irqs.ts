// /proc/softirqs, /proc/interrupts and /proc/stat of the emulated host, in the kernel's formats
// (fs/proc/softirqs.c, kernel/irq/proc.c with x86's arch_show_interrupts, fs/proc/stat.c), so that
// node_exporter's softirqs, interrupts and stat collectors read them as they read a real /proc.
// What the model does not emulate (timers, RCU, block I/O, NET_TX, every other interrupt) is 0.
//
// Which CPUs each file shows follows the kernel: /proc/softirqs has a column per possible CPU (all
// of them, offline or dead ones keep their counts); /proc/interrupts has a column per online CPU
// only, so a reader that labels columns by position (node_exporter does) shifts the labels after
// an offline CPU, as it does on a real host; /proc/stat sums over every CPU and has a `cpuN` line
// per online CPU.
import type { CpuCounters } from "../model/results.ts";

/** softirq_to_name[], in vector order (include/linux/interrupt.h). */
export const SOFTIRQ_NAMES = ["HI", "TIMER", "NET_TX", "NET_RX", "BLOCK", "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"] as const;

/**
 * The NIC RX queues' IRQ numbers: queue q is IRQ NIC_IRQ_BASE + q, its MSI-X vector q + 1 (vector 0
 * is the device's config interrupt), as a virtio or multi-queue NIC gets them on x86, where 0-23
 * are the IO-APIC's legacy lines.
 */
export const NIC_IRQ_BASE = 24;
/** The emulated NIC: its PCI address (the interrupt chip's name) and its name in the IRQ's action. */
const NIC_CHIP = "PCI-MSIX-0000:00:04.0";
export const nicIrqAction = (queue: number): string => `eth0-rx-${queue}`;

/** kernel/irq/proc.c: the IRQ number's width, 3 below 1000 IRQs. */
const PREC = 3;

/** NET_RX runs per CPU, as /proc/softirqs counts them; every other vector is 0 here. */
function softirqCount(c: CpuCounters, vector: (typeof SOFTIRQ_NAMES)[number]): number {
  return vector === "NET_RX" ? c.net_rx_softirqs : 0;
}

const u = (n: number): string => String(Math.max(0, Math.trunc(n)) >>> 0);

/** /proc/softirqs: show_softirqs(), a column per possible CPU (`rows` in CPU order). */
export function renderSoftirqs(rows: readonly CpuCounters[]): string {
  let out = " ".repeat(20);
  for (const c of rows) out += `CPU${String(c.cpu).padEnd(8)}`;
  out += "\n";
  for (const name of SOFTIRQ_NAMES) {
    out += `${name.padStart(12)}:`;
    for (const c of rows) out += ` ${u(softirqCount(c, name)).padStart(10)}`;
    out += "\n";
  }
  return out;
}

/** The NIC queues the rows know (the length of their nic_irqs). */
function queueCount(rows: readonly CpuCounters[]): number {
  return rows.reduce((n, c) => Math.max(n, c.nic_irqs?.length ?? 0), 0);
}

/** /proc/interrupts: show_interrupts() for each NIC queue's IRQ, then x86's rows; online CPUs only. */
export function renderInterrupts(rows: readonly CpuCounters[]): string {
  const online = rows.filter((c) => c.online);
  const cols = (value: (c: CpuCounters) => number): string => online.map((c) => `${u(value(c)).padStart(10)} `).join("");
  let out = " ".repeat(PREC + 8);
  for (const c of online) out += `CPU${String(c.cpu).padEnd(8)}`;
  out += "\n";
  for (let q = 0; q < queueCount(rows); q++) {
    // "%*d: ", "%10u " per CPU, "%8s" the chip, " %*lu" the hwirq, "-%-8s" the flow handler's name, "  %s" the action.
    out += `${String(NIC_IRQ_BASE + q).padStart(PREC)}: ${cols((c) => c.nic_irqs[q] ?? 0)}${NIC_CHIP.padStart(8)} ${String(q + 1).padStart(PREC)}-${"edge".padEnd(8)}  ${nicIrqAction(q)}\n`;
  }
  // arch_show_interrupts(): the rows a model of the receive path has something (or a plain 0) to say in.
  const arch: [string, string, (c: CpuCounters) => number][] = [
    ["NMI", "Non-maskable interrupts", () => 0],
    ["LOC", "Local timer interrupts", () => 0],
    ["RES", "Rescheduling interrupts", () => 0],
    ["CAL", "Function call interrupts", (c) => c.irq_call_count],
    ["TLB", "TLB shootdowns", () => 0],
  ];
  for (const [name, what, value] of arch) out += `${name.padStart(PREC)}: ${cols(value)}  ${what}\n`;
  out += `${"ERR".padStart(PREC)}: ${"0".padStart(10)}\n`;
  out += `${"MIS".padStart(PREC)}: ${"0".padStart(10)}\n`;
  return out;
}

/** USER_HZ: /proc/stat's times are in 1/100 s (of virtual time here). */
const USER_HZ = 100;
const ticks = (ns: number): number => Math.floor((ns * USER_HZ) / 1e9);

/**
 * A CPU's times as /proc/stat's columns (user nice system idle iowait irq softirq steal guest
 * guest_nice), from its busy time by context: hardirq → irq, softirq → softirq, its tasks (backlog
 * threads, ksoftirqd, senders in the kernel) and irqs-off sections → system, the rest of its virtual
 * time (idle flushes of IPIs included: the idle task runs them) → idle.
 */
function cpuTimes(c: CpuCounters): number[] {
  const b = c.busy_ns;
  const system = b.task + b.irqs_off;
  const busy = b.hardirq + b.softirq + system;
  return [0, 0, system, Math.max(0, c.now_ns - busy), 0, b.hardirq, b.softirq, 0, 0, 0];
}

/** /proc/stat: show_stat(); sums over every CPU, a cpuN line per online CPU. */
export function renderStat(rows: readonly CpuCounters[]): string {
  const line = (label: string, times: number[]): string => `${label} ${times.map((t) => String(ticks(t))).join(" ")}\n`;
  const sum = (f: (c: CpuCounters) => number): number => rows.reduce((a, c) => a + f(c), 0);
  // The sums are taken in ns and then turned into ticks, as the kernel does.
  const total = new Array<number>(10).fill(0);
  for (const c of rows) cpuTimes(c).forEach((t, i) => (total[i]! += t));
  let out = line("cpu ", total);
  for (const c of rows) if (c.online) out += line(`cpu${c.cpu}`, cpuTimes(c));
  const queues = queueCount(rows);
  const numbered = Array.from({ length: NIC_IRQ_BASE + queues }, (_, irq) => (irq >= NIC_IRQ_BASE ? sum((c) => c.nic_irqs[irq - NIC_IRQ_BASE] ?? 0) : 0));
  // The total counts the numbered IRQs and the architecture's (x86's arch_irq_stat_cpu: CAL here).
  const intr = numbered.reduce((a, b) => a + b, 0) + sum((c) => c.irq_call_count);
  out += `intr ${intr}${numbered.map((n) => ` ${n}`).join("")}\n`;
  out += "ctxt 0\nbtime 0\nprocesses 0\nprocs_running 0\nprocs_blocked 0\n";
  const perVector = SOFTIRQ_NAMES.map((name) => sum((c) => softirqCount(c, name)));
  out += `softirq ${perVector.reduce((a, b) => a + b, 0)}${perVector.map((n) => ` ${n}`).join("")}\n`;
  return out;
}
