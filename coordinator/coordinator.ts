// The coordinator of a distributed run: membership (Hello/Welcome, duplicate ids refused), the
// clock (leases, optionally paced to the wall clock), runtime commands, crash detection and the
// crash policy, and the final aggregation into the same RunResults as the in-process engine.
// It is not in the data path: CPUs exchange batches directly (proto/PROTOCOL.md).
import { performance } from "node:perf_hooks";
import * as zmq from "zeromq";
import { aggregate } from "../engine/aggregate.ts";
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters, RunResults } from "../model/results.ts";
import {
  COORDINATOR_ID,
  MALFORMED_KINDS,
  MalformedMessage,
  commandToWire,
  decode,
  encode,
  type Body,
  type Hello,
  type MalformedKind,
  type Report,
} from "../transport/codec.ts";
import type { WireKey } from "../transport/auth.ts";
import { logClosedConnections } from "../transport/closed-connections.ts";
import { Link } from "../transport/link.ts";
import { defaultCheckIntervalNs } from "../engine/checkpoints.ts";
import { CheckpointCollector } from "./checkpoints.ts";
import { accountCrash, knownLoss } from "./crash.ts";
import { SeriesCollector } from "./samples.ts";
import { FailureDetector } from "../liveness/failure-detector.ts";
import { SelfStall } from "../liveness/self-stall.ts";
import { PacedClock } from "../engine/paced-clock.ts";

export interface CoordinatorOptions {
  cfg: EmuConfig;
  /** ROUTER endpoint, e.g. tcp://127.0.0.1:* or tcp://0.0.0.0:5555. */
  bind: string;
  /** CPUs report (and the coordinator beats) this often. */
  heartbeatMs: number;
  /**
   * The floor of the failure detector: a CPU is suspected only after this much silence, and
   * later when its gaps so far make the silence probable (liveness/failure-detector.ts).
   */
  cpuTimeoutMs: number;
  /**
   * The CPUs are our children and their exits are watched (cpuGone): silence is then never death,
   * since a frozen or starved process is slow, not dead. Otherwise (CPUs started by hand, in
   * containers, on other hosts) a suspected CPU is declared dead.
   */
  exitsWatched?: boolean;
  /** CPUs exit when the coordinator is silent this long. */
  coordinatorTimeoutMs: number;
  /** How long to wait for all CPUs to register. */
  registerTimeoutMs: number;
  /** Fail the run when no CPU's clock moves for this long (a bug, never a slow machine). */
  stallTimeoutMs?: number;
  /** Virtual time the fastest CPU may run ahead before a new lease (bounds command latency). */
  leaseSpanNs: number;
  /** Longest virtual stretch of one advance() call in a CPU. */
  maxStepNs: number;
  /** Virtual seconds per wall second (undefined: as fast as possible). */
  pace?: number;
  /** Sample counters every this many virtual ns into results.series (0/undefined: off). */
  seriesIntervalNs?: number;
  /** Check conservation every this many virtual ns (default: engine/checkpoints.ts, as in-process). */
  checkIntervalNs?: number;
  /** Commands known before the start (a nemesis schedule), applied like the scenario's events. */
  commands?: readonly CpuCommand[];
  /** The run's secret and frame limit (transport/auth.ts): seals what we send, checks what we receive. */
  secret: WireKey;
  log: (line: string) => void;
  onProgress?: (virtualNs: number, totalNs: number) => void;
  /** Called with every new snapshot of counters (for /metrics). */
  onSnapshot?: (counters: CpuCounters[], status: CoordinatorStatus) => void;
  /** Called at every checkpoint every CPU has reported (a consistent cut, in time order), as in-process. */
  onCheckpoint?: (atNs: number, counters: readonly CpuCounters[]) => void;
}

export interface CoordinatorStatus {
  phase: "registering" | "running" | "finishing" | "done" | "failed";
  cpus: number;
  registered: number[];
  dead: number[];
  /** Slowest and fastest CPU's virtual time. */
  virtual_ns_min: number;
  virtual_ns_max: number;
  /** Each registered CPU's latest virtual time (a dead one's at its last report): the CPU health checks' "advancing". */
  virtual_ns_by_cpu: Record<number, number>;
  lease_ns: number;
  end_ns: number;
  /**
   * Under --pace: how far the slowest CPU is behind the wall clock since the start, in virtual ns.
   * A run that fell behind slips its clock rather than catch up (engine/paced-clock.ts): this
   * keeps what it gave up.
   */
  lag_ns?: number;
  /** Bad frames by receiver: "coordinator" and "cpu N", each by kind. */
  malformed_messages: Record<string, Record<MalformedKind, number>>;
  lost_on_crash: number;
  /** Conservation checkpoints checked so far, and whether the law held at every one. */
  checkpoints: number;
  checker_ok: boolean;
  commands: { at_ns: number; kind: string; cpu?: number; source?: number; pps?: number }[];
}

interface Member {
  cpu: number;
  routingId: Buffer;
  hello: Hello;
  /** Learns its gaps from the first message after the welcome on (start-up is never judged). */
  detector: FailureDetector | null;
  /** Logged as suspected (with exitsWatched: silent, but alive as far as we know). */
  suspected: boolean;
  /** When a dead member was last told so (it speaks again after a partition or a pause). */
  toldDeadMs: number;
  /** Latest full report (counters at report.now_ns). */
  report?: Report;
  counters?: CpuCounters;
  /** Latest clock it told us (full or progress report). */
  progressNs: number;
  final: boolean;
  dead: boolean;
  /** Dead peers whose receipts this CPU has reported (the end waits for every one). */
  acked: Set<number>;
}

/** Results plus what a degraded (crashed-CPU) run must say; exit code 3 when `degraded`. */
export type ProcessesRunResults = RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } };

/** How long a death known from the process's exit waits for the socket to give up what it sent. */
const DRAIN_MS = 100;

export class CoordinatorError extends Error {
  override readonly name = "CoordinatorError";
}

/** A CpuCommand without its time: the coordinator picks that. */
export type CommandRequest = CpuCommand extends infer C ? (C extends CpuCommand ? Omit<C, "at_ns"> : never) : never;

export class Coordinator {
  // handover: a CPU that reconnects with its routing id (after a partition) takes its old pipe over.
  readonly router = new zmq.Router({ linger: 0, sendHighWaterMark: 100_000, mandatory: false, handover: true });
  private readonly link: Link;
  private readonly members_ = new Map<number, Member>();
  private readonly byRoutingId = new Map<string, number>();
  private phase: CoordinatorStatus["phase"] = "registering";
  private lease = 0;
  private endNs: number;
  private startMs = 0;
  /** Under --pace, from the welcome on. */
  private paced: PacedClock | undefined;
  private readonly malformed: Record<string, number[]> = { coordinator: MALFORMED_KINDS.map(() => 0) };
  private readonly commands: CpuCommand[] = [];
  private readonly cfg: EmuConfig;
  private lostOnCrash = 0;
  private finishedResolve!: (r: ProcessesRunResults) => void;
  private finishedReject!: (e: Error) => void;
  private readonly finished: Promise<ProcessesRunResults>;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastProgressNs = -1;
  private series: SeriesCollector | undefined;
  private readonly checkpoints: CheckpointCollector;
  /** The latest consistent cut: the results so far of a run that does not reach its end. */
  private lastCut: { atNs: number; counters: CpuCounters[] } | null = null;
  private lastMoveMs = 0;
  private lastMaxNs = -1;
  /** Our own stalls: a frozen or starved coordinator judges nobody until it has heard them again. */
  private selfStall!: SelfStall;
  /** Called once, when every CPU has registered and been welcomed. */
  onRunning: (() => void) | null = null;

  constructor(private readonly opts: CoordinatorOptions) {
    // A frame over --max-frame is dropped by zeromq before it takes any memory.
    this.router.maxMessageSize = opts.secret.maxFrameBytes;
    logClosedConnections(this.router, { what: "control socket", maxFrameBytes: opts.secret.maxFrameBytes, log: (l) => this.log(l), active: () => this.phase === "running" });
    this.cfg = structuredClone(opts.cfg);
    this.endNs = this.cfg.duration_ns;
    this.checkpoints = new CheckpointCollector(this.cfg.cpus, opts.checkIntervalNs ?? defaultCheckIntervalNs(this.endNs), (atNs, counters) => {
      this.lastCut = { atNs, counters };
      opts.onCheckpoint?.(atNs, counters);
    });
    this.link = new Link(this.router, () => {}, (e) => this.log(`router send: ${e.message}`));
    this.finished = new Promise((resolve, reject) => {
      this.finishedResolve = resolve;
      this.finishedReject = reject;
    });
    this.finished.catch(() => {}); // observed through done()
  }

  private log(line: string): void {
    this.opts.log(line);
  }

  /** Bind the ROUTER; returns the endpoint CPUs connect to. */
  async start(): Promise<string> {
    await this.router.bind(this.opts.bind);
    this.startMs = performance.now();
    void this.receiveLoop();
    const tickMs = Math.max(10, Math.min(this.opts.heartbeatMs, 50));
    this.selfStall = new SelfStall(Math.max(500, 10 * tickMs), this.startMs);
    this.timer = setInterval(() => this.tick(), tickMs);
    return this.router.lastEndpoint ?? this.opts.bind;
  }

  /** Resolves with the results when every live CPU has reported at the end. */
  done(): Promise<ProcessesRunResults> {
    return this.finished;
  }

  close(reason = "run over"): void {
    if (this.closed) return;
    for (const m of this.members_.values()) this.sendTo(m, { kind: "shutdown", reason });
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // Give the shutdown frames a moment to leave, then close, still letting them go for a while
    // (a CPU that misses its Shutdown waits for a coordinator that is gone).
    setTimeout(() => {
      this.router.linger = 500;
      this.router.close();
    }, 50).unref();
  }

  fail(why: string): void {
    if (this.phase === "done" || this.phase === "failed") return;
    this.phase = "failed";
    this.finishedReject(new CoordinatorError(why));
  }

  // ---------------------------------------------------------------- receiving

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.router) {
        const routingId = frames[0]!;
        const who = this.byRoutingId.get(routingId.toString("hex"));
        try {
          if (frames.length !== 2) throw new MalformedMessage(`${frames.length - 1}-part message`);
          const env = decode(frames[1]!, this.opts.secret);
          this.handle(routingId, who, env.body, env.from);
        } catch (e) {
          if (!(e instanceof MalformedMessage)) throw e;
          this.countMalformed("coordinator", e.kind, `${who === undefined ? "unregistered peer" : `cpu ${who}`}: ${e.message}`);
          // A hello that does not verify (a CPU with a wrong or no secret) is refused with an
          // unauthenticated Error{auth} (we cannot seal for it), so that it can say why and exit.
          if (who === undefined && e.unverified?.body.kind === "hello")
            this.link.send([routingId, encode({ from: COORDINATOR_ID, vouch_ns: 0, body: { kind: "error", code: "auth", message: "wrong or missing secret" } }, this.opts.secret.anonymous)]);
        }
      }
    } catch (e) {
      if (!this.closed) {
        this.log(`coordinator receive loop failed: ${(e as Error).stack ?? e}`);
        this.fail(`coordinator receive loop failed: ${(e as Error).message}`);
      }
    }
  }

  private countMalformed(receiver: string, kind: MalformedKind, why: string): void {
    const counts = (this.malformed[receiver] ??= MALFORMED_KINDS.map(() => 0));
    counts[MALFORMED_KINDS.indexOf(kind)]!++;
    const total = counts.reduce((a, b) => a + b, 0);
    if (receiver === "coordinator" && (total <= 5 || total % 100 === 0)) this.log(`dropped malformed message #${total} (${kind}) from ${why}`);
  }

  private handle(routingId: Buffer, who: number | undefined, body: Body, from: number): void {
    if (body.kind === "hello") return this.hello(routingId, body.hello);
    if (who === undefined) return this.countMalformed("coordinator", "unexpected", `unregistered peer: '${body.kind}' before hello`);
    const m = this.members_.get(who)!;
    if (from !== who) return this.countMalformed("coordinator", "unexpected", `cpu ${who}: message claims to be from ${from}`);
    if (m.dead) {
      // Declared dead: too late, its words no longer count. It may not have heard so (it was cut
      // off or frozen when we said it): say it again, once a second at most, so it leaves.
      const now = performance.now();
      if (now - m.toldDeadMs >= 1000) {
        m.toldDeadMs = now;
        this.sendTo(m, { kind: "shutdown", reason: "declared dead earlier in this run" });
      }
      return;
    }
    this.heard(m, performance.now());
    if (body.kind === "report") return this.report(m, body.report);
    this.countMalformed("coordinator", "unexpected", `cpu ${who}: '${body.kind}' on the control socket`);
  }

  // ---------------------------------------------------------------- membership

  private hello(routingId: Buffer, hello: Hello): void {
    const n = this.cfg.cpus;
    const refuse = (code: string, message: string): void => {
      this.log(`refused a cpu (pid ${hello.pid}): ${message}`);
      this.link.send([routingId, encode({ from: COORDINATOR_ID, vouch_ns: 0, body: { kind: "error", code, message } }, this.opts.secret)]);
    };
    if (this.byRoutingId.has(routingId.toString("hex"))) return this.countMalformed("coordinator", "unexpected", `cpu ${this.byRoutingId.get(routingId.toString("hex"))}: second hello`);
    if (this.phase !== "registering") return refuse("full", `the run has started with ${n} cpus; no cpu can join`);
    let id = hello.requested_id;
    if (id >= n) return refuse("bad_id", `cpu id ${id} is out of range: this run has cpus 0-${n - 1}`);
    if (id >= 0 && this.members_.has(id)) {
      const other = this.members_.get(id)!;
      return refuse("duplicate_id", `cpu id ${id} is already taken (by pid ${other.hello.pid}, peer endpoint ${other.hello.endpoint})`);
    }
    if (id < 0) {
      id = 0;
      while (this.members_.has(id)) id++;
      if (id >= n) return refuse("full", `all ${n} cpu ids are taken`);
    }
    this.members_.set(id, { cpu: id, routingId, hello, detector: null, suspected: false, toldDeadMs: 0, final: false, dead: false, acked: new Set(), progressNs: 0 });
    this.byRoutingId.set(routingId.toString("hex"), id);
    this.log(`cpu ${id} registered (pid ${hello.pid}, ${hello.endpoint}); ${this.members_.size}/${n}`);
    if (this.members_.size === n) this.welcomeAll();
  }

  private welcomeAll(): void {
    const n = this.cfg.cpus;
    const endpoints = Array.from({ length: n }, (_, i) => this.members_.get(i)!.hello.endpoint);
    this.phase = "running";
    this.startMs = performance.now();
    if (this.opts.pace !== undefined) this.paced = new PacedClock(this.opts.pace, this.startMs);
    this.lease = this.leaseTarget();
    const config_json = JSON.stringify(this.cfg);
    for (const m of this.members_.values()) {
      this.sendTo(m, {
        kind: "welcome",
        welcome: {
          cpu: m.cpu,
          endpoints,
          config_json,
          commands: (this.opts.commands ?? []).map(commandToWire),
          lease_ns: this.lease,
          heartbeat_ms: this.opts.heartbeatMs,
          coordinator_timeout_ms: this.opts.coordinatorTimeoutMs,
          max_step_ns: this.opts.maxStepNs,
          progress_every_ns: Math.max(1, Math.floor(this.opts.leaseSpanNs / 4)),
          series_interval_ns: this.opts.seriesIntervalNs ?? 0,
          check_interval_ns: this.checkpoints.intervalNs,
        },
      });
    }
    this.log(`all ${n} cpus registered; running ${this.cfg.duration_ns} ns of virtual time`);
    this.onRunning?.();
  }

  /** Registered CPUs: id, pid and peer endpoint. */
  members(): { cpu: number; pid: number; endpoint: string }[] {
    return [...this.members_.values()].map((m) => ({ cpu: m.cpu, pid: m.hello.pid, endpoint: m.hello.endpoint }));
  }

  private sendTo(m: Member, body: Body): void {
    this.link.send([m.routingId, encode({ from: COORDINATOR_ID, vouch_ns: 0, body }, this.opts.secret)]);
  }

  private broadcast(body: Body): void {
    for (const m of this.members_.values()) if (!m.dead) this.sendTo(m, body);
  }

  // ---------------------------------------------------------------- the clock

  private live(): Member[] {
    return [...this.members_.values()].filter((m) => !m.dead);
  }

  private progressNs(): { min: number; max: number } {
    let min = Infinity;
    let max = 0;
    for (const m of this.live()) {
      const t = m.progressNs;
      min = Math.min(min, t);
      max = Math.max(max, t);
    }
    return { min: min === Infinity ? 0 : min, max };
  }

  /**
   * The lease the CPUs may run to now: a span ahead of the fastest (a command at the lease is then
   * never behind any CPU, and laggards never hold the leader back: peers' promises and the
   * transport's back-pressure bound how far it runs ahead), or the paced wall clock, which slips
   * when the slowest CPU has fallen behind it: no burst to catch up.
   */
  private leaseTarget(): number {
    const { min, max } = this.progressNs();
    let target = max + this.opts.leaseSpanNs;
    if (this.paced) target = Math.min(target, this.paced.targetNs(performance.now(), min));
    return Math.min(this.endNs, Math.max(this.lease, target));
  }

  private extendLease(): void {
    if (this.phase !== "running") return;
    const target = this.leaseTarget();
    // Extend in steps of at least half a span: every extension costs each CPU a promise to each
    // peer (promises are capped at the lease), so no trickle of small ones. The end and the paced
    // clock are taken as they come.
    const step = target - this.lease;
    if (step > 0 && (step >= this.opts.leaseSpanNs / 2 || target === this.endNs || this.opts.pace !== undefined)) {
      this.lease = target;
      this.broadcast({ kind: "lease", lease_ns: this.lease, end_ns: this.endNs });
    }
  }

  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    // Every tick measures our own gaps, also while the CPUs register (else that wait reads as a stall).
    const stalled = this.selfStall.check(now);
    if (this.phase === "registering") {
      if (now - this.startMs > this.opts.registerTimeoutMs) {
        const missing = Array.from({ length: this.cfg.cpus }, (_, i) => i).filter((i) => !this.members_.has(i));
        this.fail(`only ${this.members_.size} of ${this.cfg.cpus} cpus registered within ${this.opts.registerTimeoutMs} ms; missing cpu ids: ${missing.join(", ")}`);
      }
      this.broadcast({ kind: "heartbeat" });
      return;
    }
    if (this.phase !== "running") return;
    if (stalled > 0) this.log(`the coordinator itself was stalled for ${Math.round(stalled)} ms (frozen or starved): no cpu is judged until it has been heard again`);
    else this.judge(now);
    this.extendLease();
    this.broadcast({ kind: "heartbeat" });
    this.knownLoss();
    this.snapshot();
    this.checkStall(now);
  }

  /** Heard from `m` at `nowMs`: its failure detector learns the gap. */
  private heard(m: Member, nowMs: number): void {
    if (this.phase !== "running") return;
    if (!m.detector) m.detector = new FailureDetector(this.opts.cpuTimeoutMs, nowMs);
    else m.detector.heard(nowMs);
    if (m.suspected) {
      m.suspected = false;
      this.log(`cpu ${m.cpu} is heard again`);
    }
  }

  /** Suspect the CPUs whose silence is improbable; declare them dead unless their exits are watched. */
  private judge(now: number): void {
    for (const m of this.live()) {
      const d = m.detector;
      if (m.final || !d || m.suspected || !d.suspect(now, this.selfStall.endMs)) continue;
      const silence = Math.round(d.silenceMs(now, this.selfStall.endMs));
      const why = `silent for ${silence} ms (limit ${Math.round(d.limitMs())} ms from its gaps, floor ${d.floorMs} ms)`;
      if (!this.opts.exitsWatched) {
        this.declareDead(m, why);
        continue;
      }
      m.suspected = true;
      this.log(`cpu ${m.cpu} (pid ${m.hello.pid}) ${why}, but its process has not exited: slow, not dead; waiting for it`);
    }
  }

  private checkStall(now: number): void {
    const { min, max } = this.progressNs();
    const moved = min + max;
    // Our own stall is nobody's lack of progress.
    if (this.selfStall.endMs > this.lastMoveMs) this.lastMoveMs = this.selfStall.endMs;
    if (moved !== this.lastMaxNs) {
      this.lastMaxNs = moved;
      this.lastMoveMs = now;
      return;
    }
    const limit = this.opts.stallTimeoutMs ?? 60_000;
    if (now - this.lastMoveMs <= limit) return;
    const silent = this.live().filter((m) => m.suspected);
    const why =
      silent.length > 0
        ? `cpu ${silent.map((m) => m.cpu).join(", ")} silent (the process is alive: stopped or starved?)`
        : `the synchronisation is stuck (seed ${this.cfg.seed})`;
    this.fail(`no cpu advanced for ${Math.round((now - this.lastMoveMs) / 1000)} s (virtual ${min}-${max} ns, lease ${this.lease} ns): ${why}`);
  }

  // ---------------------------------------------------------------- reports and the end

  private report(m: Member, r: Report): void {
    m.progressNs = Math.max(m.progressNs, r.now_ns);
    if (r.counters_json === "") {
      this.extendLease();
      return;
    }
    let counters: CpuCounters;
    try {
      counters = JSON.parse(r.counters_json) as CpuCounters;
    } catch {
      return this.countMalformed("coordinator", "decode_error", `cpu ${m.cpu}: report counters are not JSON`);
    }
    if (r.checkpoint) this.checkpoints.add(r.now_ns, m.cpu, counters);
    // A checkpoint-only report feeds the check, not the crash policy (see cpu-node/node.ts).
    if (r.checkpoint && !r.sample && !r.final) {
      this.extendLease();
      return;
    }
    m.counters = counters;
    m.report = r;
    this.malformed[`cpu ${m.cpu}`] = [...r.malformed];
    if (r.sample) this.addSample(r.now_ns, m.cpu, m.counters);
    if (r.final) m.final = true;
    for (const d of r.dead_receipts) m.acked.add(d.cpu);
    this.extendLease();
    const { min } = this.progressNs();
    if (min !== this.lastProgressNs) {
      this.lastProgressNs = min;
      this.opts.onProgress?.(min, this.endNs);
    }
    // Also a non-final report of a finished CPU: it may carry the receipts the end waits for.
    if (m.final) this.maybeFinish();
  }

  private addSample(atNs: number, cpu: number, counters: CpuCounters): void {
    this.series ??= new SeriesCollector(this.cfg.cpus, this.opts.seriesIntervalNs ?? 0);
    this.series.add(atNs, cpu, counters, this.cfg.cpus, (c) => {
      const m = this.members_.get(c);
      return m?.dead ? m.counters : undefined;
    });
  }

  private maybeFinish(): void {
    if (this.phase !== "running") return;
    const live = this.live();
    if (live.length === 0) return this.fail("every cpu process died");
    const deadIds = [...this.members_.values()].filter((m) => m.dead).map((m) => m.cpu);
    if (!live.every((m) => m.final && m.report!.now_ns === this.endNs && deadIds.every((d) => m.acked.has(d)))) return;
    this.phase = "finishing";
    try {
      const results = this.results();
      this.phase = "done";
      this.snapshot();
      this.finishedResolve(results);
    } catch (e) {
      this.fail(`aggregating the results failed: ${(e as Error).message}`);
    }
  }

  private results(): ProcessesRunResults {
    const n = this.cfg.cpus;
    const rows: CpuCounters[] = [];
    const violations: string[] = [];
    let lost = 0;
    const deadCpus: number[] = [];
    const members = [...this.members_.values()];
    const like = members.find((m) => m.counters)?.counters;
    for (let i = 0; i < n; i++) {
      const m = this.members_.get(i)!;
      if (!m.dead) {
        rows.push(m.counters!);
        continue;
      }
      deadCpus.push(i);
      const a = accountCrash(m, members, (cpu) => emptyCountersLike(cpu, like));
      rows.push(a.row);
      lost += a.lost;
      for (const why of a.inexact) violations.push(`crash accounting is not exact: ${why}`);
    }
    this.lostOnCrash = lost;
    const cfg = { ...this.cfg, duration_ns: this.endNs, events: this.recordedEvents() };
    // Checkpoint violations first, in time order, as the in-process engine lists them.
    const unchecked = this.checkpoints.unchecked(this.endNs);
    const results: ProcessesRunResults = aggregate(cfg, rows, {
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
    const events = this.recordedEvents().filter((e) => e.at_ns <= cut.atNs);
    const results: ProcessesRunResults = aggregate({ ...this.cfg, duration_ns: cut.atNs, events }, cut.counters, {
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

  /** The scenario's events plus the hotplug commands given at run time, in time order. */
  private recordedEvents(): EmuConfig["events"] {
    const runtime = this.commands.flatMap((c) => (c.kind === "offline" || c.kind === "online" ? [{ at_ns: c.at_ns, cpu: c.cpu, action: c.kind }] : []));
    return [...this.cfg.events, ...runtime].sort((a, b) => a.at_ns - b.at_ns);
  }

  // ---------------------------------------------------------------- faults

  /** The process of `cpu` is known to be gone (its parent saw it exit): don't wait for the timeout. */
  cpuGone(cpu: number, why: string): void {
    if (this.phase === "registering") return this.fail(`cpu ${cpu} ${why} before the run started`);
    // What it sent just before it died may still wait in our socket: let the receive loop take it
    // first (a report in there makes the crash account exact), then declare it.
    setTimeout(() => {
      const m = this.members_.get(cpu);
      if (this.phase === "running" && m && !m.dead && !m.final) this.declareDead(m, why);
    }, DRAIN_MS);
  }

  private declareDead(m: Member, why: string): void {
    m.dead = true;
    this.checkpoints.died(m.cpu);
    const reportNs = m.report?.now_ns ?? 0;
    this.log(`cpu ${m.cpu} (pid ${m.hello.pid}) declared dead: ${why}; surprise removal, its last report was at ${reportNs} ns`);
    this.broadcast({ kind: "peer_dead", cpu: m.cpu, report_ns: reportNs, report_seq: m.report?.seq ?? 0 });
    // If it was only stopped (SIGSTOP) it reads this when it resumes, and leaves at once.
    this.sendTo(m, { kind: "shutdown", reason: `declared dead (${why})` });
    // Survivors answer with a report that carries their receipts; the end waits for final ones.
    this.maybeFinish();
  }

  /** lost_on_crash as soon as the survivors have answered for a dead CPU (/metrics, the status); results() has the last word. */
  private knownLoss(): void {
    const members = [...this.members_.values()];
    if (!members.some((m) => m.dead)) return;
    const like = members.find((m) => m.counters)?.counters;
    // Never down: a counter that dips reads as a reset in Prometheus.
    this.lostOnCrash = Math.max(this.lostOnCrash, knownLoss(members, (cpu) => emptyCountersLike(cpu, like)));
  }

  // ---------------------------------------------------------------- control

  /** Schedule a command at a virtual time no CPU has passed: the current lease. */
  command(cmd: CommandRequest): CpuCommand {
    if (this.phase !== "running") throw new CoordinatorError(`the run is ${this.phase}; commands are taken while it runs`);
    const at_ns = Math.min(this.lease, this.endNs);
    const full = { ...cmd, at_ns } as CpuCommand;
    this.commands.push(full);
    this.broadcast({ kind: "command", command: commandToWire(full) });
    this.log(`command ${JSON.stringify(full)}`);
    return full;
  }

  /** End the run at the current lease instead of the scenario's duration. */
  stop(): number {
    if (this.phase !== "running") throw new CoordinatorError(`the run is ${this.phase}`);
    this.endNs = Math.min(this.endNs, this.lease);
    this.broadcast({ kind: "lease", lease_ns: this.lease, end_ns: this.endNs });
    this.log(`stop: the run ends at ${this.endNs} ns`);
    for (const m of this.live()) if (m.final && m.report!.now_ns !== this.endNs) m.final = false;
    return this.endNs;
  }

  /** Online state of `cpu` at virtual time `atNs`, after the scenario's events and runtime commands. */
  onlineAt(cpu: number, atNs: number): boolean {
    let online = true;
    const events = [...this.cfg.events.map((e) => ({ at_ns: e.at_ns, cpu: e.cpu, kind: e.action })), ...this.opts.commands ?? [], ...this.commands];
    for (const e of events.sort((a, b) => a.at_ns - b.at_ns))
      if ((e.kind === "offline" || e.kind === "online") && e.cpu === cpu && e.at_ns <= atNs) online = e.kind === "online";
    return online;
  }

  get leaseNs(): number {
    return this.lease;
  }

  status(): CoordinatorStatus {
    const { min, max } = this.progressNs();
    const malformed: CoordinatorStatus["malformed_messages"] = {};
    for (const [who, counts] of Object.entries(this.malformed))
      malformed[who] = Object.fromEntries(MALFORMED_KINDS.map((k, i) => [k, counts[i] ?? 0])) as Record<MalformedKind, number>;
    return {
      phase: this.phase,
      cpus: this.cfg.cpus,
      registered: [...this.members_.keys()].sort((a, b) => a - b),
      dead: [...this.members_.values()].filter((m) => m.dead).map((m) => m.cpu),
      virtual_ns_min: min,
      virtual_ns_max: max,
      virtual_ns_by_cpu: Object.fromEntries([...this.members_.values()].sort((x, y) => x.cpu - y.cpu).map((m) => [m.cpu, m.progressNs])),
      lease_ns: this.lease,
      end_ns: this.endNs,
      ...(this.paced ? { lag_ns: this.paced.lagNs(performance.now(), min, this.endNs) } : {}),
      malformed_messages: malformed,
      lost_on_crash: this.lostOnCrash,
      checkpoints: this.checkpoints.checked,
      checker_ok: this.checkpoints.violations.length === 0,
      commands: this.commands.map((c) => ({ ...c })),
    };
  }

  /** Latest report of every CPU (transport statistics, peak RSS), by CPU id. */
  reports(): { cpu: number; report: Report }[] {
    return [...this.members_.values()].filter((m) => m.report).sort((a, b) => a.cpu - b.cpu).map((m) => ({ cpu: m.cpu, report: m.report! }));
  }

  /** Latest counters of every CPU that has reported (dead ones at their last report). */
  counters(): CpuCounters[] {
    return [...this.members_.values()].filter((m) => m.counters).sort((a, b) => a.cpu - b.cpu).map((m) => m.counters!);
  }

  private snapshot(): void {
    if (!this.opts.onSnapshot) return;
    const counters = this.counters();
    if (counters.length > 0) this.opts.onSnapshot(counters, this.status());
  }
}

/** A CPU that died before its first report: zero counters of the same shape. */
function emptyCountersLike(cpu: number, like: CpuCounters | undefined): CpuCounters {
  if (!like) throw new CoordinatorError(`cpu ${cpu} died before any cpu reported`);
  const zero = (v: unknown): unknown =>
    typeof v === "number" ? 0 : Array.isArray(v) ? v.map(zero) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, zero(x)])) : v;
  return { ...(zero(like) as CpuCounters), cpu, online: false };
}
