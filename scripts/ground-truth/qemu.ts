// One boot of one kernel under QEMU (TCG, 4 vCPUs, 1 GiB, serial console on stdout), the phases on
// its command line. The console is returned whole; parse.ts reads it.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { hostCpuLine, sampleThreads, type ThreadSample } from "./host-cpu.ts";
import { NIC_FLOWS, phasesCmdline, type HotplugPhase, type NicPhase, type Phase } from "./phases.ts";

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
  /**
   * NIC phases, last: a virtio-net device on QEMU's user-mode network with the guest's UDP port
   * forwarded from the host's `hostPort`, and `hostSender` (gt-send built for the host) flooding
   * it for each phase when the guest asks ("GT NAME flood secs=S").
   */
  readonly nic?: { readonly phases: readonly NicPhase[]; readonly hostSender: string; readonly hostPort: number };
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

/** The guest's UDP port the phases' receivers bind (init.sh). */
export const GUEST_PORT = 15000;

export function qemuArgs(o: Pick<BootOptions, "vmlinuz" | "initramfs" | "bootArgs" | "phases" | "secs" | "hotplug" | "nic">): string[] {
  // quiet + loglevel=1: the kernel's own messages stay off the console (the guest reads them with
  // dmesg); panic=-1 with -no-reboot turns a panic, and init's fallback reboot, into QEMU's exit.
  const append = ["console=ttyS0", "panic=-1", "quiet", "loglevel=1", ...o.bootArgs, phasesCmdline(o.phases, o.secs, o.hotplug, o.nic?.phases)].join(" ");
  // The reference's NIC: virtio-net behind user-mode networking, the host's port forwarded to the guest's.
  const net = o.nic ? ["-netdev", `user,id=n0,hostfwd=udp:127.0.0.1:${o.nic.hostPort}-:${GUEST_PORT}`, "-device", "virtio-net-pci,netdev=n0"] : [];
  // debug-threads: the vCPU threads are named "CPU N/TCG", which host-cpu.ts reads per phase.
  return ["-accel", "tcg", "-smp", String(SMP), "-m", "1024", "-nographic", "-no-reboot", "-name", "gt,debug-threads=on", ...net, "-kernel", o.vmlinuz, "-initrd", o.initramfs, "-append", append];
}

/** A liveness limit only: a boot that hangs (a kernel that never reaches /init) is ended. */
export function livenessLimitMs(phases: number, secs: number, hotplug = 0, nic = 0): number {
  return 300_000 + (phases + nic) * (secs + 20) * 5_000 + hotplug * (6 + 20) * 5_000;
}

/** A UDP port on the host's loopback no one has now (the OS picks it), for QEMU's forward. */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    s.once("error", reject);
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function bootKernel(o: BootOptions): Promise<Boot> {
  const started = Date.now();
  const child = spawn(QEMU, qemuArgs(o), { stdio: ["ignore", "pipe", "pipe"] });
  // The host's floods, one per NIC phase: each one's result becomes a console line of that phase.
  const floods: Promise<void>[] = [];
  const flood = (name: string, secs: string) => {
    const nic = o.nic!;
    const sender = spawn(nic.hostSender, [String(nic.hostPort), String(NIC_FLOWS), secs], { stdio: ["ignore", "pipe", "pipe"] });
    let res = "";
    sender.stdout.setEncoding("utf8").on("data", (d: string) => (res += d));
    sender.stderr.setEncoding("utf8").on("data", (d: string) => (res += d));
    floods.push(
      new Promise((done) => {
        sender.on("error", (e) => {
          out += `\nGT warn host sender for ${name}: ${e.message}\n`;
          done();
        });
        sender.on("close", (code) => {
          out += code === 0 ? `\nGT ${name} host ${res.trim()}\n` : `\nGT warn host sender for ${name} exited ${code}: ${res.trim()}\n`;
          o.onLine?.(`GT ${name} host ${res.trim()}`);
          done();
        });
      }),
    );
  };
  // A loopback phase's host CPU per vCPU thread, from "GT NAME go" (the sender starts) to "GT NAME tx"
  // (it stopped), written into the console as "GT NAME hostcpu ..." for parse.ts.
  const phaseStart = new Map<string, ThreadSample>();
  const hostCpu = (l: string) => {
    const m = /GT (\S+) (go|tx)\b/.exec(l);
    if (!m || child.pid === undefined) return;
    try {
      const now = sampleThreads(child.pid, Date.now());
      const before = phaseStart.get(m[1]!);
      if (m[2] === "go") phaseStart.set(m[1]!, now);
      else if (before) out += `\nGT ${m[1]} hostcpu ${hostCpuLine(before, now, SMP)}\n`;
    } catch (e) {
      out += `\nGT warn host CPU of ${m[1]}: ${(e as Error).message}\n`;
    }
  };
  let out = "";
  let pending = "";
  let timedOut = false;
  const limit = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, livenessLimitMs(o.phases.length, o.secs, o.hotplug?.length, o.nic?.phases.length));
  child.stdout.setEncoding("latin1");
  child.stdout.on("data", (d: string) => {
    out += d;
    pending += d;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const l of lines) {
      if (/GT \S+ (phase|hotplug|nic|flood|tx|rx)\b|GT (boot|done|warn)\b/.test(l)) o.onLine?.(l.replace(/^.*?GT /, "GT ").trimEnd());
      const f = /GT (\S+) flood secs=(\d+)/.exec(l);
      if (f && o.nic) flood(f[1]!, f[2]!);
      hostCpu(l);
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
      // A flood still running when the guest stopped (it crashed) ends on its own within its seconds.
      void Promise.all(floods).then(() => resolve({ console: out + (err ? `\n${err}` : ""), exitCode: code, wallMs: Date.now() - started, timedOut }));
    });
  });
}
