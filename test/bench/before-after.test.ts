// `npm run bench -- before-after`: a revision that does not exist or a bad option is one line and exit
// 2 (through bench/index.ts, which passes its status on); a run of the in-process bench of HEAD against
// HEAD, one round, gives both sides' figures and removes its worktrees; Ctrl-C removes them too.
import assert from "node:assert/strict";
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";

const ROOT = join(import.meta.dirname, "../..");
const INDEX = join(ROOT, "bench/index.ts");
const BEFORE_AFTER = join(ROOT, "bench/before-after.ts");
const out = mkdtempSync(join(tmpdir(), "before-after-test-"));
after(() => rmSync(out, { recursive: true, force: true }));

function node(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const worktrees = (): string[] =>
  spawnSync("git", ["worktree", "list", "--porcelain"], { cwd: ROOT, encoding: "utf8" })
    .stdout.split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice("worktree ".length));

/** The worktree folders a run announced on stderr ("before … in DIR …; after … in DIR"). */
const announced = (stderr: string): string[] => [...stderr.matchAll(/ in (\S+softnet-emu-before-after-[^/\s]+\/tree)\b/g)].map((m) => m[1]!);

describe("bench before-after", () => {
  it("a base that does not exist, or a bad option: one line, exit 2, no worktree", async () => {
    const cases: [string[], RegExp][] = [
      [["--base", "no-such-revision-h5"], /^before-after: no commit 'no-such-revision-h5' in this repository$/],
      [["--base", "HEAD", "--rounds", "0"], /^before-after: --rounds must be a whole number ≥ 1, not '0'$/],
      [["--base", "HEAD", "--bench", "scrape"], /^before-after: --bench: no bench 'scrape' to compare \(known: inprocess, distributed\)$/],
      [["--base", "HEAD", "--bogus"], /^before-after: Unknown option '--bogus'/],
    ];
    const before = worktrees();
    for (const [args, message] of cases) {
      const r = await node(["--import", "tsx", INDEX, "before-after", ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, message);
    }
    assert.deepEqual(worktrees(), before);
  });

  it("runs both trees' in-process bench and prints and writes their figures side by side", async () => {
    const json = join(out, "ba.json");
    const r = await node(["--import", "tsx", INDEX, "before-after", "--base", "HEAD", "--after", "HEAD", "--rounds", "1", "--bench", "inprocess", "--json", json], { BENCH_REPEATS: "1" });
    assert.equal(r.code, 0, r.stderr);
    const dirs = announced(r.stderr);
    assert.equal(dirs.length, 2, r.stderr);
    for (const d of dirs) {
      assert.ok(!existsSync(dirname(d)), `${d} removed`);
      assert.ok(!worktrees().includes(d), `${d} no longer a worktree`);
    }
    assert.ok(existsSync(join(ROOT, "node_modules/tsx")), "the linked node_modules survive the removal");
    assert.match(r.stdout, /^load average \(1\/5\/15 min\) at start [\d.]+ [\d.]+ [\d.]+, at end [\d.]+ [\d.]+ [\d.]+$/m);
    assert.match(r.stdout, /^bench +\| figure +\| unit +\| better +\| before median \| after median \| after\/before \| spread before \| spread after$/m);
    assert.match(r.stdout, /^inprocess \| packets per wall-second/m);
    const doc = JSON.parse(readFileSync(json, "utf8")) as { base: { commit: string }; rows: { figure: string; before: number[]; after: number[]; ratio: number }[] };
    const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
    assert.equal(doc.base.commit, head);
    const pps = doc.rows.find((x) => x.figure === "packets per wall-second")!;
    assert.equal(pps.before.length, 1);
    assert.equal(pps.after.length, 1);
    assert.ok(pps.before[0]! > 0 && pps.after[0]! > 0);
    assert.equal(pps.ratio, pps.after[0]! / pps.before[0]!);
    assert.deepEqual(doc.rows.map((x) => x.figure), ["packets per wall-second", "packets per CPU-second", "wall time (best)", "peak RSS"]);
  });

  it("a bench run that fails is listed under the table with its output's file, the others still run, exit 1", async () => {
    // No repeats: the in-process bench has no best run to print and throws.
    const r = await node(["--import", "tsx", INDEX, "before-after", "--base", "HEAD", "--after", "HEAD", "--rounds", "1", "--bench", "inprocess"], { BENCH_REPEATS: "0" });
    assert.equal(r.code, 1, r.stderr);
    const failed = [...r.stdout.matchAll(/^FAILED round 1\/1 inprocess (before|after): node --import tsx bench\/index.ts inprocess in \S+ ended with exit 1 \(its output: (\S+)\):$/gm)];
    assert.deepEqual(failed.map((m) => m[1]), ["before", "after"], r.stdout);
    for (const m of failed) {
      assert.match(readFileSync(m[2]!, "utf8"), /TypeError/);
      rmSync(m[2]!);
    }
    for (const d of announced(r.stderr)) assert.ok(!existsSync(dirname(d)), `${d} removed`);
  });

  it("Ctrl-C stops the bench and removes the worktree", async () => {
    const p = spawn(process.execPath, ["--import", "tsx", BEFORE_AFTER, "--base", "HEAD", "--bench", "inprocess", "--rounds", "5"], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const dir = await new Promise<string>((resolve, reject) => {
      p.stderr!.on("data", (d: Buffer) => {
        err += d.toString();
        const found = announced(err);
        if (found.length) resolve(found[0]!);
      });
      p.on("close", () => reject(new Error(`ended before announcing its worktree: ${err}`)));
    });
    assert.ok(existsSync(dir) && worktrees().includes(dir));
    const code = await new Promise<number | null>((resolve) => {
      p.on("close", resolve);
      p.kill("SIGINT");
    });
    assert.equal(code, 130, err);
    assert.ok(!existsSync(dirname(dir)), `${dir} removed`);
    assert.ok(!worktrees().includes(dir));
    assert.match(err, /SIGINT: stopping/);
  });
});
