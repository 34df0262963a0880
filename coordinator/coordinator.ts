// The coordinator of a distributed run, wired from its parts: a CPU's lifecycle (hello, welcome,
// failure detection, death: coordinator/lifecycle.ts), virtual time (leases, pacing, progress, the
// stall check: coordinator/time.ts) and reporting (reports, checkpoints, samples, the results and
// the status: coordinator/reporting.ts). This file holds the control socket — what comes in is
// decoded and dispatched, a tick drives the clock and the failure detector — and the public API
// (coordinator/run-processes.ts, coordinator/main.ts, observe/processes-control.ts).
// It is not in the data path: CPUs exchange batches directly (proto/PROTOCOL.md).
import { performance } from "node:perf_hooks";
import * as zmq from "zeromq";
import { Interrupted } from "../engine/contract.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters } from "../model/results.ts";
import { MalformedMessage, decode, type Body, type Report } from "../transport/codec.ts";
import { logClosedConnections } from "../transport/closed-connections.ts";
import { Link } from "../transport/link.ts";
import { SelfStall } from "../liveness/self-stall.ts";
import { CommandLog } from "./commands.ts";
import { CoordinatorError } from "./errors.ts";
import { Lifecycle } from "./lifecycle.ts";
import type { CommandRequest, CoordinatorOptions, CoordinatorStatus, ProcessesRunResults } from "./options.ts";
import { Reporting } from "./reporting.ts";
import { RunState } from "./run-state.ts";
import { Clock } from "./time.ts";

export { CoordinatorError } from "./errors.ts";
export type { CommandRequest, CoordinatorOptions, CoordinatorStatus, ProcessesRunResults } from "./options.ts";

export class Coordinator {
  // handover: a CPU that reconnects with its routing id (after a partition) takes its old pipe over.
  readonly router = new zmq.Router({ linger: 0, sendHighWaterMark: 100_000, mandatory: false, handover: true });
  private readonly link: Link;
  private readonly run: RunState;
  private readonly clock: Clock;
  private readonly commands: CommandLog;
  private readonly reporting: Reporting;
  private readonly lifecycle: Lifecycle;
  private startMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  /** Our own stalls: a frozen or starved coordinator judges nobody until it has heard them again. */
  private selfStall!: SelfStall;
  /** Called once, when every CPU has registered and been welcomed. */
  onRunning: (() => void) | null = null;

  constructor(private readonly opts: CoordinatorOptions) {
    // A frame over --max-frame is dropped by zeromq before it takes any memory.
    this.router.maxMessageSize = opts.secret.maxFrameBytes;
    logClosedConnections(this.router, { what: "control socket", maxFrameBytes: opts.secret.maxFrameBytes, log: (l) => this.log(l), active: () => this.run.phase === "running" });
    // The outbox needs no bound of its own: a ROUTER that is not `mandatory` never blocks (zeromq
    // drops what a gone or full peer cannot take), so it drains as fast as it fills, and it fills
    // with a few control messages per CPU per tick or report.
    this.link = new Link(this.router, () => {}, (e) => this.log(`router send: ${e.message}`));
    this.run = new RunState(opts, this.link);
    this.clock = new Clock(this.run);
    this.commands = new CommandLog(this.run.cfg, opts.commands ?? []);
    this.reporting = new Reporting(this.run, this.clock, this.commands);
    this.lifecycle = new Lifecycle(this.run, this.clock, this.reporting, () => this.onRunning?.());
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
    return this.run.done();
  }

  close(reason = "run over"): void {
    if (this.closed) return;
    for (const m of this.run.members.all()) this.run.sendTo(m, { kind: "shutdown", reason });
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    // Give the shutdown frames a moment to leave, then close, still letting them go for a while
    // (a CPU that misses its Shutdown waits for a coordinator that is gone).
    setTimeout(() => {
      this.router.linger = 500;
      this.router.close();
    }, 50).unref();
  }

  /** The run fails: done() rejects with a CoordinatorError saying `why`. */
  fail(why: string): void {
    this.run.fail(why);
  }

  /** The run is stopped by `signal`: done() rejects with an Interrupted (engine/contract.ts). */
  interrupt(signal: Interrupted["signal"]): void {
    this.run.fail(new Interrupted(signal));
  }

  /** The process of `cpu` is known to be gone (its parent saw it exit): don't wait for the timeout. */
  cpuGone(cpu: number, why: string): void {
    this.lifecycle.cpuGone(cpu, why);
  }

  // ---------------------------------------------------------------- the control socket

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.router) {
        const routingId = frames[0]!;
        const who = this.run.members.idOf(routingId);
        try {
          if (frames.length !== 2) throw new MalformedMessage(`${frames.length - 1}-part message`);
          const env = decode(frames[1]!, this.opts.secret);
          this.handle(routingId, who, env.body, env.from);
        } catch (e) {
          if (!(e instanceof MalformedMessage)) throw e;
          this.run.malformed.count("coordinator", e.kind, `${who === undefined ? "unregistered peer" : `cpu ${who}`}: ${e.message}`);
          // A hello that does not verify (a CPU with a wrong or no secret) is refused with an
          // unauthenticated Error{auth} (we cannot seal for it), so that it can say why and exit.
          if (who === undefined && e.unverified?.body.kind === "hello")
            this.run.send(routingId, { kind: "error", code: "auth", message: "wrong or missing secret" }, this.opts.secret.anonymous);
        }
      }
    } catch (e) {
      if (!this.closed) {
        this.log(`coordinator receive loop failed: ${(e as Error).stack ?? e}`);
        this.fail(`coordinator receive loop failed: ${(e as Error).message}`);
      }
    }
  }

  private handle(routingId: Buffer, who: number | undefined, body: Body, from: number): void {
    if (body.kind === "hello") return this.lifecycle.hello(routingId, body.hello);
    if (who === undefined) return this.run.malformed.count("coordinator", "unexpected", `unregistered peer: '${body.kind}' before hello`);
    const m = this.run.members.get(who)!;
    if (from !== who) return this.run.malformed.count("coordinator", "unexpected", `cpu ${who}: message claims to be from ${from}`);
    if (m.dead) return this.lifecycle.deadSpoke(m);
    this.lifecycle.heard(m, performance.now());
    if (body.kind === "report") return this.reporting.report(m, body.report);
    this.run.malformed.count("coordinator", "unexpected", `cpu ${who}: '${body.kind}' on the control socket`);
  }

  private tick(): void {
    if (this.closed) return;
    const now = performance.now();
    // Every tick measures our own gaps, also while the CPUs register (else that wait reads as a stall).
    const stalled = this.selfStall.check(now);
    if (this.run.phase === "registering") {
      if (now - this.startMs > this.opts.registerTimeoutMs) this.lifecycle.registerTimeout();
      this.run.broadcast({ kind: "heartbeat" });
      return;
    }
    if (this.run.phase !== "running") return;
    if (stalled > 0) this.log(`the coordinator itself was stalled for ${Math.round(stalled)} ms (frozen or starved): no cpu is judged until it has been heard again`);
    else this.lifecycle.judge(now, this.selfStall.endMs);
    this.clock.extendLease();
    this.run.broadcast({ kind: "heartbeat" });
    this.lifecycle.knownLoss();
    this.reporting.snapshot();
    this.clock.checkStall(now, this.selfStall.endMs);
  }

  // ---------------------------------------------------------------- control

  /** Schedule a command at a virtual time no CPU has passed: the current lease. */
  command(cmd: CommandRequest): CpuCommand {
    if (this.run.phase !== "running") throw new CoordinatorError(`the run is ${this.run.phase}; commands are taken while it runs`);
    const full = { ...cmd, at_ns: Math.min(this.clock.leaseNs, this.clock.endNs) } as CpuCommand;
    this.commands.add(full);
    this.run.broadcast({ kind: "command", command: full });
    this.log(`command ${JSON.stringify(full)}`);
    return full;
  }

  /** End the run at the current lease instead of the scenario's duration. */
  stop(): number {
    if (this.run.phase !== "running") throw new CoordinatorError(`the run is ${this.run.phase}`);
    const endNs = this.clock.stop();
    for (const m of this.run.members.live()) if (m.final && m.report!.now_ns !== endNs) m.final = false;
    return endNs;
  }

  /** Online state of `cpu` at virtual time `atNs`, after the scenario's events and runtime commands. */
  onlineAt(cpu: number, atNs: number): boolean {
    return this.commands.onlineAt(cpu, atNs);
  }

  get leaseNs(): number {
    return this.clock.leaseNs;
  }

  /** Registered CPUs: id, pid and peer endpoint. */
  members(): { cpu: number; pid: number; endpoint: string }[] {
    return this.run.members.all().map((m) => ({ cpu: m.cpu, pid: m.hello.pid, endpoint: m.hello.endpoint }));
  }

  status(): CoordinatorStatus {
    return this.reporting.status();
  }

  /** Latest report of every CPU (transport statistics, peak RSS), by CPU id. */
  reports(): { cpu: number; report: Report }[] {
    return this.reporting.reports();
  }

  /** Latest counters of every CPU that has reported (dead ones at their last report). */
  counters(): CpuCounters[] {
    return this.reporting.counters();
  }

  /** The results at the latest consistent checkpoint, for a run stopped before its end (undefined: none yet). */
  resultsSoFar(): ProcessesRunResults | undefined {
    return this.reporting.resultsSoFar();
  }
}
