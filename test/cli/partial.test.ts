// The results so far of an in-process run stopped by its signal or by a failure inside it
// (engine/partial.ts): the live driver rejects with the reason as before, and the results where the
// CPUs stood hang on it, balanced (the CLI writes them with `interrupted` or `failure`).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { resolveConfig } from "../../config/resolve.ts";
import { runInProcessLive } from "../../engine/live.ts";
import { attachPartial, partialOf } from "../../engine/partial.ts";

const cfg = () => resolveConfig(undefined, { duration_ns: 20_000_000 });

describe("results so far", () => {
  test("a failure at a checkpoint: the same error, the results up to that checkpoint on it", async () => {
    const boom = new Error("a bug at the third checkpoint");
    let seen = 0;
    let atThird = 0;
    const err = await runInProcessLive(cfg(), {
      onCheckpoint: (atNs) => {
        if (++seen === 3) {
          atThird = atNs;
          throw boom;
        }
      },
    }).then(
      () => assert.fail("the run should fail"),
      (e: unknown) => e,
    );
    assert.equal(err, boom);
    const r = partialOf(err)!;
    assert.ok(r, "results hang on the error");
    assert.equal(r.virtual_ns, atThird);
    const t = r.totals;
    assert.ok(t.injected > 0);
    assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight);
  });

  test("stopped by its signal: rejects with the signal's reason, the results so far on it", async () => {
    const controller = new AbortController();
    const reason = new Error("interrupted (SIGINT)");
    let snapshots = 0;
    const err = await runInProcessLive(cfg(), {
      signal: controller.signal,
      onSnapshot: () => {
        if (++snapshots === 5) controller.abort(reason);
      },
    }).then(
      () => assert.fail("the run should stop"),
      (e: unknown) => e,
    );
    assert.equal(err, reason);
    const r = partialOf(reason)!;
    assert.ok(r.virtual_ns > 0 && r.virtual_ns < 20_000_000, `${r.virtual_ns}`);
    assert.equal(r.totals.injected, r.totals.processed + r.totals.dropped + r.totals.queued + r.totals.in_flight);
  });

  test("only objects carry results; none is none", () => {
    assert.equal(partialOf(attachPartial("text", undefined)), undefined);
    assert.equal(partialOf(new Error("x")), undefined);
    assert.equal(partialOf(null), undefined);
  });
});
