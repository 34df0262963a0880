// Runs a set of emulations (one per profile of a comparison, per value of a sweep, per run of a
// claim): in-process runs on a few worker threads, at most one per core (the model is single-
// threaded and CPU-bound), results in the order of the jobs whatever order they finish in.
// Another engine (the distributed one starts a process per emulated CPU) runs its jobs one after
// the other in this thread.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { LivenessSettings } from "../chaos/liveness.ts";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { firstAbort, parseConditions } from "./assertions.ts";
import { runChecked, type CheckedResults, type CheckedRunOptions } from "./checked-run.ts";
import { judged } from "../chaos/liveness.ts";
import { runningBundle } from "../bin/entries.ts";

export interface RunJob {
  /** Names the run in log lines: a profile, `rate=2e6`, a claim's run. */
  label: string;
  cfg: EmuConfig;
  seriesIntervalNs?: number;
  /** Abort conditions (scenario `abort:`), as written. */
  abort?: string[];
  /** The liveness verdict's settings (--stall-after): every run gets one, as in `run`. */
  liveness?: LivenessSettings;
}

export type WorkerRequest = { id: number; job: RunJob };
export type WorkerReply =
  | { kind: "log"; id: number; line: string }
  | { kind: "done"; id: number; results: CheckedResults }
  | { kind: "error"; id: number; message: string; stack: string };

/** An engine as cli/engines.ts loads it. */
export type EngineFn = (
  cfg: EmuConfig,
  opts: { seriesIntervalNs?: number; log?: (line: string) => void; liveness?: LivenessSettings },
) => RunResults | Promise<RunResults>;

export interface PoolOptions {
  /** Worker threads at most (default: the cores available); 1 runs in this thread. */
  parallel?: number;
  /** Run on this engine instead, one job at a time (it cannot stop a run early: no abort). */
  engine?: EngineFn;
  log?: (label: string, line: string) => void;
  onDone?: (label: string, results: CheckedResults, wallMs: number) => void;
}

export function defaultParallelism(): number {
  return Math.max(1, availableParallelism());
}

export async function runJobs(jobs: readonly RunJob[], opts: PoolOptions = {}): Promise<CheckedResults[]> {
  const parallel = Math.min(opts.parallel ?? defaultParallelism(), jobs.length);
  if (opts.engine) return runSequential(jobs, opts, opts.engine);
  if (parallel <= 1) return runSequential(jobs, opts, null);
  return runOnWorkers(jobs, opts, parallel);
}

async function runSequential(jobs: readonly RunJob[], opts: PoolOptions, engine: EngineFn | null): Promise<CheckedResults[]> {
  const out: CheckedResults[] = [];
  for (const job of jobs) {
    const start = performance.now();
    const log = (line: string) => opts.log?.(job.label, line);
    let results: CheckedResults;
    if (engine) {
      // cli/engines.ts judges liveness itself.
      results = await engine(job.cfg, { seriesIntervalNs: job.seriesIntervalNs, log, ...(job.liveness ? { liveness: job.liveness } : {}) });
    } else {
      results = runJudged(job, log);
    }
    opts.onDone?.(job.label, results, performance.now() - start);
    out.push(results);
  }
  return out;
}

/** An in-process job: stopped at its abort conditions, judged for liveness (results.liveness). */
export function runJudged(job: RunJob, log: (line: string) => void): CheckedResults {
  const aborts = parseConditions("abort", job.abort);
  const { opts, judge } = judged(
    job.cfg,
    { seriesIntervalNs: job.seriesIntervalNs, log, abortIf: aborts.length ? (s: RunResults) => firstAbort(aborts, s) : undefined } as CheckedRunOptions,
    job.liveness,
  );
  const results = runChecked(job.cfg, opts);
  judge.finish(results);
  return results;
}

/**
 * From a bundle (scripts/build.mjs), the worker is the bundle's own run-worker entry. From the
 * sources, it loads TypeScript through tsx's API: a worker inherits neither the hooks that tsx
 * registers in this thread nor (on Node 20) `--import tsx`, so it registers them itself.
 */
function spawnWorker(): Worker {
  const bundle = runningBundle();
  if (bundle !== undefined) return new Worker(new URL("run-worker.mjs", bundle));
  const tsx = import.meta.resolve("tsx/esm/api");
  const entry = new URL("./run-worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true });
}

async function runOnWorkers(jobs: readonly RunJob[], opts: PoolOptions, parallel: number): Promise<CheckedResults[]> {
  const results = new Array<CheckedResults | undefined>(jobs.length);
  const started = new Array<number>(jobs.length).fill(0);
  let next = 0;
  const workers = Array.from({ length: parallel }, spawnWorker);
  try {
    await new Promise<void>((resolve, reject) => {
      let finished = 0;
      const feed = (w: Worker) => {
        if (next >= jobs.length) return;
        const id = next++;
        started[id] = performance.now();
        w.postMessage({ id, job: jobs[id]! } satisfies WorkerRequest);
      };
      for (const w of workers) {
        w.on("message", (m: WorkerReply) => {
          const label = jobs[m.id]!.label;
          if (m.kind === "log") return opts.log?.(label, m.line);
          if (m.kind === "error") {
            const err = new Error(`run '${label}' failed: ${m.message}`);
            err.stack = m.stack;
            return reject(err);
          }
          results[m.id] = m.results;
          opts.onDone?.(label, m.results, performance.now() - started[m.id]!);
          if (++finished === jobs.length) resolve();
          else feed(w);
        });
        w.on("error", reject);
        w.on("exit", (code) => {
          if (finished < jobs.length) reject(new Error(`a run worker exited (code ${code}) before the runs were done`));
        });
        feed(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results.map((r) => r!);
}
