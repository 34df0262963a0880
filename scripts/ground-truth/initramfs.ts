// The guest's initramfs: busybox (Debian's busybox-static), the static UDP sender and receiver
// (gcc -static) and init.sh as /init, packed by cpio (newc, owned by root). Cached by the hash of
// everything that goes in, so a changed source rebuilds it and nothing else does.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { GroundTruthUsage } from "./errors.ts";
import type { UnpackedKernel } from "./kernels.ts";

const HERE = import.meta.dirname;
export const BUSYBOX = "/bin/busybox";
const SOURCES = ["gt-send.c", "gt-recv.c", "init.sh"] as const;

/** True if the ELF file at `path` has no program interpreter (PT_INTERP): it runs without a libc. */
export function isStaticElf(path: string): boolean {
  const b = readFileSync(path);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false; // ELF64 only
  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (b.readUInt32LE(phoff + i * phentsize) === 3) return false;
  return true;
}

function run(cmd: string, args: string[], opts: { input?: Buffer; cwd?: string } = {}): Buffer {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 256 << 20 });
  if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? r.stderr.toString().trim()}`);
  return r.stdout;
}

/** Build (or reuse) the initramfs; returns its path. */
export function buildInitramfs(cacheDir: string, log: (line: string) => void = () => {}): string {
  if (!existsSync(BUSYBOX) || !isStaticElf(BUSYBOX)) {
    throw new GroundTruthUsage(`${BUSYBOX} is missing or not static: install Debian's busybox-static (.ci/setup does)`);
  }
  const hash = createHash("sha256");
  for (const f of SOURCES) hash.update(f).update(readFileSync(join(HERE, f)));
  hash.update(readFileSync(BUSYBOX));
  const out = join(cacheDir, "initramfs", `initramfs-${hash.digest("hex").slice(0, 16)}.cpio`);
  if (existsSync(out)) return out;

  log(`building ${out}`);
  const stage = join(cacheDir, "initramfs", `stage-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "bin"), { recursive: true });
  try {
    for (const prog of ["gt-send", "gt-recv"]) {
      const bin = join(stage, "bin", prog);
      run("gcc", ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", bin, join(HERE, `${prog}.c`)]);
      if (!isStaticElf(bin)) throw new Error(`gcc -static gave a dynamic ${prog} (libc6-dev's static libc missing?)`);
    }
    copyFileSync(BUSYBOX, join(stage, "bin", "busybox"));
    copyFileSync(join(HERE, "init.sh"), join(stage, "init"));
    chmodSync(join(stage, "init"), 0o755);
    const files = [".", "bin", "bin/busybox", "bin/gt-send", "bin/gt-recv", "init"].join("\n") + "\n";
    const cpio = run("cpio", ["-o", "-H", "newc", "-R", "0:0", "--quiet"], { cwd: stage, input: Buffer.from(files) });
    writeFileSync(`${out}.tmp-${process.pid}`, cpio);
    renameSync(`${out}.tmp-${process.pid}`, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return out;
}

/** virtio-net over PCI and what it needs, in load order (dependencies first); one the kernel has built in is skipped. */
export const NIC_MODULES = ["virtio", "virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio_pci", "failover", "net_failover", "virtio_net"] as const;

/**
 * The initramfs for a NIC boot of `kernel`: `base` with a second cpio archive appended (the kernel
 * unpacks concatenated archives in turn) holding NIC_MODULES as /lib/modules/gt/NAME.ko, unpacked
 * (xz) on the host, and /lib/modules/gt/order for init.sh's insmod loop. Cached per kernel and base.
 */
export function withNicModules(base: string, kernel: UnpackedKernel, cacheDir: string, log: (line: string) => void = () => {}): string {
  const out = join(cacheDir, "initramfs", `${basename(base, ".cpio")}-nic-${kernel.release}.cpio`);
  if (existsSync(out)) return out;
  log(`building ${out}`);
  const modDir = join(kernel.root, "lib", "modules", kernel.release);
  const builtin = new Set(readFileSync(join(modDir, "modules.builtin"), "utf8").split("\n").map((l) => basename(l).replace(/\.ko$/, "")));
  const files = new Map<string, string>();
  for (const f of readdirSync(join(modDir, "kernel"), { recursive: true, encoding: "utf8" })) {
    const m = /^(.*)\.ko(\.xz)?$/.exec(basename(f));
    if (m) files.set(m[1]!, join(modDir, "kernel", f));
  }
  const stage = join(cacheDir, "initramfs", `stage-nic-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "lib", "modules", "gt"), { recursive: true });
  try {
    const order: string[] = [];
    for (const m of NIC_MODULES) {
      if (builtin.has(m)) continue;
      const src = files.get(m);
      if (!src) throw new Error(`${kernel.pkg} has no ${m} module and does not build it in: no virtio-net for the NIC phases`);
      const ko = join(stage, "lib", "modules", "gt", `${m}.ko`);
      if (src.endsWith(".xz")) writeFileSync(ko, run("xz", ["-dc", src]));
      else copyFileSync(src, ko);
      order.push(`${m}.ko`);
    }
    writeFileSync(join(stage, "lib", "modules", "gt", "order"), `${order.join("\n")}\n`);
    const list = [".", "lib", "lib/modules", "lib/modules/gt", "lib/modules/gt/order", ...order.map((k) => `lib/modules/gt/${k}`)].join("\n") + "\n";
    const cpio = run("cpio", ["-o", "-H", "newc", "-R", "0:0", "--quiet"], { cwd: stage, input: Buffer.from(list) });
    writeFileSync(`${out}.tmp-${process.pid}`, Buffer.concat([readFileSync(base), cpio]));
    renameSync(`${out}.tmp-${process.pid}`, out);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
  return out;
}

/** gt-send built for the host (the NIC phases' flood through QEMU's forwarded port); cached by its source's hash. */
export function buildHostSender(cacheDir: string): string {
  const src = join(HERE, "gt-send.c");
  const hash = createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 16);
  const out = join(cacheDir, "host", `gt-send-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(join(cacheDir, "host"), { recursive: true });
  run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", `${out}.tmp-${process.pid}`, src]);
  renameSync(`${out}.tmp-${process.pid}`, out);
  return out;
}
