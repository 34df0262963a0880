// What the coordinator's parts share: the run's configuration and phase, its members, the way to
// speak to them, and how the run ends (done() resolves with the results or rejects with the
// reason). Lifecycle, time and reporting (coordinator/lifecycle.ts, time.ts, reporting.ts) each take
// this; coordinator/coordinator.ts wires them to the socket.
import type { EmuConfig } from "../model/config.ts";
import { Interrupted } from "../engine/contract.ts";
import { COORDINATOR_ID, encode, type Body } from "../transport/codec.ts";
import type { WireKey } from "../transport/auth.ts";
import type { Link } from "../transport/link.ts";
import { CoordinatorError } from "./errors.ts";
import { MalformedCounts } from "./malformed.ts";
import { Members, type Member } from "./members.ts";
import type { CoordinatorOptions, Phase, ProcessesRunResults } from "./options.ts";

export class RunState {
  phase: Phase = "registering";
  /** What the dead CPUs held, as far as it is known (never down: coordinator/lifecycle.ts). */
  lostOnCrash = 0;
  readonly cfg: EmuConfig;
  readonly members: Members;
  readonly malformed: MalformedCounts;
  private finishedResolve!: (r: ProcessesRunResults) => void;
  private finishedReject!: (e: Error) => void;
  private readonly finished: Promise<ProcessesRunResults>;

  constructor(
    readonly opts: CoordinatorOptions,
    private readonly link: Link,
  ) {
    this.cfg = structuredClone(opts.cfg);
    this.members = new Members(this.cfg.cpus);
    this.malformed = new MalformedCounts((line) => this.log(line));
    this.finished = new Promise((resolve, reject) => {
      this.finishedResolve = resolve;
      this.finishedReject = reject;
    });
    this.finished.catch(() => {}); // observed through done()
  }

  log(line: string): void {
    this.opts.log(line);
  }

  /** To the connection `routingId`, sealed with `key` (the run's secret unless we cannot seal for it). */
  send(routingId: Buffer, body: Body, key: WireKey = this.opts.secret): void {
    this.link.send([routingId, encode({ from: COORDINATOR_ID, vouch_ns: 0, body }, key)]);
  }

  sendTo(m: Member, body: Body): void {
    this.send(m.routingId, body);
  }

  broadcast(body: Body): void {
    for (const m of this.members.all()) if (!m.dead) this.sendTo(m, body);
  }

  done(): Promise<ProcessesRunResults> {
    return this.finished;
  }

  finish(results: ProcessesRunResults): void {
    this.phase = "done";
    this.finishedResolve(results);
  }

  /** The run fails (a string: a CoordinatorError) or is stopped by a signal (an Interrupted); once. */
  fail(reason: string | Interrupted): void {
    if (this.phase === "done" || this.phase === "failed") return;
    this.phase = "failed";
    this.finishedReject(reason instanceof Interrupted ? reason : new CoordinatorError(reason));
  }
}
