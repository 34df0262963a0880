// The control API (issue 3): curl-able JSON over HTTP while a distributed run goes on. A command
// takes effect at a virtual time no CPU has passed and is recorded, so the run it produced can be
// replayed exactly by the in-process engine from the recorded schedule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { runInProcess } from "../../engine/inprocess.ts";
import type { CpuCommand } from "../../model/messages.ts";
import { ALL_CPUS, assertEquivalent, logSink, scenario } from "./helpers.ts";

async function call(url: string, path: string, body?: object): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {});
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("offline, online, rate and stop over HTTP; the recorded schedule replays exactly in-process", { timeout: 60_000 }, async () => {
  // Paced to last 10 wall seconds unless stopped: on a loaded machine the HTTP calls below can take
  // seconds, and the run must still be going when /control/stop comes (it ends the run early).
  const cfg = scenario({ seed: 21, rate_pps: 300_000, rps_cpus: ALL_CPUS, duration_ns: 400_000_000 });
  const sink = logSink();
  let url = "";
  let running = false;
  const replies: Record<string, { status: number; json: Record<string, unknown> }> = {};
  const driver = (async () => {
    while (!running || !url) await sleep(20);
    await sleep(250);
    replies.offline = await call(url, "/control/offline", { cpu: 2 });
    replies.again = await call(url, "/control/offline", { cpu: 2 });
    replies.unknown = await call(url, "/control/offline", { cpu: 9 });
    // Each next command once virtual time has moved on: a loaded machine may hold the run still
    // for longer than any sleep (slow, not dead), and two commands would share a virtual time.
    const movedPast = async (ns: number): Promise<void> => {
      while (((await call(url, "/control/status")).json.virtual_ns as number) <= ns) await sleep(20);
    };
    await sleep(150);
    await movedPast(replies.offline.json.at_ns as number);
    replies.online = await call(url, "/control/online", { cpu: 2 });
    replies.rate = await call(url, "/control/rate", { source: 0, pps: 500_000 });
    await sleep(150);
    await movedPast(replies.online.json.at_ns as number);
    replies.status = await call(url, "/control/status");
    replies.stop = await call(url, "/control/stop", {});
  })();
  const got = await runProcesses(cfg, { pace: 0.04, httpPort: 0, log: sink.log, onHttp: (u) => (url = u), onRunning: () => (running = true) });
  await driver;

  assert.equal(replies.offline!.status, 200, JSON.stringify(replies.offline));
  assert.equal(replies.again!.status, 409, "a CPU already offline cannot go offline again");
  assert.match(String(replies.again!.json.error), /already offline/);
  assert.equal(replies.unknown!.status, 404);
  assert.equal(replies.online!.status, 200);
  assert.equal(replies.rate!.status, 200);
  assert.equal(replies.status!.json.phase, "running");
  assert.equal((replies.status!.json.commands as unknown[]).length, 3);
  assert.equal(replies.stop!.status, 200);

  const offAt = replies.offline!.json.at_ns as number;
  const onAt = replies.online!.json.at_ns as number;
  const endNs = replies.stop!.json.end_ns as number;
  assert.ok(0 < offAt && offAt < onAt && onAt <= endNs && endNs < cfg.duration_ns, `${offAt} < ${onAt} <= ${endNs}`);
  assert.equal(got.virtual_ns, endNs, "the run ends where /control/stop put it");
  assert.deepEqual(got.events, [{ at_ns: offAt, cpu: 2, action: "offline" }, { at_ns: onAt, cpu: 2, action: "online" }]);
  assert.equal(got.cpus[2]!.hotplug_offline, 1);

  // Replay: the recorded hotplug events plus the rate command, in one process.
  const rate: CpuCommand = { kind: "rate", source: 0, pps: 500_000, at_ns: replies.rate!.json.at_ns as number };
  const replay = runInProcess({ ...cfg, duration_ns: endNs, events: got.events as typeof cfg.events }, { commands: [rate] });
  assertEquivalent(replay, got, cfg.seed);
});
