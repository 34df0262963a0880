// The host's view of a phase: how much host CPU each of QEMU's vCPU threads used while the guest's
// sender ran. A TCG guest has no steal time, so its own /proc/stat charges a vCPU the host has
// preempted with whatever it was running; the host's per-thread counters say what each vCPU cost.
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: /proc's utime and stime unit, 100 on every Linux the script runs on. */
const TICKS_PER_SEC = 100;

/** One sample of QEMU's threads: thread name → CPU ms used so far, and when it was taken. */
export interface ThreadSample {
  readonly atMs: number;
  readonly cpuMs: ReadonlyMap<string, number>;
}

/** utime + stime of a /proc/PID/task/TID/stat line, in ms (the fields after the comm's ')'). */
export function taskCpuMs(stat: string): number {
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(f[11]) + Number(f[12]);
  if (!Number.isFinite(ticks)) throw new Error(`not a /proc task stat line: '${stat.slice(0, 80)}'`);
  return (ticks * 1000) / TICKS_PER_SEC;
}

/** Every thread of process `pid` (gone threads are skipped); names repeat, so the TID is kept too. */
export function sampleThreads(pid: number, atMs: number): ThreadSample {
  const cpuMs = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      cpuMs.set(`${comm}#${tid}`, taskCpuMs(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return { atMs, cpuMs };
}

/**
 * The console line for one phase, from two samples: wall time, host CPU ms of each vCPU thread
 * (QEMU names them "CPU N/TCG" with -name debug-threads=on), and of QEMU's other threads together.
 */
export function hostCpuLine(before: ThreadSample, after: ThreadSample, cpus: number): string {
  const vcpu = new Array<number>(cpus).fill(0);
  let other = 0;
  for (const [name, ms] of after.cpuMs) {
    const used = ms - (before.cpuMs.get(name) ?? 0);
    const m = /^CPU (\d+)\/TCG#/.exec(name);
    if (m && Number(m[1]) < cpus) vcpu[Number(m[1])]! += used;
    else other += used;
  }
  return `wall_ms=${Math.round(after.atMs - before.atMs)} vcpu_ms=${vcpu.map(Math.round).join(",")} other_ms=${Math.round(other)}`;
}

/** The host's view of one phase as parse.ts reads it back from the console. */
export interface HostCpu {
  wallMs: number;
  vcpuMs: number[];
  otherMs: number;
}

/**
 * Every loopback phase keeps two vCPUs busy at least (the sender's and the receiver's): on a
 * quiet 2-core host the vCPU threads used 1.70–1.94 cores in every phase of nine boots of ten, and
 * 0.86 and 1.14 on the tenth, whose rates were off (docs/CALIBRATION.md "One remote target"). Less than
 * this share of min(host cores, 2) means the host was busy elsewhere, and the phase's rates say
 * more about that than about the guest.
 */
const STARVED_SHARE = 0.6;

/** The summary lines of a phase's host view: per vCPU thread, and a warning if the host starved the guest. */
export function hostSummary(phase: string, h: HostCpu, hostCores: number): string[] {
  const cores = h.wallMs > 0 ? h.vcpuMs.reduce((a, b) => a + b, 0) / h.wallMs : 0;
  const lines = [
    `  ${phase} host (ms of host CPU): ${h.vcpuMs.map((ms, c) => `cpu${c}=${ms}`).join(" ")} qemu-other=${h.otherMs} of ${h.wallMs} wall: ${cores.toFixed(2)} cores`,
  ];
  const floor = STARVED_SHARE * Math.min(hostCores, 2);
  if (cores < floor)
    lines.push(`  warning: ${phase}: the guest's vCPU threads got ${cores.toFixed(2)} host cores (under ${floor.toFixed(1)}): the host was busy elsewhere, this phase's rates are not comparable`);
  return lines;
}
