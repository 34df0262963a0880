// One boot of one kernel under QEMU (TCG, 4 vCPUs, 1 GiB, serial console on stdout), the phases on
// its command line. The console is returned whole; parse.ts reads it.
import { spawn } from "node:child_process";
import { phasesCmdline, type HotplugPhase, type Phase } from "./phases.ts";

export const QEMU = "qemu-system-x86_64";
export const SMP = 4;

export interface BootOptions {
  readonly vmlinuz: string;
  readonly initramfs: string;
  readonly bootArgs: readonly string[];
  readonly phases: readonly Phase[];
  readonly secs: number;
  /** Hotplug phases, after the loopback ones. */
  readonly hotplug?: readonly HotplugPhase[];
  /** Called with each line the guest prints for us (progress). */
  readonly onLine?: (line: string) => void;
}

export interface Boot {
  readonly console: string;
  readonly exitCode: number | null;
  /** Host wall time of the boot, in ms (reported, never asserted). */
  readonly wallMs: number;
  /** The liveness limit hit: QEMU was killed. */
  readonly timedOut: boolean;
}

export function qemuArgs(o: Pick<BootOptions, "vmlinuz" | "initramfs" | "bootArgs" | "phases" | "secs" | "hotplug">): string[] {
  // quiet + loglevel=1: the kernel's own messages stay off the console (the guest reads them with
  // dmesg); panic=-1 with -no-reboot turns a panic, and init's fallback reboot, into QEMU's exit.
  const append = ["console=ttyS0", "panic=-1", "quiet", "loglevel=1", ...o.bootArgs, phasesCmdline(o.phases, o.secs, o.hotplug)].join(" ");
  return ["-accel", "tcg", "-smp", String(SMP), "-m", "1024", "-nographic", "-no-reboot", "-kernel", o.vmlinuz, "-initrd", o.initramfs, "-append", append];
}

/** A liveness limit only: a boot that hangs (a kernel that never reaches /init) is ended. */
export function livenessLimitMs(phases: number, secs: number, hotplug = 0): number {
  return 300_000 + phases * (secs + 20) * 5_000 + hotplug * (6 + 20) * 5_000;
}

export function bootKernel(o: BootOptions): Promise<Boot> {
  const started = Date.now();
  const child = spawn(QEMU, qemuArgs(o), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let pending = "";
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, livenessLimitMs(o.phases.length, o.secs, o.hotplug?.length));
  child.stdout.setEncoding("latin1");
  child.stdout.on("data", (d: string) => {
    out += d;
    pending += d;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) {
      if (/GT \S+ (phase|hotplug|tx|rx)\b|GT (boot|done|warn)\b/.test(l)) o.onLine?.(l.replace(/^.*?GT /, "GT ").trimEnd());
      // The guest's last line: all its output is here, so QEMU can go (the guest does not reboot
      // itself at once, which could cut the output still buffered in its tty).
      if (/GT done\b/.test(l)) child.kill("SIGTERM");
    }
  });
  let err = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (err += d));
  return new Promise((resolve, reject) => {
    child.on("error", (e) => {
      clearTimeout(limit);
      reject(new Error(`${QEMU}: ${e.message}`));
    });
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ console: out + (err ? `\n${err}` : ""), exitCode: code, wallMs: Date.now() - started, timedOut });
    });
  });
}
