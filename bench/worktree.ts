// A git worktree of another revision, to run its benches beside this checkout's: made in a temporary
// folder, given this checkout's node_modules when the revision's lockfile asks for nothing this one
// lacks (else `npm ci --ignore-scripts` there), and removed again without touching what it links to.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A failure the user caused (a revision that does not exist, no tag to default to): exit 2. */
export class UsageError extends Error {}

export interface Worktree {
  dir: string;
  commit: string;
  /** How its node_modules came: "linked" or "npm ci". */
  modules: "linked" | "npm ci";
}

function git(root: string, args: string[]): { ok: boolean; out: string; err: string } {
  const r = spawnSync("git", args, { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 }); // a lockfile can pass the default 1 MB
  return { ok: r.status === 0, out: (r.stdout ?? "").trim(), err: (r.stderr ?? "").trim() };
}

/** The full commit `rev` names, or a UsageError. */
export function resolveCommit(root: string, rev: string): string {
  const r = git(root, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`]);
  if (!r.ok || !r.out) throw new UsageError(`no commit '${rev}' in this repository`);
  return r.out;
}

/** The newest tag reachable from HEAD: the default base. */
export function latestTag(root: string): string {
  const r = git(root, ["describe", "--tags", "--abbrev=0"]);
  if (!r.ok || !r.out) throw new UsageError("no --base given and no tag to default to");
  return r.out;
}

type LockPackages = Record<string, { version?: string; integrity?: string }>;

function lockPackages(text: string): LockPackages {
  return (JSON.parse(text) as { packages?: LockPackages }).packages ?? {};
}

/**
 * Whether this checkout's node_modules serve `commit`: every package its lockfile pins is pinned here
 * at the same version and integrity (packages this checkout adds, e.g. dev tools, do no harm).
 */
export function modulesServe(root: string, commit: string): boolean {
  const theirs = git(root, ["show", `${commit}:package-lock.json`]);
  if (!theirs.ok) return false;
  const ours = lockPackages(readFileSync(join(root, "package-lock.json"), "utf8"));
  for (const [path, p] of Object.entries(lockPackages(theirs.out))) {
    if (path === "") continue; // the project itself
    const o = ours[path];
    if (!o || o.version !== p.version || o.integrity !== p.integrity) return false;
  }
  return true;
}

/** A detached worktree of `commit` in a fresh temporary folder, ready to run `node --import tsx`. */
export function addWorktree(root: string, commit: string, log: (line: string) => void): Worktree {
  const parent = mkdtempSync(join(tmpdir(), "softnet-emu-before-after-"));
  const dir = join(parent, "tree");
  const r = git(root, ["worktree", "add", "--detach", dir, commit]);
  if (!r.ok) {
    rmSync(parent, { recursive: true, force: true });
    throw new Error(`git worktree add ${commit.slice(0, 12)}: ${r.err.split("\n").pop()}`);
  }
  const wt: Worktree = { dir, commit, modules: "linked" };
  if (modulesServe(root, commit)) {
    symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  } else {
    wt.modules = "npm ci";
    log(`its package-lock.json pins packages this checkout lacks: npm ci --ignore-scripts in ${dir}`);
    const ci = spawnSync("npm", ["ci", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, stdio: ["ignore", "ignore", "inherit"] });
    if (ci.status !== 0) {
      removeWorktree(root, wt);
      throw new Error(`npm ci in the worktree of ${commit.slice(0, 12)} failed (exit ${ci.status})`);
    }
  }
  return wt;
}

/**
 * Removes the worktree and its folder. The node_modules link goes first and by itself: the shared
 * node_modules behind it must survive whatever the removal below follows.
 */
export function removeWorktree(root: string, wt: Worktree): void {
  const link = join(wt.dir, "node_modules");
  try {
    if (lstatSync(link).isSymbolicLink()) unlinkSync(link);
  } catch {
    // no link: nothing to protect
  }
  const removed = git(root, ["worktree", "remove", "--force", wt.dir]).ok;
  const parent = join(wt.dir, "..");
  if (existsSync(parent)) rmSync(parent, { recursive: true, force: true });
  if (!removed) git(root, ["worktree", "prune"]); // its folder is gone now: forget it
}
