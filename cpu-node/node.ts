// One emulated CPU as an OS process: registers with the coordinator, owns one model Cpu, exchanges
// PeerBatches directly with its peers over PUSH/PULL, and advances under conservative
// synchronisation (proto/PROTOCOL.md): never past min(lease, every live peer's vouch_ns).
// The concerns live beside it: lifecycle.ts (handshake, coordinator loss, exit codes), time.ts
// (lease, promises, the schedule, backpressure), reporting.ts (reports, crash stamps, receipts),
// membership.ts (dead peers), inbox.ts and letters.ts (receiving); this file wires them and runs
// the main loop.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import * as zmq from "zeromq";
import { Cpu } from "../model/cpu.ts";
import { encode, type Body, type Welcome } from "../transport/codec.ts";
import type { WireKey } from "../transport/auth.ts";
import { logClosedConnections } from "../transport/closed-connections.ts";
import { endpointError } from "../transport/endpoint.ts";
import { Link } from "../transport/link.ts";
import { PeerLinks } from "../transport/peer-links.ts";
import { Inbox } from "./inbox.ts";
import { Letters } from "./letters.ts";
import { CPU_EXIT, Lifecycle } from "./lifecycle.ts";
import { Membership } from "./membership.ts";
import { Reporting, type LoopStats } from "./reporting.ts";
import { OUTBOX_MAX, VirtualTime } from "./time.ts";

export { CPU_EXIT } from "./lifecycle.ts";

export interface CpuNodeOptions {
  /** The coordinator's ROUTER, e.g. tcp://127.0.0.1:5555. */
  coordinator: string;
  /** Requested CPU id, or -1 to take the one the coordinator assigns. */
  id: number;
  /** Where to bind the peer inbox (tcp://127.0.0.1:* picks a free port). */
  bind: string;
  /** Host peers should dial when `bind` is a wildcard address (default: this host's name). */
  advertiseHost?: string;
  /**
   * Registration: give up when the coordinator has said nothing for this long before its Welcome
   * (it beats while it waits for the other CPUs, however long that takes).
   */
  registerTimeoutMs: number;
  /** Floor of the coordinator's failure detector (default: what the Welcome says). */
  coordinatorTimeoutMs?: number;
  /**
   * A suspected coordinator that is still connected (frozen, starved, partitioned) is waited for
   * this long before the CPU gives up (default 60 s); a closed connection, only the floor.
   */
  coordinatorWaitMs?: number;
  /** The run's secret and frame limit (transport/auth.ts): seals what we send, checks what we receive. */
  secret: WireKey;
  log: (line: string) => void;
}

/**
 * Heartbeat and progress reports wait while this many messages queue for the coordinator (it is not
 * reading: it needs no more of them). So the control link holds at most this many plus the reports
 * that must go, which the lease bounds (checkpoints and samples up to it, one lease wait) beside the
 * final one and one per dead peer: the coordinator grants no further lease before it reads.
 */
const CONTROL_BACKLOG = 64;

/** The parts a Welcome sets up. */
interface Seat {
  w: Welcome;
  cpu: Cpu;
  peers: PeerLinks;
  reporting: Reporting;
  time: VirtualTime;
  letters: Letters;
}

export class CpuNode {
  private readonly inbox: Inbox;
  private readonly life: Lifecycle;
  private readonly dealer: zmq.Dealer;
  private readonly pull: zmq.Pull;
  private control!: Link;
  private id = -1;
  private seat: Seat | undefined;
  private closing = false;
  private readonly loopStats: LoopStats = { iterations: 0, waits: 0 };
  /** Wall time spent in the model, in sending, in handling letters, and waiting (ms). */
  private readonly wallMs = { model: 0, send: 0, letters: 0, wait: 0, yield: 0 };

  constructor(private readonly opts: CpuNodeOptions) {
    this.inbox = new Inbox(opts.secret, (l) => this.log(l), () => this.life.welcomed, () => this.closing);
    this.life = new Lifecycle(opts, this.inbox, (l) => this.log(l));
    // Linger 0: a dead peer or coordinator must never keep this process alive at exit.
    // maxMessageSize: a frame over --max-frame is dropped by zeromq before it takes any memory.
    // A routing id of our own survives a reconnection (a partition healed, a coordinator that was
    // paused): the coordinator still knows who we are, and can tell us if we were declared dead.
    this.dealer = new zmq.Dealer({
      linger: 0,
      sendHighWaterMark: 10_000,
      maxMessageSize: opts.secret.maxFrameBytes,
      routingId: `cpu-${process.pid}-${randomBytes(6).toString("hex")}`,
    });
    this.pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: 1000, maxMessageSize: opts.secret.maxFrameBytes });
    logClosedConnections(this.pull, { what: "peer inbox", maxFrameBytes: opts.secret.maxFrameBytes, log: (l) => this.log(l), active: () => this.seat !== undefined && !this.seat.time.finished && !this.closing });
  }

  private log(line: string): void {
    this.opts.log(line);
  }

  /** Register, run to the end (or until told to stop), return the process exit code. */
  async run(): Promise<number> {
    try {
      await this.pull.bind(this.opts.bind).catch((e: unknown) => {
        throw endpointError("--bind", this.opts.bind, "bind", e);
      });
      const bound = this.pull.lastEndpoint ?? this.opts.bind;
      // Bound to every interface: peers dial the host name (containers: set it per CPU service).
      const endpoint = bound.replace("://0.0.0.0:", `://${this.opts.advertiseHost ?? hostname()}:`);
      // Watching before connecting: a handshake that completes first would otherwise go unseen.
      // (Any message from the coordinator also proves the connection: see letters.ts.)
      this.life.watch(this.dealer);
      try {
        this.dealer.connect(this.opts.coordinator);
      } catch (e) {
        throw endpointError("--coordinator", this.opts.coordinator, "connect", e);
      }
      this.control = new Link(this.dealer, () => this.inbox.mailbox.notify(), (e) => this.log(`coordinator link: ${e.message}`));
      void this.inbox.listen(this.dealer, "control");
      void this.inbox.listen(this.pull, "peer");
      this.sendControl({ kind: "hello", hello: { requested_id: this.opts.id, endpoint, pid: process.pid } });
      const welcome = await this.life.awaitWelcome(() => this.closing);
      if (!welcome) return this.life.exitCode ?? CPU_EXIT.coordinatorLost;
      const seat = this.setUp(welcome, endpoint);
      await this.loop(seat);
      return this.life.exitCode ?? CPU_EXIT.ok;
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.seat?.peers.close();
    this.dealer.close();
    this.pull.close();
    this.inbox.mailbox.notify();
  }

  private setUp(w: Welcome, ownEndpoint: string): Seat {
    const self = (this.id = w.cpu);
    const cfg = w.config;
    const cpu = new Cpu(self, cfg);
    const log = (l: string) => this.log(l);
    cpu.warnLog = log;
    const commands = w.commands;
    for (const cmd of commands) cpu.command(cmd);
    const finished = () => this.seat?.time.finished ?? false;
    // Each part on the ones before it; a batch's crash stamp comes from reporting, built next.
    let reporting: Reporting | undefined;
    const peers = new PeerLinks({ self, endpoints: w.endpoints, key: this.opts.secret, stamp: () => reporting!.crashStamp(), softMax: OUTBOX_MAX, onDrained: () => this.inbox.mailbox.notify(), log });
    reporting = new Reporting(cpu, cfg, peers, this.inbox.malformed, this.loopStats, finished, (body) => this.sendControl(body));
    const members = new Membership(cpu, cfg, peers, reporting, finished, log);
    for (const cmd of commands) members.commanded(cmd);
    const time = new VirtualTime(cpu, cfg, w, members.dead, peers, reporting);
    const letters = new Letters(self, cpu, this.inbox, this.life, time, reporting, members, log);
    this.life.started(w);
    this.seat = { w, cpu, peers, reporting, time, letters };
    this.log(`cpu ${self} of ${cfg.cpus} (${cfg.profile.name}), peers reach me at ${ownEndpoint}`);
    return this.seat;
  }

  // ---------------------------------------------------------------- the main loop

  private async loop(seat: Seat): Promise<void> {
    const { w, cpu, time, reporting, letters } = seat;
    const hbMs = w.heartbeat_ms;
    const wall = this.wallMs;
    while (this.life.exitCode === null && !this.closing) {
      let t = performance.now();
      letters.handleAll();
      const nowMs = performance.now();
      wall.letters += nowMs - t;
      if (this.life.exitCode !== null) break;
      if (this.life.coordinatorLost(nowMs, time.finished)) break;
      this.loopStats.iterations++;
      const progressed = time.step();
      t = performance.now();
      wall.model += t - nowMs;
      const sent = time.sendOutput();
      wall.send += performance.now() - t;
      time.reportSample();
      if (!time.finished && cpu.clock >= time.endNs) this.finish(time);
      if (this.control.pending < CONTROL_BACKLOG) {
        if (performance.now() - reporting.lastReportMs >= hbMs) reporting.report(false);
        else if (cpu.clock - reporting.lastProgressNs >= w.progress_every_ns) reporting.progress(false);
      }
      if (progressed || sent) {
        // Let the receive loops and the links run (they are macrotasks: libuv polls).
        t = performance.now();
        await new Promise<void>((resolve) => setImmediate(resolve));
        wall.yield += performance.now() - t;
      } else {
        time.askForLease();
        this.loopStats.waits++;
        t = performance.now();
        await this.inbox.mailbox.wait(hbMs);
        wall.wait += performance.now() - t;
      }
    }
  }

  private finish(time: VirtualTime): void {
    const w = this.wallMs;
    const ms = (x: number) => `${Math.round(x)} ms`;
    const usage = process.cpuUsage();
    const { iterations, waits } = this.loopStats;
    this.log(`reached ${time.endNs} ns: ${iterations} steps; wall: model ${ms(w.model)}, sending ${ms(w.send)}, receiving ${ms(w.letters)}, waiting ${ms(w.wait)} (${waits}x), yielding ${ms(w.yield)}; cpu ${ms((usage.user + usage.system) / 1000)}`);
    time.finish();
  }

  private sendControl(body: Body): void {
    this.control.send(encode({ from: this.id < 0 ? 0 : this.id, vouch_ns: 0, body }, this.opts.secret));
  }
}
