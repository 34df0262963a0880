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

/** What the NIC phases load: virtio-net and its PCI transport (their dependencies come first, from each module's own `depends=`). */
export const NIC_MODULES = ["virtio_pci", "virtio_net"] as const;

/** A module's `depends=` (its .modinfo section: NUL-separated key=value strings). */
export function moduleDepends(ko: Buffer): string[] {
  const at = ko.indexOf("\0depends=");
  if (at < 0) return [];
  const end = ko.indexOf(0, at + 1);
  const list = ko.subarray(at + 9, end < 0 ? undefined : end).toString("latin1");
  return list ? list.split(",") : [];
}

/**
 * The initramfs for a NIC boot of `kernel`: `base` with a second cpio archive appended (the kernel
 * unpacks concatenated archives in turn) holding NIC_MODULES and what they depend on, unpacked (xz)
 * on the host, as /lib/modules/gt/NAME.ko, and /lib/modules/gt/order — dependencies first — for
 * init.sh's insmod loop (the package has no modules.dep: depmod runs at install). A module the
 * kernel builds in is skipped. Cached per kernel and base.
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
    if (m) files.set(m[1]!.replace(/-/g, "_"), join(modDir, "kernel", f));
  }
  const stage = join(cacheDir, "initramfs", `stage-nic-${process.pid}`);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, "lib", "modules", "gt"), { recursive: true });
  try {
    const order: string[] = [];
    const visit = (name: string, chain: readonly string[]) => {
      const m = name.replace(/-/g, "_");
      if (builtin.has(m) || order.includes(`${m}.ko`)) return;
      if (chain.includes(m)) throw new Error(`${kernel.pkg}: modules depend on each other in a circle: ${[...chain, m].join(" → ")}`);
      const src = files.get(m);
      if (!src) throw new Error(`${kernel.pkg} has no ${m} module and does not build it in: no virtio-net for the NIC phases`);
      const ko = src.endsWith(".xz") ? run("xz", ["-dc", src]) : readFileSync(src);
      for (const d of moduleDepends(ko)) visit(d, [...chain, m]);
      writeFileSync(join(stage, "lib", "modules", "gt", `${m}.ko`), ko);
      order.push(`${m}.ko`);
    };
    for (const m of NIC_MODULES) visit(m, []);
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
