// Commands applied to a CPU at their virtual time (docs/DESIGN.md §1.8, §2.6): sysctl and sysfs
// writes (net.core.*, rps_cpus, smp_affinity), hotplug (offline/online), load changes, and the
// nemesis's irq_off and ipi_delay. Every CPU gets every command: each keeps its own view of the
// online mask and the configuration.
import { assert } from "./assert.ts";
import type { CpuState } from "./cpu-state.ts";
import { rehomeSources } from "./hotplug.ts";
import { forwardTarget, hotplugRole } from "./lookahead.ts";
import type { CpuCommand } from "./messages.ts";
import { applySourceCommand, keepMissedSourceCommand } from "./source-commands.ts";

/** A command to apply at cmd.at_ns: a timer, and what the lookahead must know of it now. */
export function scheduleCommand(cpu: CpuState, cmd: CpuCommand): void {
  assert(cmd.at_ns >= cpu.clock, "a command before the CPU's clock");
  cpu.pushTimer({ at: cmd.at_ns, prio: 0, seq: 0, kind: "command", command: cmd });
  // Commands after which inputs can make this CPU send, or a source send sooner (see lookahead.ts).
  const changesLookahead =
    cmd.kind === "offline" ||
    cmd.kind === "online" ||
    cmd.kind === "irq_affinity" ||
    cmd.kind === "rate" ||
    (cmd.kind === "sysctl" && cmd.key === "rps_sock_flow_entries");
  if (changesLookahead) cpu.pendingCommandTimes.add(cmd.at_ns);
  if (cmd.kind === "irq_off") cpu.maxIrqOffNs = Math.max(cpu.maxIrqOffNs, cmd.duration_ns);
}

/** The command's time has come (cpu.now = cmd.at_ns). */
export function applyCommand(cpu: CpuState, cmd: CpuCommand): void {
  switch (cmd.kind) {
    case "rate":
    case "hot_flow": {
      if (cmd.kind === "rate") cpu.pendingCommandTimes.remove(cmd.at_ns);
      const s = cpu.sources.get(cmd.source);
      if (s) return applySourceCommand(cpu, s, cmd);
      // Not ours — or in a hand-over to us: queueHandoverArrived() replays it then.
      return keepMissedSourceCommand(cpu, cmd);
    }
    case "sysctl":
      cpu.cfg.sysctls[cmd.key] = cmd.value;
      // A lower limit leaves a longer queue as it is (the kernel trims nothing).
      if (cmd.key === "netdev_max_backlog") cpu.backlogBound = Math.max(cpu.backlogBound, cmd.value + 1);
      if (cmd.key === "rps_sock_flow_entries") {
        cpu.rfsOn = cmd.value > 0;
        dropPendingCommand(cpu, cmd.at_ns);
      }
      return;
    case "rps": {
      cpu.socketDeliverers = null;
      const nq = cpu.cfg.queues.length;
      if (cmd.source < nq) cpu.cfg.queues[cmd.source]!.rps_cpus = [...cmd.cpus];
      else if (cpu.cfg.senders[cmd.source - nq]) cpu.cfg.senders[cmd.source - nq]!.rps_cpus = [...cmd.cpus];
      return;
    }
    case "irq_affinity":
      cpu.socketDeliverers = null;
      if (cpu.cfg.queues[cmd.queue]) cpu.cfg.queues[cmd.queue]!.irq_affinity = [...cmd.cpus];
      cpu.rehomeNeeded = true;
      dropPendingCommand(cpu, cmd.at_ns);
      roleMayChange(cpu, cmd.at_ns);
      if (cpu.online) rehomeSources(cpu);
      return;
    case "irq_off":
      if (cmd.cpu === cpu.id && cpu.online) {
        // local_irq_disable() + local_bh_disable() around a long section: nothing else runs.
        const start = Math.max(cpu.now, cpu.busyUntil);
        cpu.busyUntil = start + cmd.duration_ns;
        cpu.c.busy_ns.irqs_off += cmd.duration_ns;
      }
      return;
    case "ipi_delay":
      if (cmd.cpu === cpu.id) {
        cpu.ipiDelayNs = cmd.extra_ns;
        cpu.ipiDelayUntilNs = cmd.until_ns;
      }
      return;
    case "offline":
    case "online":
      return applyHotplug(cpu, cmd);
  }
}

/** echo 0/1 > /sys/devices/system/cpu/cpuN/online: the mask changes now, the CPU at its next step. */
function applyHotplug(cpu: CpuState, cmd: Extract<CpuCommand, { kind: "offline" | "online" }>): void {
  dropPendingCommand(cpu, cmd.at_ns);
  // A peer's bit cleared: it will run its offline transition (dev_cpu_dead) once, when its step
  // allows; its record says when it did (lookahead.ts). A crashed peer sends none.
  if (cmd.kind === "offline" && cmd.cpu !== cpu.id && cpu.onlineMask[cmd.cpu] === 1 && !cpu.crashedPeers[cmd.cpu]) {
    cpu.downsAwaited[cmd.cpu]!++;
    cpu.downsAwaitedTotal++;
  }
  cpu.onlineMask[cmd.cpu] = cmd.kind === "online" ? 1 : 0;
  cpu.socketDeliverers = null;
  cpu.rehomeNeeded = true;
  roleMayChange(cpu, cmd.at_ns);
  if (cmd.cpu === cpu.id) {
    if (cmd.kind === "offline") cpu.maskOfflineNs = cmd.at_ns;
    // Judge by the state once the pending transitions have run: a busy CPU may not have gone
    // down yet when its online command comes (then it goes down and comes back, in order).
    const last = cpu.pendingHotplug[cpu.pendingHotplug.length - 1];
    const willBeOnline = last === undefined ? cpu.online : last === "online";
    if (cmd.kind === "offline" && willBeOnline) cpu.pendingHotplug.push("offline");
    if (cmd.kind === "online" && !willBeOnline) cpu.pendingHotplug.push("online");
  }
  if (cpu.online) rehomeSources(cpu);
}

/** A mask change (hotplug, IRQ affinity) took effect: hand-overs and forwards may follow. */
function dropPendingCommand(cpu: CpuState, atNs: number): void {
  cpu.lastMaskChangeNs = Math.max(cpu.lastMaskChangeNs, atNs);
  cpu.pendingCommandTimes.remove(atNs);
}

/** After a change of the online mask or an IRQ affinity. */
function roleMayChange(cpu: CpuState, atNs: number): void {
  const role = hotplugRole(cpu);
  if (role || cpu.hadHotplugRole) cpu.lastRoleChangeNs = Math.max(cpu.lastRoleChangeNs, atNs);
  cpu.hadHotplugRole = role;
  const target = forwardTarget(cpu);
  if (target || cpu.wasForwardTarget) cpu.lastForwardTargetNs = Math.max(cpu.lastForwardTargetNs, atNs);
  cpu.wasForwardTarget = target;
}
