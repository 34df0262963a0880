// Which peers are still in the run. A peer the coordinator declares dead (it crashed, or fell
// silent) is removed by surprise: we stop waiting for its promises, close its link, keep what we
// got from it since its last report for the crash policy, and take it offline in our model, where
// it stays even when the schedule would bring it back.
import type { EmuConfig } from "../model/config.ts";
import type { Cpu } from "../model/cpu.ts";
import type { CpuCommand } from "../model/messages.ts";
import type { PeerLinks } from "../transport/peer-links.ts";
import type { Reporting } from "./reporting.ts";

export class Membership {
  /** Per CPU, 1 once declared dead. */
  readonly dead: Uint8Array;
  /**
   * Online commands the coordinator gave that our clock has not passed (the scenario's own events
   * are in cfg). Bounded: each leaves once our clock passes it; what remains are the welcome's (a
   * finite nemesis schedule) and run-time ones, which the coordinator stamps at a lease's time.
   */
  private readonly onlines: { cpu: number; at_ns: number }[] = [];

  constructor(
    private readonly cpu: Cpu,
    private readonly cfg: EmuConfig,
    private readonly peers: PeerLinks,
    private readonly reporting: Reporting,
    private readonly finished: () => boolean,
    private readonly log: (line: string) => void,
  ) {
    this.dead = new Uint8Array(cfg.cpus);
  }

  /** A command given to our model: an online one is kept until passed, for peerDead(). */
  commanded(cmd: CpuCommand): void {
    const clock = this.cpu.clock;
    for (let i = this.onlines.length - 1; i >= 0; i--) if (this.onlines[i]!.at_ns < clock) this.onlines.splice(i, 1);
    if (cmd.kind === "online" && cmd.at_ns >= clock) this.onlines.push({ cpu: cmd.cpu, at_ns: cmd.at_ns });
  }

  /** Times at or after our clock when the schedule (scenario and commands so far) brings `cpu` online. */
  private onlineTimes(cpu: number): number[] {
    const clock = this.cpu.clock;
    const scheduled = [...this.cfg.events.map((e) => ({ kind: e.action, cpu: e.cpu, at_ns: e.at_ns })), ...this.onlines.map((o) => ({ kind: "online", ...o }))];
    return scheduled.filter((e) => e.kind === "online" && e.cpu === cpu && e.at_ns >= clock).map((e) => e.at_ns);
  }

  /** Surprise removal of a crashed peer: stop waiting for it and stop sending to it. */
  peerDead(cpu: number, reportSeq: number): void {
    if (cpu >= this.cfg.cpus || cpu === this.cpu.id || this.dead[cpu]) return;
    this.dead[cpu] = 1;
    this.peers.drop(cpu);
    const receipts = this.reporting.peerDead(cpu, reportSeq);
    // RPS must stop picking it: in our model it goes offline now (no hand-over will come), and
    // stays offline when the schedule would bring it back (same instant, applied after the online).
    this.cpu.peerCrashed(cpu);
    if (!this.finished()) {
      this.cpu.command({ kind: "offline", cpu, at_ns: this.cpu.clock });
      for (const at of this.onlineTimes(cpu)) this.cpu.command({ kind: "offline", cpu, at_ns: at });
    }
    this.log(`cpu ${cpu} declared dead by the coordinator; ${this.reporting.rxPackets[cpu]} packets came from it, ${receipts.fresh} injected after its last report`);
    this.reporting.report(false);
  }
}
