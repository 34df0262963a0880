// Rate and hot_flow commands for a load source (docs/DESIGN.md §2.6): applied by the source's
// owner; one that came while the source was on its way here is replayed when it lands.
import type { CpuState, SourceCommand } from "./cpu-state.ts";
import { nicFillRing } from "./nic.ts";
import type { SourceState } from "./sources.ts";

/** A rate or hot_flow command for a source this CPU owns (or adopts from a hand-over). */
export function applySourceCommand(cpu: CpuState, s: SourceState, cmd: SourceCommand): void {
  // Replayed after a hand-over: the old owner may have applied it just before handing over.
  if (cmd.kind === "rate" && s.gen.hasRate(cmd.pps, cmd.at_ns)) return;
  if (s.kind === "nic") nicFillRing(cpu, s, cmd.at_ns);
  if (cmd.kind === "rate") s.gen.setRate(cmd.pps, cmd.at_ns);
  else s.gen.hotShare = cmd.share;
  const task = cpu.senderTasks.get(cmd.source);
  if (task && task.state === "interruptible") cpu.scheduleSenderWake(task, cmd.at_ns);
}

/** A command for a source that is not ours — or in a hand-over to us: kept a while for the replay. */
export function keepMissedSourceCommand(cpu: CpuState, cmd: SourceCommand): void {
  const keepNs = cpu.now - Math.max(cpu.costs.hotplug_latency_ns, cpu.windowNs) - 1;
  cpu.missedSourceCommands = cpu.missedSourceCommands.filter((c) => c.at_ns >= keepNs);
  cpu.missedSourceCommands.push(cmd);
}

/** Apply the rate/hot_flow commands that came while `s` travelled to us (sent at handoverNs). */
export function replayMissedSourceCommands(cpu: CpuState, s: SourceState, handoverNs: number): void {
  for (const cmd of cpu.missedSourceCommands) if (cmd.source === s.index && cmd.at_ns >= handoverNs) applySourceCommand(cpu, s, cmd);
}
