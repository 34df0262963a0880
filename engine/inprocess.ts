// The in-process engine: every model CPU in one process, batches carried in memory, the same
// conservative synchronisation as the distributed engine (a CPU advances only up to the earliest
// time any peer could still affect it), so both engines compute the same thing.
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters, RunResults, TimeSeries } from "../model/results.ts";
import { aggregate, conservationViolation, totalsOf } from "./aggregate.ts";
import { newSeries, sampleSeries } from "./series.ts";

export interface RunOptions {
  /** Called at every checkpoint with the virtual time reached. */
  onProgress?: (virtualNs: number, totalNs: number) => void;
  /** Sample counters every this many virtual ns into results.series. */
  seriesIntervalNs?: number;
  /** Check conservation every this many virtual ns (default: 1/100 of the run, at least 100 µs). */
  checkIntervalNs?: number;
  /** Kernel-style log lines (the first do_softirq_post_smp_call_flush warning, …). */
  log?: (line: string) => void;
  /** Called at every checkpoint with every CPU's counters (checkers, stall detectors, abort conditions). */
  onCheckpoint?: (atNs: number, counters: readonly CpuCounters[]) => void;
  /** Extra commands (a nemesis schedule), applied like the scenario's events. */
  commands?: readonly CpuCommand[];
}

/** Advance every CPU to `horizonNs`, exchanging batches, never past a peer's promise. */
export function advanceAll(cpus: Cpu[], horizonNs: number): void {
  const n = cpus.length;
  for (;;) {
    let done = true;
    const promises = cpus.map((c) => c.promiseNs(c.clock));
    for (let i = 0; i < n; i++) {
      let safe = horizonNs;
      for (let j = 0; j < n; j++) if (j !== i && promises[j]! < safe) safe = promises[j]!;
      const cpu = cpus[i]!;
      if (safe > cpu.clock) cpu.advance(safe);
      for (const b of cpu.takeOutbox()) cpus[b.to]!.deliver(b);
      if (cpu.clock < horizonNs) done = false;
    }
    if (done) return;
  }
}

export function runInProcess(cfg: EmuConfig, opts: RunOptions = {}): RunResults {
  const cpus = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg));
  if (opts.log) for (const c of cpus) c.warnLog = opts.log;
  for (const cmd of opts.commands ?? []) for (const c of cpus) c.command(cmd);
  const end = cfg.duration_ns;
  const check = opts.checkIntervalNs ?? Math.max(100_000, Math.floor(end / 100));
  const seriesEvery = opts.seriesIntervalNs ?? 0;
  const series: TimeSeries | undefined = seriesEvery > 0 ? newSeries(cfg.cpus, seriesEvery) : undefined;
  const violations: string[] = [];
  let nextCheck = Math.min(check, end);
  let nextSample = seriesEvery > 0 ? Math.min(seriesEvery, end) : Infinity;
  for (;;) {
    const horizon = Math.min(nextCheck, nextSample, end);
    advanceAll(cpus, horizon);
    const counters = cpus.map((c) => c.counters(false));
    if (horizon === nextCheck || horizon === end) {
      const v = conservationViolation(totalsOf(counters, 0), horizon);
      if (v && violations.length < 20) violations.push(v);
      nextCheck = Math.min(nextCheck + check, end);
      opts.onCheckpoint?.(horizon, counters);
      opts.onProgress?.(horizon, end);
    }
    if (series && horizon === nextSample) {
      sampleSeries(series, horizon, counters);
      nextSample = nextSample + seriesEvery > end ? (nextSample < end ? end : Infinity) : nextSample + seriesEvery;
    }
    if (horizon >= end) break;
  }
  const results = aggregate(cfg, cpus.map((c) => c.counters()), { engine: "inprocess", lostOnCrash: 0, violations });
  if (series) results.series = series;
  return results;
}
