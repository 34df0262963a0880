// A CPU's life as the coordinator sees it: it says hello and is given an id (duplicates and
// latecomers refused), all are welcomed together, its messages feed its failure detector, and it
// dies — of silence when its process is not ours to watch, or when its parent saw it exit — after
// which its words no longer count and what it held is accounted for (coordinator/crash.ts).
import { performance } from "node:perf_hooks";
import { FailureDetector } from "../liveness/failure-detector.ts";
import type { Hello } from "../transport/codec.ts";
import type { RefusalCode } from "../transport/refusal.ts";
import { emptyCountersLike, knownLoss } from "./crash.ts";
import type { Member } from "./members.ts";
import type { Reporting } from "./reporting.ts";
import type { RunState } from "./run-state.ts";
import type { Clock } from "./time.ts";

/** How long a death known from the process's exit waits for the socket to give up what it sent. */
const DRAIN_MS = 100;

export class Lifecycle {
  constructor(
    private readonly run: RunState,
    private readonly clock: Clock,
    private readonly reporting: Reporting,
    /** Every CPU has registered and been welcomed. */
    private readonly onRunning: () => void,
  ) {}

  hello(routingId: Buffer, hello: Hello): void {
    const { members, cfg } = this.run;
    const n = cfg.cpus;
    const refuse = (code: RefusalCode, message: string): void => {
      this.run.log(`refused a cpu (pid ${hello.pid}): ${message}`);
      this.run.send(routingId, { kind: "error", code, message });
    };
    const known = members.idOf(routingId);
    if (known !== undefined) return this.run.malformed.count("coordinator", "unexpected", `cpu ${known}: second hello`);
    if (this.run.phase !== "registering") return refuse("full", `the run has started with ${n} cpus; no cpu can join`);
    let id = hello.requested_id;
    if (id >= n) return refuse("bad_id", `cpu id ${id} is out of range: this run has cpus 0-${n - 1}`);
    const other = id >= 0 ? members.get(id) : undefined;
    if (other) return refuse("duplicate_id", `cpu id ${id} is already taken (by pid ${other.hello.pid}, peer endpoint ${other.hello.endpoint})`);
    if (id < 0) {
      id = 0;
      while (members.has(id)) id++;
      if (id >= n) return refuse("full", `all ${n} cpu ids are taken`);
    }
    members.add(id, routingId, hello);
    this.run.log(`cpu ${id} registered (pid ${hello.pid}, ${hello.endpoint}); ${members.size}/${n}`);
    if (members.size === n) this.welcomeAll();
  }

  private welcomeAll(): void {
    const { members, cfg, opts } = this.run;
    const n = cfg.cpus;
    const endpoints = Array.from({ length: n }, (_, i) => members.get(i)!.hello.endpoint);
    this.run.phase = "running";
    const lease = this.clock.start(performance.now());
    for (const m of members.all()) {
      this.run.sendTo(m, {
        kind: "welcome",
        welcome: {
          cpu: m.cpu,
          endpoints,
          config: cfg,
          commands: opts.commands ?? [],
          lease_ns: lease,
          heartbeat_ms: opts.heartbeatMs,
          coordinator_timeout_ms: opts.coordinatorTimeoutMs,
          max_step_ns: opts.maxStepNs,
          progress_every_ns: Math.max(1, Math.floor(opts.leaseSpanNs / 4)),
          series_interval_ns: opts.seriesIntervalNs ?? 0,
          check_interval_ns: this.reporting.checkIntervalNs,
        },
      });
    }
    this.run.log(`all ${n} cpus registered; running ${cfg.duration_ns} ns of virtual time`);
    this.onRunning();
  }

  /** Registering took too long: the run fails, naming who is missing. */
  registerTimeout(): void {
    const { members, cfg, opts } = this.run;
    const missing = Array.from({ length: cfg.cpus }, (_, i) => i).filter((i) => !members.has(i));
    this.run.fail(`only ${members.size} of ${cfg.cpus} cpus registered within ${opts.registerTimeoutMs} ms; missing cpu ids: ${missing.join(", ")}`);
  }

  /**
   * A declared-dead member spoke: too late, its words no longer count. It may not have heard so
   * (it was cut off or frozen when we said it): say it again, once a second at most, so it leaves.
   */
  deadSpoke(m: Member): void {
    const now = performance.now();
    if (now - m.toldDeadMs < 1000) return;
    m.toldDeadMs = now;
    this.run.sendTo(m, { kind: "shutdown", reason: "declared dead earlier in this run" });
  }

  /** Heard from `m` at `nowMs`: its failure detector learns the gap. */
  heard(m: Member, nowMs: number): void {
    if (this.run.phase !== "running") return;
    if (!m.detector) m.detector = new FailureDetector(this.run.opts.cpuTimeoutMs, nowMs);
    else m.detector.heard(nowMs);
    if (m.suspected) {
      m.suspected = false;
      this.run.log(`cpu ${m.cpu} is heard again`);
    }
  }

  /** Suspect the CPUs whose silence is improbable; declare them dead unless their exits are watched. */
  judge(now: number, selfStallEndMs: number): void {
    for (const m of this.run.members.live()) {
      const d = m.detector;
      if (m.final || !d || m.suspected || !d.suspect(now, selfStallEndMs)) continue;
      const silence = Math.round(d.silenceMs(now, selfStallEndMs));
      const why = `silent for ${silence} ms (limit ${Math.round(d.limitMs())} ms from its gaps, floor ${d.floorMs} ms)`;
      if (!this.run.opts.exitsWatched) {
        this.declareDead(m, why);
        continue;
      }
      m.suspected = true;
      this.run.log(`cpu ${m.cpu} (pid ${m.hello.pid}) ${why}, but its process has not exited: slow, not dead; waiting for it`);
    }
  }

  /** The process of `cpu` is known to be gone (its parent saw it exit): don't wait for the timeout. */
  cpuGone(cpu: number, why: string): void {
    if (this.run.phase === "registering") return this.run.fail(`cpu ${cpu} ${why} before the run started`);
    // What it sent just before it died may still wait in our socket: let the receive loop take it
    // first (a report in there makes the crash account exact), then declare it.
    setTimeout(() => {
      const m = this.run.members.get(cpu);
      if (this.run.phase === "running" && m && !m.dead && !m.final) this.declareDead(m, why);
    }, DRAIN_MS);
  }

  private declareDead(m: Member, why: string): void {
    m.dead = true;
    this.reporting.died(m.cpu);
    const reportNs = m.report?.now_ns ?? 0;
    this.run.log(`cpu ${m.cpu} (pid ${m.hello.pid}) declared dead: ${why}; surprise removal, its last report was at ${reportNs} ns`);
    this.run.broadcast({ kind: "peer_dead", cpu: m.cpu, report_ns: reportNs, report_seq: m.report?.seq ?? 0 });
    // If it was only stopped (SIGSTOP) it reads this when it resumes, and leaves at once.
    this.run.sendTo(m, { kind: "shutdown", reason: `declared dead (${why})` });
    // Survivors answer with a report that carries their receipts; the end waits for final ones.
    this.reporting.maybeFinish();
  }

  /** lost_on_crash as soon as the survivors have answered for a dead CPU (/metrics, the status); the results have the last word. */
  knownLoss(): void {
    const members = this.run.members.all();
    if (!members.some((m) => m.dead)) return;
    const like = members.find((m) => m.counters)?.counters;
    // Never down: a counter that dips reads as a reset in Prometheus.
    this.run.lostOnCrash = Math.max(this.run.lostOnCrash, knownLoss(members, (cpu) => emptyCountersLike(cpu, like)));
  }
}
