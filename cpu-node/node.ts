// One emulated CPU as an OS process: registers with the coordinator, owns one model Cpu, exchanges
// PeerBatches directly with its peers over PUSH/PULL, and advances under conservative
// synchronisation (proto/PROTOCOL.md): never past min(lease, every live peer's vouch_ns).
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import * as zmq from "zeromq";
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";
import { exactWindowNs } from "../model/defaults.ts";
import { batchIsEmpty, deliverAt, type CpuCommand, type PeerBatch } from "../model/messages.ts";
import { nextCheckpointNs } from "../engine/checkpoints.ts";
import { settleNs } from "../model/lookahead.ts";
import { sourceCount } from "../model/sources.ts";
import {
  COORDINATOR_ID,
  MALFORMED_KINDS,
  MalformedMessage,
  batchPackets,
  batchToWire,
  decode,
  encode,
  wireToBatch,
  wireToCommand,
  type Body,
  type CrashStamp,
  type DeadPeerReceipts,
  type Envelope,
  type MalformedKind,
  type Report,
  type WireBatch,
  type Welcome,
} from "../transport/codec.ts";
import type { WireKey } from "../transport/auth.ts";
import { logClosedConnections } from "../transport/closed-connections.ts";
import { FailureDetector } from "../liveness/failure-detector.ts";
import { SelfStall } from "../liveness/self-stall.ts";
import { endpointError } from "../transport/endpoint.ts";
import { Link } from "../transport/link.ts";
import { Mailbox, type Letter } from "../transport/mailbox.ts";
import { Receipts } from "./receipts.ts";

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

/** Process exit codes of `softnet-emu cpu`. */
export const CPU_EXIT = { ok: 0, internal: 1, refused: 2, usage: 2, coordinatorLost: 4 } as const;

/** Peer messages read ahead of the model at most; beyond it ZeroMQ queues and senders wait. */
const PEER_LETTERS_MAX = 256;
/** Outgoing messages queued in our own links before we stop advancing (peers are slow). */
const OUTBOX_MAX = 512;

export class CpuNode {
  private readonly mailbox = new Mailbox(PEER_LETTERS_MAX);
  private readonly dealer: zmq.Dealer;
  private readonly pull: zmq.Pull;
  private control!: Link;
  private links: (Link | null)[] = [];
  private id = -1;
  private n = 0;
  private cpu!: Cpu;
  private cfg!: EmuConfig;
  private welcome!: Welcome;
  private minLatencyNs = 0;
  /** Commands given by the coordinator (welcome and runtime), for the crash policy. */
  private readonly commandsSeen: CpuCommand[] = [];

  private vouch = new Float64Array(0);
  private sentVouch = new Float64Array(0);
  private dead = new Uint8Array(0);
  private txPackets = new Float64Array(0);
  private rxPackets = new Float64Array(0);
  private receipts = new Receipts(0);
  private readonly deadReceipts = new Map<number, DeadPeerReceipts>();
  private lease = 0;
  private endNs = 0;
  private finished = false;
  private exitCode: number | null = null;
  /** The coordinator's failure detector (from the Welcome on), and our own stalls. */
  private coordinatorFd!: FailureDetector;
  private selfStall!: SelfStall;
  private coordinatorSuspected = false;
  /** The control connection is up (zeromq's connect/disconnect events). */
  private connected = false;
  private lastReportMs = 0;
  /** Seq and clock of the latest full report, and what batches sent after it carry (receipts.ts). */
  private reportSeq = 0;
  private lastReportNs = 0;
  private stamp: CrashStamp = { report_seq: 0, inject_floor: [], unsure: false };
  private lastProgressNs = 0;
  /** Next series sample time (Infinity: none), same rule as engine/inprocess.ts. */
  private nextSampleNs = Infinity;
  /** Next conservation checkpoint (Infinity: none), engine/checkpoints.ts's schedule. */
  private nextCheckNs = Infinity;
  /** The model stopped at a sample time: its report follows once the batches are sent. */
  private sampleDue = false;
  private maxRssBytes = 0;
  private leaseWaitSentFor = -1;
  private readonly malformed = MALFORMED_KINDS.map(() => 0);
  private closing = false;
  private iterations = 0;
  private reportsSent = 0;
  private waits = 0;
  /** Wall time spent in the model, in sending, in handling letters, and waiting (ms). */
  private readonly wallMs = { model: 0, send: 0, letters: 0, wait: 0, yield: 0 };

  constructor(private readonly opts: CpuNodeOptions) {
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
    logClosedConnections(this.pull, { what: "peer inbox", maxFrameBytes: opts.secret.maxFrameBytes, log: (l) => this.log(l), active: () => this.welcome !== undefined && !this.finished && !this.closing });
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
      // (Any message from the coordinator also proves the connection: see handleControl.)
      this.dealer.events.on("handshake", () => (this.connected = true));
      this.dealer.events.on("disconnect", () => (this.connected = false));
      try {
        this.dealer.connect(this.opts.coordinator);
      } catch (e) {
        throw endpointError("--coordinator", this.opts.coordinator, "connect", e);
      }
      this.control = new Link(this.dealer, () => this.mailbox.notify(), (e) => this.log(`coordinator link: ${e.message}`));
      void this.receiveLoop(this.dealer, "control");
      void this.receiveLoop(this.pull, "peer");
      this.sendControl({ kind: "hello", hello: { requested_id: this.opts.id, endpoint, pid: process.pid } });
      const welcomed = await this.awaitWelcome();
      if (!welcomed) return this.exitCode ?? CPU_EXIT.coordinatorLost;
      this.setUp(endpoint);
      await this.loop();
      return this.exitCode ?? CPU_EXIT.ok;
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    for (const l of this.links) l?.close();
    this.dealer.close();
    this.pull.close();
    this.mailbox.notify();
  }

  // ---------------------------------------------------------------- receiving

  private async receiveLoop(sock: zmq.Pull | zmq.Dealer, source: Letter["source"]): Promise<void> {
    try {
      for await (const frames of sock) {
        const frame = frames[frames.length - 1]!;
        let env: Envelope;
        try {
          if (frames.length !== 1) throw new MalformedMessage(`${frames.length}-part message`);
          env = decode(frame, this.opts.secret);
        } catch (e) {
          // Before the welcome, the coordinator's refusal of our secret (it cannot seal that for us).
          const refusal = e instanceof MalformedMessage && source === "control" && this.welcome === undefined ? e.authRefusal : undefined;
          if (refusal) {
            this.mailbox.push({ source, env: refusal });
            continue;
          }
          this.countMalformed(e instanceof MalformedMessage ? e.kind : "decode_error", `${source} socket: ${(e as Error).message}`);
          continue;
        }
        this.mailbox.push({ source, env });
        if (source === "peer") await this.mailbox.hasRoom();
      }
    } catch (e) {
      if (!this.closing) this.log(`${source} receive loop ended: ${(e as Error).message}`);
    }
  }

  private countMalformed(kind: MalformedKind, why: string): void {
    const i = MALFORMED_KINDS.indexOf(kind);
    this.malformed[i]!++;
    // Log the first few and then every 100th: a flood must not become a log flood.
    const total = this.malformed.reduce((a, b) => a + b, 0);
    if (total <= 5 || total % 100 === 0) this.log(`dropped malformed message #${total} (${kind}): ${why}`);
  }

  private async awaitWelcome(): Promise<boolean> {
    let lastWordMs = performance.now();
    const early: Letter[] = [];
    while (!this.closing) {
      for (const letter of this.mailbox.takeAll()) {
        if (letter.source === "peer") {
          early.push(letter); // a fast peer: handled once our model exists
          continue;
        }
        const b = letter.env.body;
        if (letter.env.from === COORDINATOR_ID) lastWordMs = performance.now();
        if (letter.env.from !== COORDINATOR_ID) this.countMalformed("unexpected", `control message from ${letter.env.from}`);
        else if (b.kind === "welcome") {
          this.welcome = b.welcome;
          for (const l of early) this.mailbox.push(l);
          return true;
        } else if (b.kind === "error") {
          this.log(`refused by the coordinator: ${b.message}`);
          this.exitCode = CPU_EXIT.refused;
          return false;
        } else if (b.kind === "shutdown") {
          this.log(`coordinator shut down before the run: ${b.reason}`);
          this.exitCode = CPU_EXIT.ok;
          return false;
        } else if (b.kind !== "heartbeat") this.countMalformed("unexpected", `'${b.kind}' before welcome`);
      }
      const left = lastWordMs + this.opts.registerTimeoutMs - performance.now();
      if (left <= 0) {
        this.log(`no word from the coordinator at ${this.opts.coordinator} for ${this.opts.registerTimeoutMs} ms while waiting for its welcome; exiting`);
        this.exitCode = CPU_EXIT.coordinatorLost;
        return false;
      }
      await this.mailbox.wait(Math.min(left, 200));
    }
    return false;
  }

  private setUp(ownEndpoint: string): void {
    const w = this.welcome;
    this.id = w.cpu;
    this.cfg = JSON.parse(w.config_json) as EmuConfig;
    this.n = this.cfg.cpus;
    this.cpu = new Cpu(this.id, this.cfg);
    this.minLatencyNs = exactWindowNs(this.cfg.costs);
    this.cpu.warnLog = (line) => this.log(line);
    for (const c of w.commands) {
      try {
        const cmd = wireToCommand(c);
        this.cpu.command(cmd);
        this.commandsSeen.push(cmd);
      } catch (e) {
        if (!(e instanceof MalformedMessage)) throw e;
        this.countMalformed(e.kind, `welcome command: ${e.message}`);
      }
    }
    this.lease = w.lease_ns;
    this.endNs = this.cfg.duration_ns;
    if (w.series_interval_ns > 0) this.nextSampleNs = Math.min(w.series_interval_ns, this.endNs);
    if (w.check_interval_ns > 0) this.nextCheckNs = Math.min(w.check_interval_ns, this.endNs);
    this.vouch = new Float64Array(this.n);
    this.vouch[this.id] = Infinity;
    this.sentVouch = new Float64Array(this.n).fill(-1);
    this.dead = new Uint8Array(this.n);
    this.txPackets = new Float64Array(this.n);
    this.rxPackets = new Float64Array(this.n);
    this.receipts = new Receipts(this.n);
    this.stamp = { report_seq: 0, inject_floor: this.injectFloors(), unsure: false };
    this.links = w.endpoints.map((ep, peer) => {
      if (peer === this.id) return null;
      const push = new zmq.Push({ linger: 0, sendHighWaterMark: 1000 });
      push.connect(ep);
      return new Link(push, () => this.mailbox.notify(), (e) => this.log(`link to cpu ${peer}: ${e.message}`));
    });
    const now = performance.now();
    this.coordinatorFd = new FailureDetector(this.opts.coordinatorTimeoutMs ?? w.coordinator_timeout_ms, now);
    this.selfStall = new SelfStall(Math.max(1000, 5 * w.heartbeat_ms), now);
    this.log(`cpu ${this.id} of ${this.n} (${this.cfg.profile.name}), peers reach me at ${ownEndpoint}`);
  }

  // ---------------------------------------------------------------- the main loop

  private async loop(): Promise<void> {
    const hbMs = this.welcome.heartbeat_ms;
    while (this.exitCode === null && !this.closing) {
      let t = performance.now();
      this.handleLetters();
      const nowMs = performance.now();
      this.wallMs.letters += nowMs - t;
      if (this.exitCode !== null) break;
      if (this.coordinatorLost(nowMs)) {
        this.exitCode = CPU_EXIT.coordinatorLost;
        break;
      }
      this.iterations++;
      const progressed = this.step();
      t = performance.now();
      this.wallMs.model += t - nowMs;
      const sent = this.sendOutput();
      this.wallMs.send += performance.now() - t;
      if (this.sampleDue) this.reportSample();
      if (!this.finished && this.cpu.clock >= this.endNs) this.finish();
      if (performance.now() - this.lastReportMs >= hbMs) this.report(false);
      else if (this.cpu.clock - this.lastProgressNs >= this.welcome.progress_every_ns) this.progress(false);
      if (progressed || sent) {
        // Let the receive loops and the links run (they are macrotasks: libuv polls).
        t = performance.now();
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.wallMs.yield += performance.now() - t;
      } else {
        this.askForLease();
        this.waits++;
        t = performance.now();
        await this.mailbox.wait(hbMs);
        this.wallMs.wait += performance.now() - t;
      }
    }
  }

  /**
   * Judge the coordinator's silence (after the letters were handled, never across a stall of our
   * own). Suspected: wait for it, since a frozen or starved coordinator resumes its run. Give up
   * when its connection is gone too (it died), or when the wait runs out.
   */
  private coordinatorLost(nowMs: number): boolean {
    const stalled = this.selfStall.check(nowMs);
    if (stalled > 0) this.log(`this process was stalled for ${Math.round(stalled)} ms (frozen or starved): the coordinator's silence counts from now`);
    const fd = this.coordinatorFd;
    if (!fd.suspect(nowMs, this.selfStall.endMs)) return false;
    const silence = Math.round(fd.silenceMs(nowMs, this.selfStall.endMs));
    const waitMs = Math.max(this.opts.coordinatorWaitMs ?? 60_000, fd.floorMs);
    if (!this.connected) {
      if (this.finished) {
        // Our final report went out and the coordinator has left: the run is over for us.
        this.log(`coordinator gone (connection closed) after our final report; leaving`);
        this.exitCode = CPU_EXIT.ok;
        return false;
      }
      this.log(`coordinator silent for ${silence} ms and its connection is closed; exiting`);
      return true;
    }
    if (silence > waitMs) {
      this.log(`coordinator silent for ${silence} ms, longer than the ${waitMs} ms we wait for it; exiting`);
      return true;
    }
    if (!this.coordinatorSuspected) {
      this.coordinatorSuspected = true;
      this.log(`coordinator silent for ${silence} ms (limit ${Math.round(fd.limitMs())} ms): suspected; waiting up to ${waitMs} ms for it`);
    }
    return false;
  }

  private inputBound(): number {
    let t = Math.min(this.lease, this.endNs);
    for (let p = 0; p < this.n; p++) if (!this.dead[p] && this.vouch[p]! < t) t = this.vouch[p]!;
    return t;
  }

  /** Advance the model as far as is safe (bounded per call), unless peers push back. */
  private step(): boolean {
    if (this.finished || this.backpressured()) return false;
    const safe = this.inputBound();
    if (safe <= this.cpu.clock) return false;
    const target = Math.min(safe, this.cpu.clock + this.welcome.max_step_ns, this.nextSampleNs);
    // Checkpoints inside the step: the model stops there for its counters only; the batches stay
    // in the outbox, so peers get no extra message.
    while (this.nextCheckNs < target) {
      this.cpu.advance(this.nextCheckNs);
      this.reportCheckpoint();
    }
    this.cpu.advance(target);
    if (this.cpu.clock === this.nextSampleNs && this.cpu.clock < this.endNs) this.sampleDue = true;
    else if (this.cpu.clock === this.nextCheckNs && this.cpu.clock < this.endNs) this.reportCheckpoint();
    return true;
  }

  /** The sample report, after the batches sent: what they carry was no longer held at its time (crash.ts). */
  private reportSample(): void {
    this.sampleDue = false;
    const check = this.cpu.clock === this.nextCheckNs;
    this.report(false, false, true, check);
    if (check) this.nextCheckNs = nextCheckpointNs(this.nextCheckNs, this.welcome.check_interval_ns, this.endNs);
    this.nextSampleNs = this.followingSampleNs(this.nextSampleNs);
  }

  /**
   * Counters at a checkpoint for the coordinator's conservation check: a consistent cut, since every
   * CPU reports at exactly this virtual time. Not a crash-policy report (it does not move
   * lastReportNs): batches filled before it may still be in the outbox.
   */
  private reportCheckpoint(): void {
    this.lastProgressNs = this.cpu.clock;
    this.sendControl({ kind: "report", report: { ...this.emptyReport(), now_ns: this.cpu.clock, counters_json: JSON.stringify(this.cpu.counters(false)), checkpoint: true } });
    this.nextCheckNs = nextCheckpointNs(this.nextCheckNs, this.welcome.check_interval_ns, this.endNs);
  }

  private followingSampleNs(t: number): number {
    const every = this.welcome.series_interval_ns;
    return t + every > this.endNs ? (t < this.endNs ? this.endNs : Infinity) : t + every;
  }

  /**
   * The coordinator may still send a command at any time >= our lease (control API), and the model
   * cannot know of it yet: what it makes us send takes effect at deliverAt(lease, ...) at the
   * earliest, so no promise goes past that. Costs nothing in practice: we cannot pass the lease anyway.
   */
  private commandBoundNs(): number {
    if (this.lease >= this.endNs) return Infinity;
    return deliverAt(this.lease, this.minLatencyNs, this.cfg.window_ns);
  }

  private backpressured(): boolean {
    let pending = 0;
    for (const l of this.links) if (l) pending += l.pending;
    return pending > OUTBOX_MAX;
  }

  /** Send the model's batches and, where a peer has not heard it yet, the new promise. */
  private sendOutput(): boolean {
    const promise = this.finished ? Infinity : Math.min(this.cpu.promiseNs(this.inputBound()), this.commandBoundNs());
    let sent = false;
    for (const batch of this.cpu.takeOutbox()) {
      if (batchIsEmpty(batch)) continue;
      sent = this.sendBatch(batch, promise) || sent;
    }
    // A promise-only message goes out when the promise moved by at least the smallest cross-CPU
    // latency (or to +Infinity). Deadlock-free: the peer whose last-sent promise is the lowest can
    // always move its own by that much (a promise is at least its bound plus that latency), and
    // it spares the cascade of tiny increments that CPUs feeding each other otherwise exchange.
    const minMove = this.minLatencyNs;
    for (let p = 0; p < this.n; p++) {
      if (p === this.id || this.dead[p] || this.sentVouch[p]! >= promise) continue;
      if (promise !== Infinity && promise - this.sentVouch[p]! < minMove && this.sentVouch[p]! >= 0) continue;
      this.sendPeer(p, { kind: "promise" }, promise);
      sent = true;
    }
    return sent;
  }

  private sendBatch(batch: PeerBatch, promise: number): boolean {
    const to = batch.to;
    const packets = batchPackets(batch);
    this.txPackets[to]! += packets;
    // A crashed peer takes nothing: what we would have sent it is lost with it (tx counts it).
    if (this.dead[to] || to === this.id) return false;
    this.sendPeer(to, { kind: "batch", batch: batchToWire(batch, this.crashStamp()) }, promise);
    return true;
  }

  private sendPeer(to: number, body: Body, vouchNs: number): void {
    this.sentVouch[to] = vouchNs;
    this.links[to]?.send(encode({ from: this.id, vouch_ns: vouchNs, body }, this.opts.secret));
  }

  private sendControl(body: Body): void {
    this.control.send(encode({ from: this.id < 0 ? 0 : this.id, vouch_ns: 0, body }, this.opts.secret));
  }

  private finish(): void {
    this.finished = true;
    const w = this.wallMs;
    const ms = (x: number) => `${Math.round(x)} ms`;
    const cpu = process.cpuUsage();
    this.log(`reached ${this.endNs} ns: ${this.iterations} steps; wall: model ${ms(w.model)}, sending ${ms(w.send)}, receiving ${ms(w.letters)}, waiting ${ms(w.wait)} (${this.waits}x), yielding ${ms(w.yield)}; cpu ${ms((cpu.user + cpu.system) / 1000)}`);
    this.sendOutput(); // every peer hears +Infinity: we will never send again
    this.sampleDue = false;
    // The end is always a checkpoint (as in-process), when checkpoints are on.
    this.report(true, false, this.nextSampleNs === this.endNs, this.nextCheckNs !== Infinity);
  }

  private askForLease(): void {
    if (this.finished || this.lease >= this.endNs || this.cpu.clock < this.lease) return;
    if (this.leaseWaitSentFor === this.lease) return;
    this.leaseWaitSentFor = this.lease;
    this.progress(true);
  }

  /** A light report: how far we are (the coordinator extends leases from these). */
  private progress(leaseWait: boolean): void {
    this.lastProgressNs = this.cpu.clock;
    this.sendControl({ kind: "report", report: { ...this.emptyReport(), now_ns: this.cpu.clock, lease_wait: leaseWait } });
  }

  private emptyReport(): Report {
    return {
      final: false, now_ns: 0, counters_json: "", tx_packets: [], rx_packets: [], lease_wait: false, malformed: [], dead_receipts: [],
      messages_sent: 0, bytes_sent: 0, loop_iterations: 0, waits: 0, max_rss_bytes: 0, sample: false, checkpoint: false, seq: 0,
    };
  }

  /** A full report: counters at the current clock, transport statistics (also the heartbeat). */
  private report(final: boolean, leaseWait = false, sample = false, checkpoint = false): void {
    const counters = this.cpu.counters();
    this.lastReportMs = performance.now();
    this.lastReportNs = this.cpu.clock;
    this.reportSeq++;
    this.stamp = { report_seq: this.reportSeq, inject_floor: this.injectFloors(), unsure: false };
    this.lastProgressNs = this.cpu.clock;
    this.sendControl({
      kind: "report",
      report: {
        final,
        now_ns: this.cpu.clock,
        counters_json: JSON.stringify(counters),
        tx_packets: [...this.txPackets],
        rx_packets: [...this.rxPackets],
        lease_wait: leaseWait,
        malformed: this.malformed,
        dead_receipts: [...this.deadReceipts.values()],
        ...this.transportStats(),
        sample,
        checkpoint,
        seq: this.reportSeq,
      },
    });
  }

  /** Per source: the last injection this CPU counted (-1: none yet), or -2 if not its source. */
  private injectFloors(): number[] {
    const floors = new Array<number>(sourceCount(this.cfg)).fill(-2);
    for (const s of this.cpu.sources.values()) floors[s.index] = s.lastInjectNs;
    return floors;
  }

  /**
   * The crash stamp of a batch sent now. Unsure while a mask change (hotplug, IRQ move) that could
   * still bring hand-overs and forwards was in effect at or after the report: packets injected
   * elsewhere may then pass through us, and the floors would count them as ours.
   */
  private crashStamp(): CrashStamp {
    const unsure = this.cpu.lastMaskChangeNs + settleNs(this.cpu) >= this.lastReportNs;
    if (unsure !== this.stamp.unsure) this.stamp = { ...this.stamp, unsure };
    return this.stamp;
  }

  private transportStats(): Pick<Report, "messages_sent" | "bytes_sent" | "loop_iterations" | "waits" | "max_rss_bytes"> {
    let messages = 0;
    let bytes = 0;
    for (const l of this.links) {
      if (!l) continue;
      messages += l.sentMessages;
      bytes += l.sentBytes;
    }
    // getrusage showed up in profiles when called per report: once a second is plenty.
    if (this.iterations === 0 || this.finished || this.reportsSent++ % 10 === 0) this.maxRssBytes = process.resourceUsage().maxRSS * 1024;
    return { messages_sent: messages, bytes_sent: bytes, loop_iterations: this.iterations, waits: this.waits, max_rss_bytes: this.maxRssBytes };
  }

  // ---------------------------------------------------------------- handling messages

  private handleLetters(): void {
    for (const { source, env } of this.mailbox.takeAll()) {
      if (source === "control") this.handleControl(env);
      else this.handlePeer(env);
    }
  }

  private handlePeer(env: Envelope): void {
    const from = env.from;
    if (from >= this.n || from === this.id) return this.countMalformed("unexpected", `peer message claims to be from cpu ${from}`);
    const b = env.body;
    if (b.kind !== "batch" && b.kind !== "promise") return this.countMalformed("unexpected", `'${b.kind}' from cpu ${from} on the peer socket`);
    if (this.dead[from]) return; // it was declared dead: its late words no longer count
    if (env.vouch_ns < this.vouch[from]!) return this.countMalformed("unexpected", `cpu ${from} took back its promise (${env.vouch_ns} < ${this.vouch[from]})`);
    if (b.kind === "batch") {
      if (b.batch.to !== this.id) return this.countMalformed("unexpected", `batch from cpu ${from} addressed to cpu ${b.batch.to}`);
      this.receive(from, b.batch);
    }
    this.vouch[from] = env.vouch_ns;
  }

  private receive(from: number, w: WireBatch): void {
    const packets = batchPackets(w);
    this.rxPackets[from]! += packets;
    if (packets > 0) this.receipts.note(from, w);
    if (!this.finished) this.cpu.deliver(wireToBatch(from, w));
  }

  private handleControl(env: Envelope): void {
    if (env.from !== COORDINATOR_ID) return this.countMalformed("unexpected", `control message from ${env.from}`);
    this.coordinatorFd.heard(performance.now());
    this.connected = true;
    if (this.coordinatorSuspected) {
      this.coordinatorSuspected = false;
      this.log("the coordinator is heard again; going on");
    }
    const b = env.body;
    switch (b.kind) {
      case "heartbeat":
        return;
      case "lease":
        if (b.lease_ns > this.lease) this.lease = b.lease_ns;
        if (b.end_ns > 0 && b.end_ns !== this.endNs) {
          if (b.end_ns < this.cpu.clock) this.log(`end ${b.end_ns} ns is behind my clock ${this.cpu.clock} ns; ignored`);
          else {
            this.endNs = b.end_ns;
            if (this.nextSampleNs > this.endNs && this.nextSampleNs !== Infinity) this.nextSampleNs = this.endNs;
            if (this.nextCheckNs > this.endNs && this.nextCheckNs !== Infinity) this.nextCheckNs = this.endNs;
          }
        }
        return;
      case "command": {
        let cmd;
        try {
          cmd = wireToCommand(b.command);
        } catch (e) {
          if (!(e instanceof MalformedMessage)) throw e;
          return this.countMalformed(e.kind, `command from the coordinator: ${e.message}`);
        }
        if (cmd.at_ns < this.cpu.clock) {
          this.log(`command ${cmd.kind} at ${cmd.at_ns} ns is behind my clock ${this.cpu.clock} ns; applied now`);
          cmd.at_ns = this.cpu.clock;
        }
        this.cpu.command(cmd);
        this.commandsSeen.push(cmd);
        return;
      }
      case "peer_dead":
        return this.peerDead(b.cpu, b.report_seq);
      case "shutdown":
        if (this.finished) this.exitCode = CPU_EXIT.ok;
        else {
          // The run went on, or ended, without us (declared dead, interrupted): not a success.
          this.log(`shutdown before the end: ${b.reason}`);
          this.exitCode = CPU_EXIT.coordinatorLost;
        }
        return;
      case "error":
        this.log(`coordinator error: ${b.message}`);
        this.exitCode = CPU_EXIT.refused;
        return;
      default:
        return this.countMalformed("unexpected", `'${b.kind}' from the coordinator`);
    }
  }

  /** Times at or after our clock when the schedule (scenario and commands so far) brings `cpu` online. */
  private onlineTimes(cpu: number): number[] {
    const scheduled = [...this.cfg.events.map((e) => ({ kind: e.action, cpu: e.cpu, at_ns: e.at_ns })), ...this.commandsSeen];
    return scheduled.filter((e) => e.kind === "online" && e.cpu === cpu && e.at_ns >= this.cpu.clock).map((e) => e.at_ns);
  }

  /** Surprise removal of a crashed peer: stop waiting for it and stop sending to it. */
  private peerDead(cpu: number, reportSeq: number): void {
    if (cpu >= this.n || cpu === this.id || this.dead[cpu]) return;
    this.dead[cpu] = 1;
    this.links[cpu]?.close();
    this.links[cpu] = null;
    const receipts = this.receipts.since(cpu, reportSeq);
    this.deadReceipts.set(cpu, receipts);
    // RPS must stop picking it: in our model it goes offline now (no hand-over will come), and
    // stays offline when the schedule would bring it back (same instant, applied after the online).
    if (!this.finished) {
      this.cpu.command({ kind: "offline", cpu, at_ns: this.cpu.clock });
      for (const at of this.onlineTimes(cpu)) this.cpu.command({ kind: "offline", cpu, at_ns: at });
    }
    this.log(`cpu ${cpu} declared dead by the coordinator; ${this.rxPackets[cpu]} packets came from it, ${receipts.fresh} injected after its last report`);
    this.report(false);
  }
}
