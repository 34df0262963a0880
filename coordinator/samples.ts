// results.series for the distributed engine: every CPU reports its counters at exactly each sample
// time (and at the end); a sample enters the series, in time order, once every CPU has given it —
// a crashed CPU with its last counters. Same times and rows as engine/inprocess.ts samples.
import { newSeries, sampleSeries } from "../engine/series.ts";
import type { CpuCounters, TimeSeries } from "../model/results.ts";

export class SeriesCollector {
  readonly series: TimeSeries;
  /**
   * Per sample time, the CPUs that have reported it so far. Bounded by the schedule: a sample off
   * it is refused before it gets here (coordinator/seams.ts). The series itself grows by one row
   * per sample time of the run: it is the results' series.
   */
  private readonly pending = new Map<number, Map<number, CpuCounters>>();

  constructor(cpus: number, intervalNs: number) {
    this.series = newSeries(cpus, intervalNs);
  }

  /** `rowOf(cpu)` gives the counters of a CPU that will never report (dead), else undefined. */
  add(atNs: number, cpu: number, counters: CpuCounters, cpus: number, rowOf: (cpu: number) => CpuCounters | undefined): void {
    let byCpu = this.pending.get(atNs);
    if (!byCpu) this.pending.set(atNs, (byCpu = new Map()));
    byCpu.set(cpu, counters);
    // A CPU may be several samples ahead of another: complete ones go in in time order.
    for (const t of [...this.pending.keys()].sort((a, b) => a - b)) {
      const got = this.pending.get(t)!;
      const rows: CpuCounters[] = [];
      for (let c = 0; c < cpus; c++) {
        const row = got.get(c) ?? rowOf(c);
        if (!row) return;
        rows.push(row);
      }
      sampleSeries(this.series, t, rows);
      this.pending.delete(t);
    }
  }
}
