// A CPU process's life with its coordinator: the handshake (hello, then a Welcome, a refusal or a
// shutdown), the coordinator's silence judged by a failure detector (waited for while it is still
// connected: a frozen or starved coordinator resumes its run), and the way out, as an exit code.
import { performance } from "node:perf_hooks";
import type * as zmq from "zeromq";
import { FailureDetector } from "../liveness/failure-detector.ts";
import { SelfStall } from "../liveness/self-stall.ts";
import { COORDINATOR_ID, type Welcome } from "../transport/codec.ts";
import type { Letter } from "../transport/mailbox.ts";
import { Refused } from "../transport/refusal.ts";
import type { Inbox } from "./inbox.ts";

/** Process exit codes of `softnet-emu cpu`. */
export const CPU_EXIT = { ok: 0, internal: 1, refused: 2, usage: 2, coordinatorLost: 4 } as const;

export interface LifecycleOptions {
  /** The coordinator's endpoint (for the log). */
  coordinator: string;
  registerTimeoutMs: number;
  coordinatorTimeoutMs?: number;
  coordinatorWaitMs?: number;
}

export class Lifecycle {
  /** Set once the process should leave (the main loop ends): its exit code. */
  exitCode: number | null = null;
  /** The Welcome came: a refusal of our secret is no longer the coordinator's answer (inbox.ts). */
  welcomed = false;
  /** The control connection is up (zeromq's connect/disconnect events, or any word from it). */
  private connected = false;
  private suspected = false;
  private fd!: FailureDetector;
  private selfStall!: SelfStall;

  constructor(
    private readonly o: LifecycleOptions,
    private readonly inbox: Inbox,
    private readonly log: (line: string) => void,
  ) {}

  /** Watch the control connection (before connecting: a handshake that completes first would go unseen). */
  watch(dealer: zmq.Dealer): void {
    dealer.events.on("handshake", () => (this.connected = true));
    dealer.events.on("disconnect", () => (this.connected = false));
  }

  /** Wait for the Welcome (null: refused, shut down, or no word from the coordinator; exitCode says). */
  async awaitWelcome(closing: () => boolean): Promise<Welcome | null> {
    let lastWordMs = performance.now();
    const early: Letter[] = [];
    const mailbox = this.inbox.mailbox;
    while (!closing()) {
      for (const letter of mailbox.takeAll()) {
        if (letter.source === "peer") {
          early.push(letter); // a fast peer: handled once our model exists
          continue;
        }
        const b = letter.env.body;
        if (letter.env.from === COORDINATOR_ID) lastWordMs = performance.now();
        if (letter.env.from !== COORDINATOR_ID) this.inbox.countMalformed("unexpected", `control message from ${letter.env.from}`);
        else if (b.kind === "welcome") {
          this.welcomed = true;
          for (const l of early) mailbox.push(l);
          return b.welcome;
        } else if (b.kind === "error") {
          const refused = new Refused(b.code, b.message);
          this.log(`refused by the coordinator: ${refused.message}`);
          this.exitCode = refused.exitCode;
          return null;
        } else if (b.kind === "shutdown") {
          this.log(`coordinator shut down before the run: ${b.reason}`);
          this.exitCode = CPU_EXIT.ok;
          return null;
        } else if (b.kind !== "heartbeat") this.inbox.countMalformed("unexpected", `'${b.kind}' before welcome`);
      }
      const left = lastWordMs + this.o.registerTimeoutMs - performance.now();
      if (left <= 0) {
        this.log(`no word from the coordinator at ${this.o.coordinator} for ${this.o.registerTimeoutMs} ms while waiting for its welcome; exiting`);
        this.exitCode = CPU_EXIT.coordinatorLost;
        return null;
      }
      await mailbox.wait(Math.min(left, 200));
    }
    return null;
  }

  /** Welcomed: the coordinator's failure detector and our own stall watch start now. */
  started(w: Welcome): void {
    const now = performance.now();
    this.fd = new FailureDetector(this.o.coordinatorTimeoutMs ?? w.coordinator_timeout_ms, now);
    this.selfStall = new SelfStall(Math.max(1000, 5 * w.heartbeat_ms), now);
  }

  /** Any word from the coordinator: it is alive and connected. */
  heard(): void {
    this.fd.heard(performance.now());
    this.connected = true;
    if (this.suspected) {
      this.suspected = false;
      this.log("the coordinator is heard again; going on");
    }
  }

  /** The coordinator's shutdown: the end of a run we finished, else one that went on without us. */
  shutdown(reason: string, finished: boolean): void {
    if (finished) this.exitCode = CPU_EXIT.ok;
    else {
      // The run went on, or ended, without us (declared dead, interrupted): not a success.
      this.log(`shutdown before the end: ${reason}`);
      this.exitCode = CPU_EXIT.coordinatorLost;
    }
  }

  /** The coordinator's Error after the welcome: its refusal, typed, decides our exit code. */
  refused(refused: Refused): void {
    this.log(`coordinator error: ${refused.message}`);
    this.exitCode = refused.exitCode;
  }

  /**
   * Judge the coordinator's silence (after the letters were handled, never across a stall of our
   * own). Suspected: wait for it, since a frozen or starved coordinator resumes its run. Give up
   * (true, exitCode set) when its connection is gone too (it died), or when the wait runs out. Gone
   * after our final report: exitCode ok, and this iteration still runs to its end.
   */
  coordinatorLost(nowMs: number, finished: boolean): boolean {
    const stalled = this.selfStall.check(nowMs);
    if (stalled > 0) this.log(`this process was stalled for ${Math.round(stalled)} ms (frozen or starved): the coordinator's silence counts from now`);
    const fd = this.fd;
    if (!fd.suspect(nowMs, this.selfStall.endMs)) return false;
    const silence = Math.round(fd.silenceMs(nowMs, this.selfStall.endMs));
    const waitMs = Math.max(this.o.coordinatorWaitMs ?? 60_000, fd.floorMs);
    if (!this.connected) {
      if (finished) {
        // Our final report went out and the coordinator has left: the run is over for us.
        this.log(`coordinator gone (connection closed) after our final report; leaving`);
        this.exitCode = CPU_EXIT.ok;
        return false;
      }
      this.log(`coordinator silent for ${silence} ms and its connection is closed; exiting`);
      this.exitCode = CPU_EXIT.coordinatorLost;
      return true;
    }
    if (silence > waitMs) {
      this.log(`coordinator silent for ${silence} ms, longer than the ${waitMs} ms we wait for it; exiting`);
      this.exitCode = CPU_EXIT.coordinatorLost;
      return true;
    }
    if (!this.suspected) {
      this.suspected = true;
      this.log(`coordinator silent for ${silence} ms (limit ${Math.round(fd.limitMs())} ms): suspected; waiting up to ${waitMs} ms for it`);
    }
    return false;
  }
}
