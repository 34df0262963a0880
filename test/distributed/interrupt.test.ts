// A distributed run stopped by a signal rejects with engine/contract.ts's Interrupted, its signal
// typed (the CLI reads err.signal, not the message), with the results so far hung on it; a failure
// stays a CoordinatorError.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CoordinatorError } from "../../coordinator/coordinator.ts";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { Interrupted } from "../../engine/contract.ts";
import { partialOf } from "../../engine/partial.ts";
import { logSink, scenario, waitFor } from "./helpers.ts";

// Paced: the run is still going when the test stops it, however loaded the machine.
const cfg = scenario({ cpus: 2, rps_cpus: [0, 1], duration_ns: 200_000_000 });

test("coordinator.interrupt(SIGTERM): the run rejects with an Interrupted carrying SIGTERM and the results so far", { timeout: 60_000 }, async () => {
  const sink = logSink();
  const err = await runProcesses(cfg, {
    pace: 0.05,
    log: sink.log,
    onRunning: (run) => {
      void (async () => {
        await waitFor(() => run.status().checkpoints > 0, 30_000);
        run.coordinator.interrupt("SIGTERM");
      })();
    },
  }).then(
    () => assert.fail("the run should stop"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Interrupted, String(err));
  assert.ok(!(err instanceof CoordinatorError));
  assert.equal(err.signal, "SIGTERM");
  const partial = partialOf(err);
  assert.ok(partial && partial.virtual_ns > 0 && partial.virtual_ns < cfg.duration_ns, "the results so far, at a checkpoint");
});

test("coordinator.fail(why): a CoordinatorError with the reason", { timeout: 60_000 }, async () => {
  const err = await runProcesses(cfg, {
    pace: 0.05,
    log: logSink().log,
    onRunning: (run) => run.coordinator.fail("stopped by the test"),
  }).then(
    () => assert.fail("the run should fail"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CoordinatorError, String(err));
  assert.match(err.message, /^stopped by the test/);
});
