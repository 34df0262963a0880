// One kernel's boot, read: QEMU with the phases, the console parsed into the fixture's phases and
// the hotplug text, and why anything is missing. Also the host tools it needs.
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { delimiter, join } from "node:path";
import { GroundTruthUsage } from "./errors.ts";
import { hostSummary } from "./host-cpu.ts";
import type { PhaseData, PhaseTimes } from "./format.ts";
import type { KernelTarget, UnpackedKernel } from "./kernels.ts";
import { hotplugText, nicText, parseConsole, phaseData, phaseExtras, phaseTimes, type ConsoleRecord } from "./parse.ts";
import { phaseDesc, type PhaseSelection } from "./phases.ts";
import { bootKernel, freeUdpPort, QEMU, SMP, type Boot } from "./qemu.ts";

const TOOLS: ReadonlyArray<readonly [string, string]> = [
  [QEMU, "qemu-system-x86"],
  ["gcc", "gcc"],
  ["cpio", "cpio"],
  ["apt-get", "apt"],
  ["apt-cache", "apt"],
  ["dpkg-deb", "dpkg"],
  // 6.12's modules are xz-compressed (the NIC phases' virtio-net).
  ["xz", "xz-utils"],
];

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, tool)));
}

/** The host tools the script runs; a missing one is named with its Debian package. */
export function checkTools(): void {
  for (const [tool, pkg] of TOOLS) if (!onPath(tool)) throw new GroundTruthUsage(`${tool} not found: install Debian's ${pkg} (.ci/setup does)`);
}

export interface KernelRun {
  readonly target: KernelTarget;
  readonly kernel: UnpackedKernel;
  readonly boot: Boot;
  readonly record: ConsoleRecord;
  /** The loopback phases the console gave whole, in the fixture format. */
  readonly data: Record<string, PhaseData>;
  /** Where the CPUs' time went in those phases (`--times-out`), for the phases whose console has it. */
  readonly times: Record<string, PhaseTimes>;
  /** The hotplug phases in hotplug-loopback.txt's format, when they were asked for and are whole. */
  readonly hotplug?: string;
  /** The NIC phases in nic-flood.txt's format, when they were asked for and are whole. */
  readonly nic?: string;
  /** Why a phase is missing, or the boot failed. */
  readonly errors: string[];
  /** Earlier boots of this run whose guest kernel panicked before its last phase: their first Oops line each. */
  readonly panics: string[];
}

/** Boots after a guest panic, at most (the guest's own crash, not ours: see guestPanic). */
export const PANIC_RETRIES = 2;

/**
 * The first line of a guest kernel's Oops or panic in a console that never reached its end, or
 * undefined. Under TCG, live code patching (text_poke_bp's int3, e.g. a static key flipped at boot)
 * races with the other vCPUs' translated code now and then: "Oops: int3" and a panic in interrupt,
 * seen once in a CI boot of 6.12.118. That boot says nothing about the phases; another one does.
 */
export function guestPanic(console: string, done: boolean): string | undefined {
  if (done) return undefined;
  const line = console.split("\n").find((l) => /\b(Oops|Kernel panic - not syncing|BUG):/.test(l));
  return line?.trim();
}

/** Boot one kernel with the phases and read its console. */
export async function runKernel(
  target: KernelTarget,
  kernel: UnpackedKernel,
  initramfs: string,
  sel: PhaseSelection,
  secs: number,
  log: (line: string) => void = () => {},
  /** gt-send built for the host: needed for NIC phases. */
  hostSender?: string,
): Promise<KernelRun> {
  const phases = sel.loopback;
  const panics: string[] = [];
  let boot: Boot;
  let record: ConsoleRecord;
  if (sel.nic.length && !hostSender) throw new Error("NIC phases need the host's sender");
  for (;;) {
    const nic = sel.nic.length ? { phases: sel.nic, hostSender: hostSender!, hostPort: await freeUdpPort() } : undefined;
    boot = await bootKernel({ vmlinuz: kernel.vmlinuz, initramfs, bootArgs: target.bootArgs, phases, secs, hotplug: sel.hotplug, nic, onLine: (l) => log(`  [${target.key}] ${l}`) });
    record = parseConsole(boot.console);
    const panic = boot.timedOut ? undefined : guestPanic(boot.console, record.done);
    if (panic === undefined || panics.length === PANIC_RETRIES) break;
    panics.push(panic);
    log(`  [${target.key}] the guest kernel crashed (${panic}); booting again (${panics.length} of ${PANIC_RETRIES})`);
  }
  const errors: string[] = [];
  for (const m of record.malformed) errors.push(`console ${m}`);
  if (boot.timedOut) errors.push(`QEMU killed after ${Math.round(boot.wallMs / 1000)} s (liveness limit): the guest never finished`);
  else if (!record.done) errors.push(`the guest stopped before its last phase (QEMU exit ${boot.exitCode}); see the console log`);
  if (record.cpus !== undefined && record.cpus !== SMP) errors.push(`the guest saw ${record.cpus} CPUs, not ${SMP}`);
  const data: Record<string, PhaseData> = {};
  const times: Record<string, PhaseTimes> = {};
  for (const p of phases) {
    const cp = record.phases.get(p.name);
    if (!cp) {
      errors.push(`phase ${p.name}: not in the console`);
      continue;
    }
    try {
      data[p.name] = phaseData(cp, phaseDesc(p, secs));
      const t = phaseTimes(cp, data[p.name]!);
      if (t) times[p.name] = t;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  let hotplug: string | undefined;
  if (sel.hotplug.length) {
    try {
      hotplug = hotplugText(target.key, sel.hotplug, record);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  let nic: string | undefined;
  if (sel.nic.length) {
    try {
      nic = nicText(target.key, kernel.release, target.bootArgs, sel.nic, secs, record);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return { target, kernel, boot, record, data, times, hotplug, nic, errors, panics };
}

export function summaryLines(run: KernelRun): string[] {
  const lines = [`${run.target.key}: ${run.kernel.pkg}, host wall ${(run.boot.wallMs / 1000).toFixed(1)} s`];
  for (const [name, d] of Object.entries(run.data)) {
    const x = phaseExtras(run.record.phases.get(name)!);
    const cpus = Object.entries(d.cpus).map(([c, r]) => `cpu${c} proc=${r.proc} drop=${r.drop} rrps=${r.rrps} netrx=${r.netrx} fl=${r.fl}`);
    lines.push(`  ${name} sent=${d.sent} rate=${d.rate} received=${x.received ?? "?"} rcvbuf_errors=${x.rcvbufErrors ?? "?"} dmesg_warnings=${x.dmesgWarnings} | ${cpus.join(" | ")}`);
    const tx = run.record.phases.get(name)!.tx;
    const times = [...x.cpuTime].map(([c, t]) => `cpu${c} usr=${t.user} sys=${t.system} irq=${t.irq} sirq=${t.softirq} idle=${t.idle}${t.ksoftirqd !== undefined ? ` ksoftirqd=${t.ksoftirqd}` : ""}`);
    const sender = tx?.runNs !== undefined ? `sender ran=${Math.round(tx.runNs / 1e6)} waited=${Math.round(tx.waitNs! / 1e6)} of ${Math.round(tx.elapsedNs / 1e6)} | ` : "";
    if (times.length || sender) lines.push(`  ${name} time (ms): ${sender}${times.join(" | ")}`);
    const host = run.record.phases.get(name)!.hostCpu;
    if (host) lines.push(...hostSummary(name, host, availableParallelism()));
  }
  if (Object.keys(run.data).length) lines.push(`  sender rate (pps): ${Object.entries(run.data).map(([n, d]) => `${n} ${d.rate}`).join(", ")}`);
  if (run.hotplug) lines.push(...run.hotplug.trimEnd().split("\n").map((l) => `  ${l}`));
  if (run.nic) lines.push(...run.nic.trimEnd().split("\n").map((l) => `  ${l}`));
  for (const w of run.record.warnings) lines.push(`  guest: ${w}`);
  for (const p of run.panics) lines.push(`  an earlier boot's guest kernel crashed: ${p}`);
  for (const e of run.errors) lines.push(`  error: ${e}`);
  return lines;
}
