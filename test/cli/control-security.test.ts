// The control API from the command line: `run` and `coordinator` listen on 127.0.0.1 unless
// --metrics-host says otherwise; off loopback, commands need the bearer token (--control-token,
// --control-token-file, SOFTNET_CONTROL_TOKEN), made up and printed once when none is given. The
// in-process engine answers signals and /control/stop within a second even at the highest rate.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { cliInProcess as inProcess, Running, usageErrorLine, waitFor } from "./spawn.ts";

// A coordinator refuses to start without the run's secret (transport/auth.ts, --secret-file or
// SOFTNET_SECRET); the coordinators started here inherit this one (they never see a CPU).
process.env["SOFTNET_SECRET"] ||= "c0417201c0417201c0417201c0417201c0417201c0417201c0417201c0417201";

const URL_LINE = /metrics and control API at (http:\/\/[^ ]+) /;
const TOKEN_LINE = /^softnet-emu: control API token \(made up: 0\.0\.0\.0 is not a loopback address .*\): ([A-Za-z0-9_-]{32})$/m;


function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return undefined;
}

const post = (url: string, action: string, token?: string, body = "{}") =>
  fetch(`${url}/control/${action}`, { method: "POST", body, headers: token ? { Authorization: `Bearer ${token}` } : {} });

describe("where the control API listens, who may command it", { timeout: 90_000 }, () => {
  test("coordinator: 127.0.0.1 by default, not reachable on the machine's other addresses", async () => {
    const coord = Running.start(["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", "0", "--quiet"]);
    try {
      const url = (await coord.stderrMatch(URL_LINE))[1]!;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.doesNotMatch(coord.stderr, /token/, "no token on loopback");
      assert.equal((await fetch(`${url}/control/status`)).status, 200);
      // No token needed here: the command reaches the coordinator (which is still waiting for its CPUs).
      assert.equal((await post(url, "stop")).status, 409);
      const outside = outsideAddress();
      if (outside) await assert.rejects(fetch(`http://${outside}:${new URL(url).port}/healthz`), `${outside} must not answer`);
    } finally {
      coord.kill();
    }
  });

  test("coordinator --metrics-host 0.0.0.0 and no token: one made up, printed once; 401 without it", async () => {
    const coord = Running.start(["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", "0", "--metrics-host", "0.0.0.0", "--quiet"]);
    try {
      const url = (await coord.stderrMatch(URL_LINE))[1]!;
      const token = (await coord.stderrMatch(TOKEN_LINE))[1]!;
      assert.equal(coord.stderr.split(token).length, 2, "printed once");
      assert.equal((await post(url, "stop")).status, 401);
      assert.equal((await post(url, "stop", "guess")).status, 401);
      assert.equal((await post(url, "stop", token)).status, 409, "past the token: the run has not started");
      assert.equal((await fetch(`${url}/control/status`)).status, 200, "status stays open (health checks)");
      assert.equal((await fetch(`${url}/metrics`)).status, 200, "Prometheus needs no token");
      const outside = outsideAddress();
      if (outside) assert.equal((await post(`http://${outside}:${new URL(url).port}`, "stop")).status, 401);
    } finally {
      coord.kill();
    }
  });

  test("run --engine inprocess on 0.0.0.0 with --control-token-file: commands with it, results written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-emu-token-"));
    writeFileSync(join(dir, "token"), "file-token-123\n");
    const run = Running.start([
      "run", "--engine", "inprocess", "--duration", "40ms", "--pace", "0.02", "--metrics-port", "0", "--metrics-host", "0.0.0.0",
      "--control-token-file", join(dir, "token"), "--quiet", "--json", join(dir, "r.json"),
    ]);
    try {
      const url = (await run.stderrMatch(URL_LINE))[1]!;
      assert.doesNotMatch(run.stderr, /control API token/, "a given token is not printed");
      await waitFor("the run going", async () => ((await (await fetch(`${url}/control/status`)).json()) as { virtual_ns: number }).virtual_ns > 0 || undefined);
      assert.equal((await post(url, "offline", undefined, '{"cpu": 1}')).status, 401);
      assert.equal((await post(url, "offline", "file-token-12", '{"cpu": 1}')).status, 401);
      assert.equal((await post(url, "offline", "file-token-123", '{"cpu": 1}')).status, 200);
      assert.equal((await post(url, "stop", "file-token-123")).status, 200);
      assert.equal(await run.exited, 0, run.stderr);
    } finally {
      run.kill();
    }
  });

  test("SOFTNET_CONTROL_TOKEN; an empty one counts as unset", async () => {
    const start = (token: string) =>
      Running.start(["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", "0", "--metrics-host", "0.0.0.0", "--quiet"], { SOFTNET_CONTROL_TOKEN: token });
    const [given, empty] = [start("env-token-456"), start("")];
    try {
      const url = (await given.stderrMatch(URL_LINE))[1]!;
      assert.doesNotMatch(given.stderr, /control API token/, "a given token is not printed");
      assert.equal((await post(url, "stop")).status, 401);
      assert.equal((await post(url, "stop", "env-token-456")).status, 409);
      const url2 = (await empty.stderrMatch(URL_LINE))[1]!;
      const token = (await empty.stderrMatch(TOKEN_LINE))[1]!;
      assert.equal((await post(url2, "stop")).status, 401);
      assert.equal((await post(url2, "stop", token)).status, 409);
    } finally {
      given.kill();
      empty.kill();
    }
  });

  test("bad flags: one line, exit 2, before anything starts", async () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-emu-token-"));
    writeFileSync(join(dir, "empty"), "\n");
    const cases: [string[], RegExp][] = [
      [["run", "--metrics-host", "0.0.0.0"], /--metrics-host: needs --metrics-port/],
      [["run", "--control-token", "abc"], /--control-token: needs --metrics-port/],
      [["run", "--metrics-port", "0", "--control-token", "a", "--control-token-file", join(dir, "empty")], /--control-token-file: give it or --control-token, not both/],
      [["run", "--metrics-port", "0", "--control-token-file", join(dir, "missing")], /--control-token-file .*missing: cannot read it \(ENOENT\)/],
      [["run", "--metrics-port", "0", "--control-token-file", join(dir, "empty")], /--control-token-file .*empty: the control token is empty/],
      [["run", "--metrics-port", "0", "--control-token", "two words"], /--control-token: a control token is printable ASCII without spaces/],
      [["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", "0", "--metrics-host", "192.0.2.254"], /--metrics-host 192\.0\.2\.254: not an address of this host/],
    ];
    for (const [args, message] of cases) assert.match(usageErrorLine(await inProcess(args)), message, args.join(" "));
  });
});

describe("the in-process engine at the highest rate answers within a second", { timeout: 60_000 }, () => {
  // 10⁸ pps for 100 virtual s: hours of work; a step between two checkpoints (1 virtual s) is minutes.
  const HUGE = ["run", "--engine", "inprocess", "--rate", "1e8", "--duration", "100s", "--metrics-port", "0", "--quiet"];

  async function started(run: Running): Promise<string> {
    const url = (await run.stderrMatch(URL_LINE))[1]!;
    await waitFor("the run going", async () => ((await (await fetch(`${url}/control/status`)).json()) as { virtual_ns: number }).virtual_ns > 0 || undefined);
    // Well into it: the JIT warm, slices at their steady size.
    await new Promise((r) => setTimeout(r, 500));
    return url;
  }

  test("SIGINT: exit 130 within a second", async () => {
    const run = Running.start(HUGE);
    try {
      await started(run);
      const t0 = performance.now();
      run.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr);
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `exited ${ms.toFixed(0)} ms after SIGINT`);
      assert.match(run.stderr, /interrupted \(SIGINT\)/);
    } finally {
      run.kill();
    }
  });

  test("/control/status and /control/stop answered within a second; the run ends there with results", async () => {
    const run = Running.start([...HUGE, "--json", "-"]);
    try {
      const url = await started(run);
      let worst = 0;
      for (let i = 0; i < 5; i++) {
        const t0 = performance.now();
        assert.equal((await fetch(`${url}/control/status`)).status, 200);
        worst = Math.max(worst, performance.now() - t0);
      }
      assert.ok(worst < 1000, `status took up to ${worst.toFixed(0)} ms`);
      const t0 = performance.now();
      const stop = await post(url, "stop");
      const ms = performance.now() - t0;
      assert.equal(stop.status, 200);
      assert.ok(ms < 1000, `stop answered after ${ms.toFixed(0)} ms`);
      const endNs = ((await stop.json()) as { end_ns: number }).end_ns;
      assert.equal(await run.exited, 0, run.stderr);
      const results = JSON.parse(run.stdout) as { virtual_ns: number; checker: { ok: boolean } };
      assert.equal(results.virtual_ns, endNs);
      assert.ok(results.checker.ok);
    } finally {
      run.kill();
    }
  });
});
