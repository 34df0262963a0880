// Membership and liveness (issue 3): a second CPU claiming a taken id is refused with a clear
// error; a dead coordinator makes every CPU exit within a bounded time.
import assert from "node:assert/strict";
import { test } from "node:test";
import { COORDINATOR_MAIN, CPU_MAIN, alive, exitOf, scenario, startTs, waitFor, coordinatorInProcess } from "./helpers.ts";

test("a second CPU claiming a taken id is refused with a clear error, and the run goes on", { timeout: 60_000 }, async () => {
  const cfg = scenario({ cpus: 2, rps_cpus: [0, 1], duration_ns: 5_000_000 });
  const { done, endpoint, sink } = await coordinatorInProcess(cfg);
  const first = startTs(CPU_MAIN, ["--coordinator", endpoint, "--id", "0"]);
  assert.ok(await waitFor(() => sink.lines.some((l) => l.startsWith("cpu 0 registered")), 15_000), "cpu 0 registered");
  const second = startTs(CPU_MAIN, ["--coordinator", endpoint, "--id", "0"]);
  assert.equal(await exitOf(second.proc), 2, second.output());
  assert.match(second.output(), /refused by the coordinator: cpu id 0 is already taken \(by pid \d+/);
  assert.ok(sink.lines.some((l) => /refused a cpu .*cpu id 0 is already taken/.test(l)));
  const third = startTs(CPU_MAIN, ["--coordinator", endpoint, "--id", "1"]);
  assert.equal(await done, 0, sink.lines.join("\n"));
  assert.equal(await exitOf(first.proc), 0);
  assert.equal(await exitOf(third.proc), 0);
});

test("the coordinator killed: every CPU sees its connection close and exits at the timeout floor", { timeout: 60_000 }, async () => {
  const timeoutMs = 1000;
  const coord = startTs(COORDINATOR_MAIN, ["--cpus", "2", "--bind", "tcp://127.0.0.1:*", "--duration-ms", "1000", "--pace", "0.01", "--coordinator-timeout-ms", String(timeoutMs)]);
  const bound = () => /waiting for 2 cpus at (\S+)/.exec(coord.output())?.[1];
  let cpus: ReturnType<typeof startTs>[] = [];
  try {
    assert.ok(await waitFor(() => bound() !== undefined, 15_000), coord.output());
    cpus = [0, 1].map((id) => startTs(CPU_MAIN, ["--coordinator", bound()!, "--id", String(id)]));
    assert.ok(await waitFor(() => coord.output().includes("all 2 cpus registered"), 20_000), coord.output());
    await new Promise((r) => setTimeout(r, 300));
    coord.proc.kill("SIGKILL");
    const killedAt = performance.now();
    const codes = await Promise.all(cpus.map((c) => exitOf(c.proc)));
    const tookMs = performance.now() - killedAt;
    assert.deepEqual(codes, [4, 4], cpus.map((c) => c.output()).join("\n"));
    assert.ok(tookMs < timeoutMs + 1500, `CPUs took ${Math.round(tookMs)} ms to exit`);
    for (const c of cpus) assert.match(c.output(), /coordinator silent for \d+ ms and its connection is closed; exiting/);
  } finally {
    for (const p of [coord.proc, ...cpus.map((c) => c.proc)]) if (p.pid && alive(p.pid)) p.kill("SIGKILL");
  }
});
