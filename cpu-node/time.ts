// A CPU process's virtual time under conservative synchronisation (proto/PROTOCOL.md): it advances
// no further than the lease and every live peer's promise, stops at the run's shared schedule
// (engine/schedule.ts: checkpoints, samples, the end) to report, promises its peers what the model
// allows, and pauses while its links to slow peers are long (backpressure).
import type { EmuConfig } from "../model/config.ts";
import type { Cpu } from "../model/cpu.ts";
import { InvariantError } from "../model/assert.ts";
import { exactWindowNs } from "../model/defaults.ts";
import { deliverAt } from "../model/messages.ts";
import { Schedule } from "../engine/schedule.ts";
import type { Welcome } from "../transport/codec.ts";
import type { PeerLinks } from "../transport/peer-links.ts";
import { handOut } from "../transport/transport.ts";
import type { Reporting } from "./reporting.ts";

/** Outgoing messages queued in our own links before we stop advancing (peers are slow). */
export const OUTBOX_MAX = 512;

export class VirtualTime {
  /** Granted by the coordinator: we never advance past it. */
  lease: number;
  readonly schedule: Schedule;
  /** Per peer, its promise: nothing it sends takes effect before (ours: Infinity). */
  private readonly vouch: Float64Array;
  /** The smallest cross-CPU latency: a promise is at least that far ahead of its bound. */
  private readonly minLatencyNs: number;
  /** The model stopped at a sample time: its report follows once the batches are sent. */
  private sampleDue = false;
  private leaseWaitSentFor = -1;
  /** The model reached the end (the final report is out). */
  finished = false;

  constructor(
    private readonly cpu: Cpu,
    private readonly cfg: EmuConfig,
    private readonly w: Welcome,
    /** Per peer, 1 once declared dead: its promise no longer counts. */
    private readonly dead: Uint8Array,
    private readonly peers: PeerLinks,
    private readonly reporting: Reporting,
  ) {
    this.lease = w.lease_ns;
    this.schedule = new Schedule(w.check_interval_ns, w.series_interval_ns, cfg.duration_ns);
    this.vouch = new Float64Array(cfg.cpus);
    this.vouch[cpu.id] = Infinity;
    this.minLatencyNs = exactWindowNs(cfg.costs);
  }

  get endNs(): number {
    return this.schedule.endNs;
  }

  /** A lease from the coordinator, with the run's end (moved by a stop; 0: unchanged). */
  leased(leaseNs: number, endNs: number, log: (line: string) => void): void {
    if (leaseNs > this.lease) this.lease = leaseNs;
    if (endNs > 0 && endNs !== this.endNs) {
      if (endNs < this.cpu.clock) log(`end ${endNs} ns is behind my clock ${this.cpu.clock} ns; ignored`);
      else this.schedule.endAt(endNs);
    }
  }

  /** A peer's promise, as its message carries it (one taken back was dropped as malformed: letters.ts). */
  vouched(from: number, vouchNs: number): void {
    if (vouchNs < this.vouch[from]!) throw new InvariantError(`cpu ${from}'s promise went back: ${this.vouch[from]} -> ${vouchNs} ns`);
    this.vouch[from] = vouchNs;
  }

  vouchOf(peer: number): number {
    return this.vouch[peer]!;
  }

  private inputBound(): number {
    let t = Math.min(this.lease, this.endNs);
    for (let p = 0; p < this.cfg.cpus; p++) if (!this.dead[p] && this.vouch[p]! < t) t = this.vouch[p]!;
    return t;
  }

  /** Advance the model as far as is safe (bounded per call), unless peers push back. */
  step(): boolean {
    if (this.finished || this.peers.pending > OUTBOX_MAX) return false;
    const safe = this.inputBound();
    const cpu = this.cpu;
    if (safe <= cpu.clock) return false;
    const s = this.schedule;
    const target = Math.min(safe, cpu.clock + this.w.max_step_ns, s.sampleNs);
    // Checkpoints inside the step: the model stops there for its counters only; the batches stay
    // in the outbox, so peers get no extra message.
    while (s.checkNs < target) {
      cpu.advance(s.checkNs);
      this.checkpoint();
    }
    cpu.advance(target);
    if (cpu.clock > this.lease) throw new InvariantError(`cpu ${cpu.id} at ${cpu.clock} ns passed its lease ${this.lease} ns`);
    if (cpu.clock === s.sampleNs && cpu.clock < this.endNs) this.sampleDue = true;
    else if (cpu.clock === s.checkNs && cpu.clock < this.endNs) this.checkpoint();
    return true;
  }

  private checkpoint(): void {
    this.reporting.checkpoint();
    this.schedule.checked();
  }

  /** The sample report, after the batches sent: what they carry was no longer held at its time (crash.ts). */
  reportSample(): void {
    if (!this.sampleDue) return;
    this.sampleDue = false;
    const s = this.schedule;
    const check = this.cpu.clock === s.checkNs;
    this.reporting.report(false, false, true, check);
    if (check) s.checked();
    s.sampled();
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

  /** Send the model's batches and, where a peer has not heard it yet, the new promise. */
  sendOutput(): boolean {
    const vouchTo = this.promises();
    const sent = handOut(this.cpu, this.peers, vouchTo);
    // A promise-only message goes out when the promise moved by at least the smallest cross-CPU
    // latency (or to +Infinity). Deadlock-free: the peer whose last-sent promise is the lowest can
    // always move its own by that much (a promise is at least its bound plus that latency), and
    // it spares the cascade of tiny increments that CPUs feeding each other otherwise exchange.
    return this.peers.vouch(vouchTo, this.minLatencyNs) || sent;
  }

  /** Our promise to each peer: the receiving task's CPU may get an earlier one (model/lookahead.ts). */
  private promises(): (to: number) => number {
    if (this.finished) return () => Infinity;
    const bound = this.inputBound();
    const command = this.commandBoundNs();
    const toSocket = Math.min(this.cpu.promiseNs(bound), command);
    const socketCpu = this.cfg.receiver?.cpu;
    if (socketCpu === undefined || !this.cpu.remoteSocket) return () => toSocket;
    const toOthers = Math.min(this.cpu.promiseToOthersNs(bound), command);
    return (to) => (to === socketCpu ? toSocket : toOthers);
  }

  /** At the end: every peer hears +Infinity (we will never send again), then the final report. */
  finish(): void {
    this.finished = true;
    this.sendOutput();
    this.sampleDue = false;
    // The end is always a checkpoint (as in-process), when checkpoints are on.
    this.reporting.report(true, false, this.schedule.sampleNs === this.endNs, this.schedule.checkNs !== Infinity);
  }

  /** Blocked at the lease: say so once per lease, so the coordinator extends it. */
  askForLease(): void {
    if (this.finished || this.lease >= this.endNs || this.cpu.clock < this.lease) return;
    if (this.leaseWaitSentFor === this.lease) return;
    this.leaseWaitSentFor = this.lease;
    this.reporting.progress(true);
  }
}
