// The commands of a run besides the scenario's events: a nemesis schedule known before the start
// and the control API's commands, each at the virtual time the coordinator gave it.
import type { EmuConfig } from "../model/config.ts";
import type { CpuCommand } from "../model/messages.ts";

export class CommandLog {
  /**
   * Every runtime command, kept for the whole run: the hotplug ones are the results' events and
   * all of them the status's. It grows only by the control API's authenticated commands (an
   * operator's, or a chaos run's schedule), never by what the CPUs send.
   */
  private readonly runtime: CpuCommand[] = [];

  constructor(
    private readonly cfg: EmuConfig,
    private readonly preset: readonly CpuCommand[],
  ) {}

  add(cmd: CpuCommand): void {
    this.runtime.push(cmd);
  }

  /** The scenario's events plus the hotplug commands given at run time, in time order. */
  recordedEvents(): EmuConfig["events"] {
    const runtime = this.runtime.flatMap((c) => (c.kind === "offline" || c.kind === "online" ? [{ at_ns: c.at_ns, cpu: c.cpu, action: c.kind }] : []));
    return [...this.cfg.events, ...runtime].sort((a, b) => a.at_ns - b.at_ns);
  }

  /** Online state of `cpu` at virtual time `atNs`, after the scenario's events and every command. */
  onlineAt(cpu: number, atNs: number): boolean {
    let online = true;
    const events = [...this.cfg.events.map((e) => ({ at_ns: e.at_ns, cpu: e.cpu, kind: e.action })), ...this.preset, ...this.runtime];
    for (const e of events.sort((a, b) => a.at_ns - b.at_ns))
      if ((e.kind === "offline" || e.kind === "online") && e.cpu === cpu && e.at_ns <= atNs) online = e.kind === "online";
    return online;
  }

  /** The runtime commands, copied (the status's list). */
  view(): CpuCommand[] {
    return this.runtime.map((c) => ({ ...c }));
  }
}
