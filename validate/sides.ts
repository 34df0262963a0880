// Both sides of a comparison in one shape (validate/relations.ts): the reference's phases, and the
// model's runs of the same phases. Pure.
import type { RunResults, TimeSeries } from "../model/results.ts";
import type { HotplugPhase, HotplugRow, LoopbackPhase, NicPhase, Reference } from "./reference.ts";
import type { CpuDelta, HotplugData, PhaseData, Side } from "./relations.ts";

const total = (cpus: readonly { proc: number; drop: number; bl: number }[]) => cpus.reduce((s, c) => s + c.proc + c.drop + c.bl, 0);
const delta = (c: { proc: number; drop: number; sq: number; rrps: number; fl: number; netrx: number }): CpuDelta => ({
  proc: c.proc,
  drop: c.drop,
  sq: c.sq,
  rrps: c.rrps,
  fl: c.fl,
  netrx: c.netrx,
});

export function kernelLoopbackPhase(p: LoopbackPhase): PhaseData {
  return { sent: p.sent, rate: p.rate, unaccounted: p.sent - total(p.cpus), cpus: p.cpus.map(delta) };
}

export function kernelNicPhase(p: NicPhase): PhaseData {
  return { sent: p.rxPackets, rate: p.rxPackets / p.seconds, unaccounted: p.rxPackets - total(p.cpus), cpus: p.cpus.map(delta) };
}

const ZERO: HotplugRow = { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, bl: 0 };

/** Counters between two snapshots; a CPU absent from either counts nothing in between. */
function windowOf(from: readonly (HotplugRow | null)[], to: readonly (HotplugRow | null)[]): CpuDelta[] {
  return from.map((a, i) => {
    const b = to[i];
    if (!a || !b) return { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, netrx: 0 };
    return { proc: b.proc - a.proc, drop: b.drop - a.drop, sq: b.sq - a.sq, rrps: b.rrps - a.rrps, fl: b.fl - a.fl, netrx: 0 };
  });
}

export function kernelHotplugPhase(h: HotplugPhase): HotplugData {
  const s = h.steps;
  const cpu = h.offlineCpu;
  const absent = [s.imm_after_off, s.off_mid, s.imm_before_on].every((st) => st.rows[cpu] === null);
  const present = [s.t0_before_start, s.imm_before_off, s.imm_after_on, s.final].every((st) => st.rows[cpu] !== null);
  const beforeOff = s.imm_before_off.rows[cpu];
  const afterOn = s.imm_after_on.rows[cpu];
  const end = s.final.rows[cpu];
  const kept = !!beforeOff && !!afterOn && !!end && afterOn.proc >= beforeOff.proc && end.proc > afterOn.proc;
  const first = s.t0_before_start.rows;
  const moved = s.final.rows.reduce((sum, r, i) => {
    const a = first[i] ?? ZERO;
    return r ? sum + (r.proc - a.proc) + (r.drop - a.drop) + r.bl : sum;
  }, 0);
  return {
    offlineCpu: cpu,
    before: windowOf(s.t0_before_start.rows, s.imm_before_off.rows),
    during: windowOf(s.imm_after_off.rows, s.imm_before_on.rows),
    after: windowOf(s.imm_after_on.rows, s.final.rows),
    rowAbsentWhileOffline: absent && present,
    countersKept: kept,
    unaccounted: h.sent - moved,
  };
}

/**
 * The reference, kernel by kernel (a kernel missing from a file has no phases of that kind); with
 * `only`, just those kernels and kinds — and a kernel with no phase of them is left out, so a
 * relation over a kernel's boots does not wait for a model side no run gives it (a later NIC boot
 * under `--only loopback`).
 */
export function kernelSides(ref: Reference, only: { kernels?: readonly string[]; kinds?: readonly (keyof Side)[] } = {}): Record<string, Side> {
  const names = new Set([...Object.keys(ref.loopback), ...Object.keys(ref.nic), ...Object.keys(ref.hotplug)]);
  const out: Record<string, Side> = {};
  const wanted = (kind: keyof Side) => !only.kinds || only.kinds.includes(kind);
  for (const k of names) {
    if (only.kernels && !only.kernels.includes(k)) continue;
    const map = <P, D>(kind: keyof Side, phases: Record<string, P> | undefined, f: (p: P) => D) =>
      Object.fromEntries(wanted(kind) ? Object.entries(phases ?? {}).map(([name, p]) => [name, f(p)]) : []);
    const side: Side = {
      loopback: map("loopback", ref.loopback[k], kernelLoopbackPhase),
      nic: map("nic", ref.nic[k], kernelNicPhase),
      hotplug: map("hotplug", ref.hotplug[k], kernelHotplugPhase),
    };
    if (Object.values(side).some((phases) => Object.keys(phases).length > 0)) out[k] = side;
  }
  return out;
}

// ---- the model's side ----

function unaccountedOf(r: RunResults): number {
  const t = r.totals;
  const gap = t.injected - t.processed - t.dropped - t.queued - t.in_flight - t.lost_on_crash;
  // A checker violation is a broken book even when the totals happen to add up.
  return r.checker.ok ? gap : Math.max(1, Math.abs(gap));
}

export function modelPhase(r: RunResults): PhaseData {
  return {
    sent: r.totals.injected,
    rate: r.virtual_ns > 0 ? r.totals.injected / (r.virtual_ns / 1e9) : 0,
    unaccounted: unaccountedOf(r),
    cpus: r.cpus.map((c) => ({ proc: c.processed, drop: c.dropped, sq: c.time_squeeze, rrps: c.received_rps, fl: c.flow_limit_count, netrx: c.net_rx_softirqs })),
  };
}

/** Index of the last sample at or before `t` (−1: none). */
function sampleAt(s: TimeSeries, t: number): number {
  let idx = -1;
  for (let i = 0; i < s.t_ns.length && s.t_ns[i]! <= t; i++) idx = i;
  return idx;
}

/**
 * A hotplug run cut at its offline and online events, `marginNs` away from each (the hand-over
 * takes a while, as the kernel's snapshots straddle it). Needs results.series.
 */
export function modelHotplugPhase(r: RunResults, marginNs: number): HotplugData | undefined {
  const s = r.series;
  const off = r.events.find((e) => e.action === "offline");
  const on = r.events.find((e) => e.action === "online" && e.cpu === off?.cpu && e.at_ns > off.at_ns);
  if (!s || !off || !on) return undefined;
  const cpu = off.cpu;
  const row = (i: number): CpuDelta[] =>
    s.cpus.map((c) =>
      i < 0
        ? { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, netrx: 0 }
        : { proc: c.processed[i]!, drop: c.dropped[i]!, sq: c.time_squeeze[i]!, rrps: c.received_rps[i]!, fl: 0, netrx: 0 },
    );
  const between = (a: number, b: number): CpuDelta[] => {
    const ra = row(a);
    const rb = row(b);
    return rb.map((x, i) => ({
      proc: x.proc - ra[i]!.proc,
      drop: x.drop - ra[i]!.drop,
      sq: x.sq - ra[i]!.sq,
      rrps: x.rrps - ra[i]!.rrps,
      fl: 0,
      netrx: 0,
    }));
  };
  const online = s.cpus[cpu]!.online;
  // The kernel's script snapshots after the write to .../online returned, i.e. once the CPU is
  // down (or up); a stalled vCPU delays that. Cut the model's windows from where the change took
  // effect (the first sample showing it), not from the request.
  const doneAt = (from: number, state: number) => s.t_ns.find((t, i) => t >= from && online[i] === state) ?? from;
  const offDone = doneAt(off.at_ns, 0);
  const onDone = doneAt(on.at_ns, 1);
  const iBeforeOff = sampleAt(s, off.at_ns - marginNs);
  const iAfterOff = sampleAt(s, offDone + marginNs);
  const iBeforeOn = sampleAt(s, on.at_ns - marginNs);
  const iAfterOn = sampleAt(s, onDone + marginNs);
  const last = s.t_ns.length - 1;
  const absent = s.t_ns.every((t, i) => (t >= offDone + marginNs && t <= on.at_ns - marginNs ? online[i] === 0 : t < off.at_ns || t >= onDone + marginNs ? online[i] === 1 : true));
  const proc = s.cpus[cpu]!.processed;
  const kept = iBeforeOff >= 0 && iAfterOn >= 0 && proc[iAfterOn]! >= proc[iBeforeOff]! && proc[last]! > proc[iAfterOn]!;
  return {
    offlineCpu: cpu,
    before: between(-1, iBeforeOff),
    during: between(iAfterOff, iBeforeOn),
    after: between(iAfterOn, last),
    rowAbsentWhileOffline: absent,
    countersKept: kept,
    unaccounted: unaccountedOf(r),
  };
}
