// `npm run bench -- before-after [--base REV] [--after REV] [--rounds N] [--bench a,b] [--json FILE]`:
// the `inprocess` and `distributed` benches of a base revision and of this checkout, measured in one
// run on the same machine, interleaved round by round, and their figures side by side (medians of
// the rounds, ratio after/before, spread), with the load average at start and end.
//
// The base runs in a temporary git worktree (removed at the end, on error and on Ctrl-C too); the
// after side is this checkout as it is, uncommitted edits included, or a second worktree of
// --after REV. Each bench runs as `node --import tsx bench/index.ts NAME` in its tree, whose printed
// text is read back (bench/figures.ts). Rounds alternate which tree goes first (before, after, then
// after, before, ...), so a load that rises or falls through the run weighs on both alike. The
// benches' own variables (BENCH_REPEATS, BENCH_WINDOWS_US, BENCH_BIG_CPUS, ...) reach both trees.
//   --base REV   default: the newest tag reachable from HEAD
//   --rounds N   default 3
// Exit 2 on a usage error (an unknown option, a revision that does not exist), 1 if a bench run
// failed (the other runs go on; the failures are listed under the table, with their output's file).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { distributedFigures, inprocessFigures, type Figure } from "./figures.ts";
import { renderTable, Samples, type Side } from "./summary.ts";
import { addWorktree, latestTag, removeWorktree, resolveCommit, UsageError, type Worktree } from "./worktree.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url)).replace(/\/$/, "");
const READERS: Record<string, (text: string) => { figures: Figure[]; unequal: string[] }> = {
  inprocess: (text) => ({ figures: inprocessFigures(text), unequal: [] }),
  distributed: distributedFigures,
};

interface Options {
  base: string | undefined;
  after: string | undefined;
  rounds: number;
  benches: string[];
  json: string | undefined;
}

function options(argv: string[]): Options {
  let v;
  try {
    v = parseArgs({
      args: argv,
      strict: true,
      options: { base: { type: "string" }, after: { type: "string" }, rounds: { type: "string" }, bench: { type: "string" }, json: { type: "string" } },
    }).values;
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
  const rounds = Number(v.rounds ?? 3);
  if (!Number.isInteger(rounds) || rounds < 1) throw new UsageError(`--rounds must be a whole number ≥ 1, not '${v.rounds}'`);
  const benches = (v.bench ?? "inprocess,distributed").split(",").filter(Boolean);
  for (const b of benches) if (!READERS[b]) throw new UsageError(`--bench: no bench '${b}' to compare (known: ${Object.keys(READERS).join(", ")})`);
  return { base: v.base, after: v.after, rounds, benches, json: v.json };
}

const log = (line: string) => process.stderr.write(`before-after: ${line}\n`);
const load = () => loadavg().map((l) => l.toFixed(2)).join(" ");

/** The child running now, killed with its whole process group (CPU processes included) on Ctrl-C. */
let current: ChildProcess | null = null;

/** A child that failed: what it printed before, which may still hold figures, and where all of it went. */
class RunFailed extends Error {
  constructor(
    message: string,
    readonly out: string,
  ) {
    super(message);
  }
}

/** Runs `node ARGS` in `cwd` as its own process group; its stdout, or a RunFailed with its first error line and end. */
function run(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    current = p;
    let out = "";
    let err = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    p.on("error", reject);
    p.on("close", (code, signal) => {
      current = null;
      if (code === 0) return resolve(out);
      // Its whole output in a file that outlives the worktree.
      const logFile = join(tmpdir(), `before-after-${process.pid}-${Date.now()}.log`);
      writeFileSync(logFile, `${out}\n--- stderr ---\n${err}`);
      const lines = (err || out).trim().split("\n");
      const first = lines.find((l) => /^\s*\w*Error\b.*:/.test(l)) ?? lines.find((l) => /error/i.test(l));
      const tail = [...(first ? [first.trim(), "..."] : []), ...lines.slice(-3)].join("\n  ");
      reject(new RunFailed(`node ${args.join(" ")} in ${cwd} ended with ${signal ?? `exit ${code}`} (its output: ${logFile}):\n  ${tail}`, out));
    });
  });
}

/** The distributed engine starts its CPU processes from dist/: built up front, so no timed run pays for a build. */
async function build(tree: string): Promise<void> {
  if (!existsSync(join(tree, "scripts/build.mjs"))) return;
  try {
    await run(tree, ["scripts/build.mjs"]);
  } catch (e) {
    // A checkout caught mid-edit: its runs will say what fails, and the other tree's still count.
    if (!(e instanceof RunFailed)) throw e;
    log(`the build failed, going on: ${e.message}`);
  }
}

const describe = (wt: Worktree | null, commit: string): string => {
  if (wt) return commit.slice(0, 12);
  const dirty = spawnSync("git", ["status", "--porcelain", "--untracked-files=no"], { cwd: ROOT, encoding: "utf8" }).stdout.trim();
  return `${commit.slice(0, 12)} (this checkout${dirty ? `, with ${dirty.split("\n").length} uncommitted file(s)` : ""})`;
};

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const baseCommit = resolveCommit(ROOT, opts.base ?? latestTag(ROOT));
  const afterCommit = resolveCommit(ROOT, opts.after ?? "HEAD");
  const trees: Worktree[] = [];
  const cleanup = () => {
    while (trees.length) removeWorktree(ROOT, trees.pop()!);
  };
  const interrupted = (signal: NodeJS.Signals, code: number) => () => {
    log(`${signal}: stopping`);
    if (current?.pid) {
      try {
        process.kill(-current.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    cleanup();
    process.exit(code);
  };
  process.on("SIGINT", interrupted("SIGINT", 130));
  process.on("SIGTERM", interrupted("SIGTERM", 143));
  process.on("SIGHUP", interrupted("SIGHUP", 129));

  try {
    const baseTree = addWorktree(ROOT, baseCommit, log);
    trees.push(baseTree);
    let afterTree: Worktree | null = null;
    if (opts.after !== undefined) trees.push((afterTree = addWorktree(ROOT, afterCommit, log)));
    const dirs: Record<Side, string> = { before: baseTree.dir, after: afterTree?.dir ?? ROOT };
    const names: Record<Side, string> = { before: describe(baseTree, baseCommit), after: describe(afterTree, afterCommit) };
    log(`before ${names.before} in ${dirs.before} (node_modules: ${baseTree.modules}); after ${names.after} in ${dirs.after}`);
    if (opts.benches.includes("distributed")) for (const side of ["before", "after"] as const) await build(dirs[side]);

    const loadStart = load();
    const started = Date.now();
    const samples = new Samples();
    const unequal: string[] = [];
    const failures: string[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const order: Side[] = round % 2 === 0 ? ["before", "after"] : ["after", "before"];
      for (const bench of opts.benches)
        for (const side of order) {
          const t = Date.now();
          const what = `round ${round + 1}/${opts.rounds} ${bench} ${side}`;
          let text: string;
          try {
            text = await run(dirs[side], ["--import", "tsx", "bench/index.ts", bench]);
          } catch (e) {
            // One failed run (a loaded machine can starve a 64-process start-up) should not waste the
            // others: it is listed under the table, and the figures it printed before failing still count.
            if (!(e instanceof RunFailed)) throw e;
            failures.push(`${what}: ${e.message}`);
            log(`${what} FAILED: ${e.message}`);
            text = e.out;
          }
          try {
            const read = READERS[bench]!(text);
            samples.add(side, read.figures);
            unequal.push(...read.unequal.map((w) => `${side} round ${round + 1} at ${w}`));
          } catch (e) {
            if (!failures.some((f) => f.startsWith(`${what}:`))) throw e; // a bench that succeeded must read
          }
          log(`${what}: ${((Date.now() - t) / 1000).toFixed(0)} s (load ${load()})`);
        }
    }
    const loadEnd = load();
    const rows = samples.summary();

    console.log(`== before/after: ${opts.benches.join(", ")}, ${opts.rounds} round(s) each, interleaved, in ${((Date.now() - started) / 60000).toFixed(1)} min ==`);
    console.log(`before ${names.before}; after ${names.after}`);
    console.log(`load average (1/5/15 min) at start ${loadStart}, at end ${loadEnd}`);
    for (const line of renderTable(rows)) console.log(line);
    console.log("(medians of the rounds, each bench's own best-of figures; spread: half the range over the median)");
    if (unequal.length) console.log(`results of the two engines differ: ${unequal.join("; ")}`);
    for (const f of failures) console.log(`FAILED ${f}`);
    if (failures.length) process.exitCode = 1;
    if (opts.json) {
      const doc = { base: { rev: opts.base ?? null, commit: baseCommit }, after: { rev: opts.after ?? null, commit: afterCommit, tree: afterTree ? "worktree" : "checkout" }, rounds: opts.rounds, benches: opts.benches, load: { start: loadStart, end: loadEnd }, unequal, failures, rows };
      writeFileSync(opts.json, JSON.stringify(doc, null, 2) + "\n");
    }
  } finally {
    cleanup();
  }
}

try {
  await main();
} catch (e) {
  if (e instanceof UsageError) {
    console.error(`before-after: ${e.message}`);
    process.exit(2);
  }
  console.error(`before-after: ${(e as Error).message}`);
  process.exit(1);
}
