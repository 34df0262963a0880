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
