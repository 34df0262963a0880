// One command validator for both engines (engine/validate-command.ts): the same requests get the
// same statuses from the in-process engine and from the coordinator — 400 for a rate that is no
// rate (1e15, Infinity, negative), 404 for a CPU or a load source the run does not have, 409 for
// the last online CPU, a CPU already in that state, and every command after /control/stop.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startHttpServer, type HttpServerHandle } from "../../observe/http.ts";
import { SoftnetMetrics } from "../../observe/metrics.ts";
import { controlHandlers } from "../../observe/processes-control.ts";
import { runProcesses } from "../../coordinator/run-processes.ts";
import { liveControlHandlers } from "../../observe/inprocess-control.ts";
import { MAX_PPS } from "../../config/units.ts";
import { runInProcessLive, type LiveRun } from "../../engine/live.ts";
import { CommandRefused, MAX_COMMAND_PPS, validateCommand, type CommandContext, type ControlCommand } from "../../engine/validate-command.ts";
import { logSink, scenario } from "./helpers.ts";

/** [path, raw JSON body, status, the error's pattern]; in this order against a 2-CPU run. */
const SCRIPT: [string, string, number, RegExp | undefined][] = [
  ["/control/rate", '{"source": 0, "pps": 1e15}', 400, /"pps" must be a rate .* from 0 to 100000000/],
  ["/control/rate", '{"source": 0, "pps": 1e999}', 400, /got Infinity/],
  ["/control/rate", '{"source": 0, "pps": -1}', 400, /"pps" must be a rate/],
  ["/control/rate", '{"source": 0, "pps": "fast"}', 400, /"pps" must be a rate/],
  ["/control/rate", '{"source": 3, "pps": 1000}', 404, /unknown load source 3: this run has sources 0$/],
  ["/control/offline", '{"cpu": 7}', 404, /unknown cpu 7: this run has cpus 0-1/],
  ["/control/online", '{"cpu": 1}', 409, /cpu 1 is already online/],
  ["/control/rate", '{"source": 0, "pps": 150000}', 200, undefined],
  ["/control/offline", '{"cpu": 1}', 200, undefined],
  ["/control/offline", '{"cpu": 1}', 409, /cpu 1 is already offline/],
  ["/control/offline", '{"cpu": 0}', 409, /cpu 0 is the last online cpu/],
  ["/control/stop", "{}", 200, undefined],
  ["/control/stop", "{}", 409, /stopping|done|the run is/],
  ["/control/online", '{"cpu": 1}', 409, /stopping|done|the run is/],
  ["/control/rate", '{"source": 0, "pps": 1000}', 409, /stopping|done|the run is/],
  // The shape is judged first, whatever the state.
  ["/control/rate", '{"source": 0, "pps": 1e15}', 400, /"pps" must be a rate/],
];

async function play(url: string): Promise<{ status: number; error?: string }[]> {
  const out: { status: number; error?: string }[] = [];
  for (const [path, body] of SCRIPT) {
    const r = await fetch(`${url}${path}`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const json = (await r.json()) as { error?: string };
    out.push({ status: r.status, ...(json.error !== undefined ? { error: json.error } : {}) });
  }
  return out;
}

function assertScript(replies: { status: number; error?: string }[], engine: string): void {
  SCRIPT.forEach(([path, body, status, error], i) => {
    const got = replies[i]!;
    assert.equal(got.status, status, `${engine}: ${path} ${body}: ${got.error ?? ""}`);
    if (error) assert.match(got.error ?? "", error, `${engine}: ${path} ${body}`);
  });
}

// Two CPUs, one NIC queue; paced so that it is still running when the script plays.
const cfg = scenario({ cpus: 2, rps_cpus: [0, 1], rate_pps: 100_000, duration_ns: 2_000_000_000 });

describe("the same answers from both engines", { timeout: 60_000 }, () => {
  test("in-process engine (the live driver behind run --engine inprocess)", async () => {
    let http: HttpServerHandle | undefined;
    let played: Promise<{ status: number; error?: string }[]> | undefined;
    let run: LiveRun | undefined;
    const started = performance.now();
    const results = await runInProcessLive(cfg, {
      pace: 0.05,
      onStart: (r) => {
        run = r;
        played = (async () => {
          http = await startHttpServer({ port: 0, metrics: new SoftnetMetrics(), control: liveControlHandlers(r) });
          return play(http.url);
        })();
      },
    });
    // The script goes on after the stop (commands refused once it is over).
    const replies = await played!;
    await http?.close();
    assert.ok(run);
    assertScript(replies, "inprocess");
    assert.ok(results.virtual_ns < cfg.duration_ns, "stopped early");
    assert.deepEqual(results.events.map((e) => [e.cpu, e.action]), [[1, "offline"]]);
    assert.ok(performance.now() - started < 10_000);
  });

  test("coordinator (run --engine processes, softnet-emu coordinator)", async () => {
    // Our own server on the coordinator's handlers, as startControlServer mounts them: run's closes
    // when the run is over, which after the stop can come before the script's last requests.
    let http: HttpServerHandle | undefined;
    let running = false;
    let replies: { status: number; error?: string }[] = [];
    let driver: Promise<void> = Promise.resolve();
    const results = await runProcesses(cfg, {
      pace: 0.05,
      log: logSink().log,
      onStart: (coordinator) => {
        driver = (async () => {
          http = await startHttpServer({ port: 0, metrics: new SoftnetMetrics(), control: controlHandlers(coordinator, cfg) });
          while (!running) await new Promise((r) => setTimeout(r, 20));
          replies = await play(http.url);
        })();
      },
      onRunning: () => (running = true),
    });
    await driver;
    await http?.close();
    assertScript(replies, "processes");
    assert.ok(results.virtual_ns < cfg.duration_ns, "stopped early");
    assert.deepEqual(results.events.map((e) => [e.cpu, e.action]), [[1, "offline"]]);
  });
});

describe("validateCommand", () => {
  const ctx = (over: Partial<CommandContext> = {}): CommandContext => ({ cpus: 4, sources: 2, atNs: 1000, online: () => true, ...over });
  const refusal = (cmd: ControlCommand, c: CommandContext): number | undefined => {
    try {
      validateCommand(cmd, c);
      return undefined;
    } catch (e) {
      assert.ok(e instanceof CommandRefused);
      return e.status;
    }
  };

  test("the rate ceiling is the one --rate and scenario files have", () => {
    assert.equal(MAX_COMMAND_PPS, MAX_PPS);
    assert.equal(refusal({ kind: "rate", source: 1, pps: MAX_COMMAND_PPS }, ctx()), undefined);
    assert.equal(refusal({ kind: "rate", source: 1, pps: MAX_COMMAND_PPS + 1 }, ctx()), 400);
    assert.equal(refusal({ kind: "rate", source: 1, pps: 0 }, ctx()), undefined, "0 stops the source");
    for (const pps of [Number.NaN, Infinity, -Infinity, -0.5]) assert.equal(refusal({ kind: "rate", source: 0, pps }, ctx()), 400, String(pps));
    assert.equal(refusal({ kind: "rate", source: 2, pps: 1 }, ctx()), 404);
    assert.equal(refusal({ kind: "rate", source: 0.5, pps: 1 }, ctx()), 400);
  });

  test("hotplug: ids, states, the last online CPU, crashed CPUs", () => {
    const online = new Set([0, 2]);
    const c = ctx({ online: (cpu) => online.has(cpu), dead: [2] });
    assert.equal(refusal({ kind: "offline", cpu: 4 }, c), 404);
    assert.equal(refusal({ kind: "offline", cpu: -1 }, c), 400);
    assert.equal(refusal({ kind: "online", cpu: 1 }, c), undefined);
    assert.equal(refusal({ kind: "online", cpu: 0 }, c), 409, "already online");
    assert.equal(refusal({ kind: "offline", cpu: 1 }, c), 409, "already offline");
    assert.equal(refusal({ kind: "online", cpu: 2 }, c), 409, "crashed");
    // CPU 2 still counts as online in the schedule, but it is dead: CPU 0 is the last one.
    assert.equal(refusal({ kind: "offline", cpu: 0 }, c), 409, "the last online CPU");
  });

  test("a closed run refuses everything, after judging the shape", () => {
    const c = ctx({ closed: "the run is done" });
    assert.equal(refusal({ kind: "stop" }, c), 409);
    assert.equal(refusal({ kind: "online", cpu: 1 }, c), 409);
    assert.equal(refusal({ kind: "rate", source: 0, pps: 1e15 }, c), 400);
    assert.equal(refusal({ kind: "offline", cpu: 9 }, c), 404);
  });
});
