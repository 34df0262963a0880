// What the CPUs report and what the coordinator makes of it: each report (checked at the seam:
// coordinator/seams.ts) feeds the conservation checkpoints, the series samples and the lease; when
// every live CPU has reported its end, the results — the same RunResults as the in-process engine,
// with the dead CPUs accounted for (coordinator/crash.ts); before that, the status and the results
// at the latest consistent cut.
import { aggregate } from "../engine/aggregate.ts";
import { defaultCheckIntervalNs } from "../engine/checkpoints.ts";
import type { CpuCounters } from "../model/results.ts";
import type { Report } from "../transport/codec.ts";
import { CheckpointCollector } from "./checkpoints.ts";
import type { CommandLog } from "./commands.ts";
import { accountCrash, emptyCountersLike } from "./crash.ts";
import type { Member } from "./members.ts";
import type { CoordinatorStatus, ProcessesRunResults } from "./options.ts";
import type { RunState } from "./run-state.ts";
import { SeriesCollector } from "./samples.ts";
import { refusal } from "./seams.ts";
import type { Clock } from "./time.ts";

export class Reporting {
  private series: SeriesCollector | undefined;
  private readonly checkpoints: CheckpointCollector;
  /** The latest consistent cut: the results so far of a run that does not reach its end. */
  private lastCut: { atNs: number; counters: CpuCounters[] } | null = null;

  constructor(
    private readonly run: RunState,
    private readonly clock: Clock,
    private readonly commands: CommandLog,
  ) {
    const { opts, cfg } = run;
    this.checkpoints = new CheckpointCollector(cfg.cpus, opts.checkIntervalNs ?? defaultCheckIntervalNs(clock.endNs), (atNs, counters) => {
      this.lastCut = { atNs, counters };
      opts.onCheckpoint?.(atNs, counters);
    });
  }

  get checkIntervalNs(): number {
    return this.checkpoints.intervalNs;
  }

  report(m: Member, r: Report): void {
    const counters = r.counters;
    const progressOnly = counters === undefined;
    // A checkpoint-only report feeds the check, not the crash policy (see cpu-node/reporting.ts).
    const checkpointOnly = r.checkpoint && !r.sample && !r.final;
    const schedule = { endNs: this.clock.endNs, checkEveryNs: this.checkpoints.intervalNs, sampleEveryNs: this.run.opts.seriesIntervalNs ?? 0 };
    const refused = refusal(m, r, counters, !progressOnly && !checkpointOnly, schedule);
    if (refused) return this.run.malformed.count("coordinator", "unexpected", `cpu ${m.cpu}: report refused: ${refused}`);
    m.progressNs = r.now_ns;
    if (counters === undefined) return this.clock.extendLease();
    if (r.checkpoint) this.checkpoints.add(r.now_ns, m.cpu, counters);
    if (checkpointOnly) return this.clock.extendLease();
    m.counters = counters;
    m.report = r;
    this.run.malformed.setCpu(m.cpu, r.malformed);
    if (r.sample) this.addSample(r.now_ns, m.cpu, counters);
    if (r.final) m.final = true;
    for (const d of r.dead_receipts) m.acked.add(d.cpu);
    this.clock.extendLease();
    this.clock.progressed();
    // Also a non-final report of a finished CPU: it may carry the receipts the end waits for.
    if (m.final) this.maybeFinish();
  }

  private addSample(atNs: number, cpu: number, counters: CpuCounters): void {
    const { cfg, opts, members } = this.run;
    this.series ??= new SeriesCollector(cfg.cpus, opts.seriesIntervalNs ?? 0);
    this.series.add(atNs, cpu, counters, cfg.cpus, (c) => {
      const m = members.get(c);
      return m?.dead ? m.counters : undefined;
    });
  }

  /** `cpu` was declared dead: the checkpoints it did not report can never be checked. */
  died(cpu: number): void {
    this.checkpoints.died(cpu);
  }

  /** The run ends when every live CPU has reported its end and answered for every dead one. */
  maybeFinish(): void {
    if (this.run.phase !== "running") return;
    const live = this.run.members.live();
    if (live.length === 0) return this.run.fail("every cpu process died");
    const deadIds = this.run.members.deadIds();
    if (!live.every((m) => m.final && m.report!.now_ns === this.clock.endNs && deadIds.every((d) => m.acked.has(d)))) return;
    this.run.phase = "finishing";
    try {
      const results = this.results();
      this.run.finish(results);
      this.snapshot();
    } catch (e) {
      this.run.fail(`aggregating the results failed: ${(e as Error).message}`);
    }
  }

  private results(): ProcessesRunResults {
    const { cfg, members } = this.run;
    const endNs = this.clock.endNs;
    const rows: CpuCounters[] = [];
    const violations: string[] = [];
    let lost = 0;
    const all = members.all();
    const like = all.find((m) => m.counters)?.counters;
    for (let i = 0; i < cfg.cpus; i++) {
      const m = members.get(i)!;
      if (!m.dead) {
        rows.push(m.counters!);
        continue;
      }
      const a = accountCrash(m, all, (cpu) => emptyCountersLike(cpu, like));
      rows.push(a.row);
      lost += a.lost;
      for (const why of a.inexact) violations.push(`crash accounting is not exact: ${why}`);
    }
    this.run.lostOnCrash = lost;
    const deadCpus = members.sorted().filter((m) => m.dead).map((m) => m.cpu);
    // Checkpoint violations first, in time order, as the in-process engine lists them.
    const unchecked = this.checkpoints.unchecked(endNs);
    const results: ProcessesRunResults = aggregate({ ...cfg, duration_ns: endNs, events: this.commands.recordedEvents() }, rows, {
      engine: "processes",
      lostOnCrash: lost,
      violations: [...this.checkpoints.violations, ...violations],
      checkpoints: this.checkpoints.checked,
      ...(unchecked ? { unchecked } : {}),
    });
    if (deadCpus.length > 0) results.degraded = { dead_cpus: deadCpus, lost_on_crash: lost };
    if (this.series) results.series = this.series.series;
    return results;
  }

  /**
   * The results at the latest checkpoint every CPU reported (a consistent cut), for a run stopped
   * before its end (a signal, a failure); undefined before the first one.
   */
  resultsSoFar(): ProcessesRunResults | undefined {
    const cut = this.lastCut;
    if (!cut) return undefined;
    const events = this.commands.recordedEvents().filter((e) => e.at_ns <= cut.atNs);
    const results: ProcessesRunResults = aggregate({ ...this.run.cfg, duration_ns: cut.atNs, events }, cut.counters, {
      engine: "processes",
      lostOnCrash: 0,
      violations: [...this.checkpoints.violations],
      checkpoints: this.checkpoints.checked,
    });
    if (this.series) {
      const s = this.series.series;
      const keep = s.t_ns.filter((t) => t <= cut.atNs).length;
      results.series = { ...s, t_ns: s.t_ns.slice(0, keep), cpus: s.cpus.map((c) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, Array.isArray(v) ? v.slice(0, keep) : v])) as typeof c) };
    }
    return results;
  }

  status(): CoordinatorStatus {
    const { members } = this.run;
    const { min, max } = members.progressNs();
    const lag = this.clock.lagNs(min);
    return {
      phase: this.run.phase,
      cpus: this.run.cfg.cpus,
      registered: members.sorted().map((m) => m.cpu),
      dead: members.deadIds(),
      virtual_ns_min: min,
      virtual_ns_max: max,
      virtual_ns_by_cpu: Object.fromEntries(members.sorted().map((m) => [m.cpu, m.progressNs])),
      lease_ns: this.clock.leaseNs,
      end_ns: this.clock.endNs,
      ...(lag !== undefined ? { lag_ns: lag } : {}),
      malformed_messages: this.run.malformed.view(),
      lost_on_crash: this.run.lostOnCrash,
      checkpoints: this.checkpoints.checked,
      checker_ok: this.checkpoints.violations.length === 0,
      commands: this.commands.view(),
    };
  }

  /** Latest report of every CPU (transport statistics, peak RSS), by CPU id. */
  reports(): { cpu: number; report: Report }[] {
    return this.run.members.sorted().flatMap((m) => (m.report ? [{ cpu: m.cpu, report: m.report }] : []));
  }

  /** Latest counters of every CPU that has reported (dead ones at their last report), by CPU id. */
  counters(): CpuCounters[] {
    return this.run.members.sorted().flatMap((m) => (m.counters ? [m.counters] : []));
  }

  /** The counters and the status to onSnapshot (for /metrics), once some CPU has reported. */
  snapshot(): void {
    if (!this.run.opts.onSnapshot) return;
    const counters = this.counters();
    if (counters.length > 0) this.run.opts.onSnapshot(counters, this.status());
  }
}
