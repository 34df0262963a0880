// What a CPU's report must keep to be taken, checked where it enters the coordinator: the CPU's
// virtual time never goes back, a full report's seq increases (the crash accounting names reports
// by it: coordinator/crash.ts), its counters are the CPU's own and never negative, and a checkpoint
// or a sample lies on the run's schedule (engine/schedule.ts: every interval and the end), which
// also bounds what the collectors keep per time (coordinator/checkpoints.ts, samples.ts). A report
// that breaks one comes from a buggy or forged process: it is refused (counted and logged as an
// unexpected message), never a reason for the coordinator to crash. Cheap enough to stay on: a few
// µs per report, and with 10 000 flush ids in the counters 15-40 µs against 300-700 µs to parse
// them from JSON (measured on a loaded 2-core machine); the coordinator is not in the data path.
import type { CpuCounters } from "../model/results.ts";
import type { Report } from "../transport/codec.ts";
import type { Member } from "./members.ts";
import { onSchedule } from "../engine/schedule.ts";

/** The run's schedule as the coordinator knows it now (an interval of 0: that kind is off). */
export interface ScheduleNow {
  endNs: number;
  checkEveryNs: number;
  sampleEveryNs: number;
}

/** Why `m`'s report `r` (with its counters, if it carries any) is refused; undefined: it is sound. */
export function refusal(m: Member, r: Report, counters: CpuCounters | undefined, full: boolean, schedule: ScheduleNow): string | undefined {
  if (!(r.now_ns >= m.progressNs)) return `virtual time went back (${r.now_ns} ns after ${m.progressNs} ns)`;
  const lastSeq = m.report?.seq ?? 0;
  if (full && !(r.seq > lastSeq)) return `report seq ${r.seq} does not increase (the last was ${lastSeq})`;
  for (const [name, list] of [["tx_packets", r.tx_packets], ["rx_packets", r.rx_packets]] as const) {
    const bad = negativeAt(list);
    if (bad !== undefined) return `${name}${bad} is negative or not a number`;
  }
  if (counters === undefined) return undefined;
  if (r.checkpoint && !onSchedule(r.now_ns, schedule.checkEveryNs, schedule.endNs)) return `a checkpoint at ${r.now_ns} ns is off the schedule (every ${schedule.checkEveryNs} ns to ${schedule.endNs} ns)`;
  if (r.sample && !onSchedule(r.now_ns, schedule.sampleEveryNs, schedule.endNs)) return `a sample at ${r.now_ns} ns is off the schedule (every ${schedule.sampleEveryNs} ns to ${schedule.endNs} ns)`;
  if (typeof counters !== "object" || counters === null || Array.isArray(counters)) return "its counters are not an object";
  if (counters.cpu !== m.cpu) return `its counters are cpu ${counters.cpu}'s`;
  const bad = negativeAt(counters);
  return bad === undefined ? undefined : `counters${bad} is negative or not a number`;
}

/** Where under `v` the first number that is negative or NaN is ("" for `v` itself; undefined: none). */
function negativeAt(v: unknown): string | undefined {
  if (typeof v === "number") return v >= 0 ? undefined : "";
  if (typeof v !== "object" || v === null) return undefined;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === "number" && x >= 0) continue; // the common case, without a call
      const bad = negativeAt(x);
      if (bad !== undefined) return `[${i}]${bad}`;
    }
    return undefined;
  }
  for (const k in v) {
    const bad = negativeAt((v as Record<string, unknown>)[k]);
    if (bad !== undefined) return `.${k}${bad}`;
  }
  return undefined;
}
