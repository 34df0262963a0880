// The main loop's handling of what arrived: a peer's batch or promise (checked against what the
// protocol allows: a known sender, addressed to us, a promise never taken back) and the
// coordinator's words (leases, commands, deaths, the shutdown). Anything else is counted as
// malformed and dropped.
import type { Cpu } from "../model/cpu.ts";
import { COORDINATOR_ID, wireToBatch, type Envelope } from "../transport/codec.ts";
import { Refused } from "../transport/refusal.ts";
import type { Inbox } from "./inbox.ts";
import type { Lifecycle } from "./lifecycle.ts";
import type { Membership } from "./membership.ts";
import type { Reporting } from "./reporting.ts";
import type { VirtualTime } from "./time.ts";

export class Letters {
  constructor(
    private readonly self: number,
    private readonly cpu: Cpu,
    private readonly inbox: Inbox,
    private readonly life: Lifecycle,
    private readonly time: VirtualTime,
    private readonly reporting: Reporting,
    private readonly members: Membership,
    private readonly log: (line: string) => void,
  ) {}

  handleAll(): void {
    for (const { source, env } of this.inbox.mailbox.takeAll()) {
      if (source === "control") this.control(env);
      else this.peer(env);
    }
  }

  private bad(why: string): void {
    this.inbox.countMalformed("unexpected", why);
  }

  private peer(env: Envelope): void {
    const from = env.from;
    const { time, members } = this;
    if (from >= members.dead.length || from === this.self) return this.bad(`peer message claims to be from cpu ${from}`);
    const b = env.body;
    if (b.kind !== "batch" && b.kind !== "promise") return this.bad(`'${b.kind}' from cpu ${from} on the peer socket`);
    if (members.dead[from]) return; // it was declared dead: its late words no longer count
    if (env.vouch_ns < time.vouchOf(from)) return this.bad(`cpu ${from} took back its promise (${env.vouch_ns} < ${time.vouchOf(from)})`);
    if (b.kind === "batch") {
      if (b.batch.to !== this.self) return this.bad(`batch from cpu ${from} addressed to cpu ${b.batch.to}`);
      this.reporting.received(from, b.batch);
      if (!time.finished) this.cpu.deliver(wireToBatch(from, b.batch));
    }
    time.vouched(from, env.vouch_ns);
  }

  private control(env: Envelope): void {
    if (env.from !== COORDINATOR_ID) return this.bad(`control message from ${env.from}`);
    this.life.heard();
    const b = env.body;
    switch (b.kind) {
      case "heartbeat":
        return;
      case "lease":
        return this.time.leased(b.lease_ns, b.end_ns, this.log);
      case "command": {
        const cmd = b.command;
        const cpu = this.cpu;
        if (cmd.at_ns < cpu.clock) {
          this.log(`command ${cmd.kind} at ${cmd.at_ns} ns is behind my clock ${cpu.clock} ns; applied now`);
          cmd.at_ns = cpu.clock;
        }
        cpu.command(cmd);
        this.members.commanded(cmd);
        return;
      }
      case "peer_dead":
        return this.members.peerDead(b.cpu, b.report_seq);
      case "shutdown":
        return this.life.shutdown(b.reason, this.time.finished);
      case "error":
        return this.life.refused(new Refused(b.code, b.message));
      default:
        return this.bad(`'${b.kind}' from the coordinator`);
    }
  }
}
