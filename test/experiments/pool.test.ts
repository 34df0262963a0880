// The worker pool runs the same thing as this thread: results do not depend on where or in what
// order the runs went, and come back in the order of the jobs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveConfig } from "../../config/resolve.ts";
import { runJobs, type RunJob } from "../../report/pool.ts";

describe("run pool", () => {
  it("worker threads and this thread give identical results, in job order", async () => {
    const jobs: RunJob[] = ["rt-6.6", "6.6-patched-threads", "threads-without-patch1"].map((profile) => ({
      label: profile,
      cfg: resolveConfig(undefined, { profile, duration_ns: 2_000_000, rate_pps: 400_000 }),
      seriesIntervalNs: 500_000,
    }));
    jobs.push({ ...jobs[0]!, label: "aborting", abort: ["sum(cpus.processed) >= 100"] });
    const done: string[] = [];
    const workers = await runJobs(jobs, { parallel: 2, onDone: (label) => done.push(label) });
    const here = await runJobs(jobs, { parallel: 1 });
    assert.deepEqual(workers.map((r) => r.profile), ["rt-6.6", "6.6-patched-threads", "threads-without-patch1", "rt-6.6"]);
    assert.equal(JSON.stringify(workers), JSON.stringify(here));
    assert.deepEqual([...done].sort(), jobs.map((j) => j.label).sort(), "every run reported once");
    assert.ok(workers[3]!.aborted && workers[3]!.virtual_ns < 2_000_000, "abort conditions apply on the workers too");
  });
});
