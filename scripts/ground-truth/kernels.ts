// Debian's kernel packages: which ones apt offers, fetched with `apt-get download` and unpacked with
// `dpkg-deb -x` into the cache (never installed). The newest build of each series and flavour wins.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { KernelUnavailable } from "./errors.ts";

export interface KernelTarget {
  /** The run key in the fixture. */
  readonly key: string;
  /** Matches the package name; group 1 is the build number that orders candidates. */
  readonly pattern: RegExp;
  /** Extra kernel command line. */
  readonly bootArgs: readonly string[];
}

const P61 = /^linux-image-6\.1\.0-(\d+)-amd64$/;
const P61RT = /^linux-image-6\.1\.0-(\d+)-rt-amd64$/;
const P612 = /^linux-image-6\.12\.(\d+)\+deb12-amd64$/;
const P612RT = /^linux-image-6\.12\.(\d+)\+deb12-rt-amd64$/;

export const KERNELS: readonly KernelTarget[] = [
  { key: "6.12-generic", pattern: P612, bootArgs: [] },
  // The backlog threads of the patch series, switched on at boot (6.12 has the parameter; 6.1 not).
  { key: "6.12-generic-threaded", pattern: P612, bootArgs: ["thread_backlog_napi"] },
  // PREEMPT_RT: the backlog threads are always on.
  { key: "6.12-rt", pattern: P612RT, bootArgs: [] },
  { key: "6.1-generic", pattern: P61, bootArgs: [] },
  { key: "6.1-rt", pattern: P61RT, bootArgs: [] },
];

/** The newest package matching the target's pattern (by build number), or undefined. */
export function choosePackage(names: readonly string[], target: KernelTarget): string | undefined {
  let best: { name: string; build: number } | undefined;
  for (const name of names) {
    const m = target.pattern.exec(name);
    if (!m) continue;
    const build = Number(m[1]);
    if (!best || build > best.build) best = { name, build };
  }
  return best?.name;
}

/** Names of the linux-image packages in apt's lists (local: no network). */
export function aptImageNames(): string[] {
  const r = spawnSync("apt-cache", ["search", "--names-only", "^linux-image-[0-9]"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new KernelUnavailable(`apt-cache search failed: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout.split("\n").map((l) => l.split(" - ")[0]!.trim()).filter(Boolean);
}

/** The package for each target, or a KernelUnavailable naming what apt's lists lack. */
export function choosePackages(targets: readonly KernelTarget[], names = aptImageNames()): Map<string, string> {
  const out = new Map<string, string>();
  for (const t of targets) {
    const pkg = choosePackage(names, t);
    if (!pkg) throw new KernelUnavailable(`no package matching ${t.pattern.source} in apt's lists for ${t.key} (apt-get update?)`);
    out.set(t.key, pkg);
  }
  return out;
}

export interface UnpackedKernel {
  readonly pkg: string;
  /** The kernel release (uname -r). */
  readonly release: string;
  readonly vmlinuz: string;
  /** The unpacked package (its lib/modules too, should a phase need a module). */
  readonly root: string;
}

/** Download (unless cached) and unpack (unless unpacked) one kernel package. */
export function fetchKernel(pkg: string, cacheDir: string, log: (line: string) => void = () => {}): UnpackedKernel {
  const debs = join(cacheDir, "debs");
  const root = join(cacheDir, "kernels", pkg);
  mkdirSync(debs, { recursive: true });
  const cachedDeb = () => readdirSync(debs).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb"));
  let deb = cachedDeb();
  if (!deb) {
    log(`downloading ${pkg} (apt-get download)`);
    // Into a folder of this process, moved in when whole: a concurrent or interrupted download is
    // never taken for a cached package.
    const tmp = join(debs, `.download-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      const r = spawnSync("apt-get", ["download", "-q", pkg], { cwd: tmp, encoding: "utf8" });
      const got = existsSync(tmp) ? readdirSync(tmp).find((f) => f.startsWith(`${pkg}_`) && f.endsWith(".deb")) : undefined;
      if (r.error || r.status !== 0 || !got) {
        const why = r.error?.message ?? r.stderr.split("\n").find((l) => l.startsWith("E:")) ?? `exit ${r.status}`;
        throw new KernelUnavailable(`apt-get download ${pkg} failed: ${why}`);
      }
      renameSync(join(tmp, got), join(debs, got));
      deb = got;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const release = pkg.replace(/^linux-image-/, "");
  const vmlinuz = join(root, "boot", `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) {
    log(`unpacking ${deb} (dpkg-deb -x)`);
    // Into a temporary folder, renamed when complete: an interrupted unpack is never taken as done.
    const tmp = `${root}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    const r = spawnSync("dpkg-deb", ["-x", join(debs, deb), tmp], { encoding: "utf8" });
    if (r.error || r.status !== 0) throw new Error(`dpkg-deb -x ${deb} failed: ${r.error?.message ?? r.stderr.trim()}`);
    if (!existsSync(join(tmp, "boot", `vmlinuz-${release}`))) throw new Error(`${deb} has no boot/vmlinuz-${release}`);
    try {
      rmSync(root, { recursive: true, force: true });
      renameSync(tmp, root);
    } catch (e) {
      // Another run unpacked the same package at the same moment: its copy will do.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(vmlinuz)) throw e;
    }
  }
  return { pkg, release, vmlinuz, root };
}
