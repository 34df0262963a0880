// The coordinator's HTTP server: /metrics and /healthz, and the control API's answers to good and
// bad requests (4xx with a JSON {"error"} body, the run untouched).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ControlError, startHttpServer, type ControlHandlers, type HttpServerHandle } from "../../coordinator/http.ts";
import { SoftnetMetrics } from "../../coordinator/metrics.ts";
import { UsageError } from "../../cli/errors.ts";
import { fakeCounters } from "./fixtures.ts";

/** A control side that records what it was asked and refuses to offline a CPU twice. */
class RecordingControl implements ControlHandlers {
  calls: string[] = [];
  offlineCpus = new Set<number>();
  offline({ cpu }: { cpu: number }) {
    if (this.offlineCpus.has(cpu)) throw new ControlError(409, `cpu ${cpu} is already offline`);
    this.offlineCpus.add(cpu);
    this.calls.push(`offline ${cpu}`);
    return { scheduled: "offline", cpu };
  }
  async online({ cpu }: { cpu: number }) {
    this.offlineCpus.delete(cpu);
    this.calls.push(`online ${cpu}`);
    return { scheduled: "online", cpu };
  }
  rate({ source, pps }: { source: number; pps: number }) {
    this.calls.push(`rate ${source} ${pps}`);
    return { scheduled: "rate", source, pps };
  }
  stop() {
    this.calls.push("stop");
    return undefined;
  }
  status() {
    return { running: true, offline: [...this.offlineCpus] };
  }
}

async function call(url: string, method = "GET", body?: string) {
  const r = await fetch(url, { method, body, headers: body === undefined ? {} : { "Content-Type": "application/json" } });
  const text = await r.text();
  return { status: r.status, type: r.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) as Record<string, unknown> };
}

describe("coordinator HTTP server", () => {
  const metrics = new SoftnetMetrics();
  const control = new RecordingControl();
  let server: HttpServerHandle;

  before(async () => {
    metrics.update([0, 1, 2, 3].map((cpu) => fakeCounters(cpu)), {
      scenario: "s",
      profile: "6.6",
      virtualNs: 1e9,
      lostOnCrash: 0,
      checkerOk: true,
    });
    server = await startHttpServer({ port: 0, host: "127.0.0.1", metrics, control });
  });
  after(() => server.close());

  it("serves /metrics with the registry's content type", async () => {
    const r = await call(`${server.url}/metrics`);
    assert.equal(r.status, 200);
    assert.equal(r.type, metrics.contentType);
    assert.match(r.text, /^node_softnet_processed_total\{cpu="3",scenario="s",profile="6.6"\} \d+$/m);
  });

  it("answers /healthz for container health checks", async () => {
    const r = await call(`${server.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: "ok", cpus: 4, cpus_online: 4, virtual_ns: 1e9 });
  });

  it("passes well-formed control requests to the handlers", async () => {
    assert.deepEqual((await call(`${server.url}/control/offline`, "POST", '{"cpu": 2}')).json(), { scheduled: "offline", cpu: 2 });
    assert.deepEqual((await call(`${server.url}/control/status`)).json(), { running: true, offline: [2] });
    assert.deepEqual((await call(`${server.url}/control/online`, "POST", '{"cpu": 2}')).json(), { scheduled: "online", cpu: 2 });
    assert.equal((await call(`${server.url}/control/rate`, "POST", '{"source": 0, "pps": 250000}')).status, 200);
    const stop = await call(`${server.url}/control/stop`, "POST");
    assert.deepEqual([stop.status, stop.json()], [200, { ok: true }]);
    assert.deepEqual(control.calls, ["offline 2", "online 2", "rate 0 250000", "stop"]);
  });

  const bad: [string, string, string | undefined, number, RegExp][] = [
    ["bad JSON", "/control/offline", '{"cpu": 1', 400, /not valid JSON/],
    ["a JSON array", "/control/offline", "[1]", 400, /must be a JSON object/],
    ["a missing cpu", "/control/offline", "{}", 400, /"cpu" must be a CPU id .* got nothing/],
    ["a fractional cpu", "/control/online", '{"cpu": 1.5}', 400, /"cpu" must be a CPU id/],
    ["an unknown cpu", "/control/offline", '{"cpu": 9}', 404, /unknown cpu 9: this run has cpus 0-3/],
    ["an unknown action", "/control/reboot", "{}", 404, /unknown control action "reboot"/],
    ["a negative rate", "/control/rate", '{"source": 0, "pps": -1}', 400, /"pps" must be a rate/],
    ["GET on an action", "/control/offline", undefined, 405, /use POST/],
    ["an unknown path", "/nope", undefined, 404, /no such path/],
  ];
  for (const [what, path, body, status, message] of bad) {
    it(`answers ${what} with ${status} and a JSON error`, async () => {
      const before = control.calls.length;
      const r = await call(`${server.url}${path}`, body === undefined ? "GET" : "POST", body);
      assert.equal(r.status, status, r.text);
      assert.match(r.type, /^application\/json/);
      assert.match(String(r.json()["error"]), message);
      assert.equal(control.calls.length, before, "a refused request must not reach the run");
    });
  }

  it("passes a handler's refusal through with its status", async () => {
    await call(`${server.url}/control/offline`, "POST", '{"cpu": 1}');
    const r = await call(`${server.url}/control/offline`, "POST", '{"cpu": 1}');
    assert.deepEqual([r.status, r.json()], [409, { error: "cpu 1 is already offline" }]);
  });

  it("refuses a body larger than 64 KiB", async () => {
    const r = await call(`${server.url}/control/rate`, "POST", JSON.stringify({ pad: "x".repeat(70_000) }));
    assert.equal(r.status, 413);
  });

  it("says so when the control API is not enabled", async () => {
    const plain = await startHttpServer({ port: 0, host: "127.0.0.1", metrics });
    try {
      const r = await call(`${plain.url}/control/status`);
      assert.equal(r.status, 404);
      assert.match(String(r.json()["error"]), /not enabled/);
      assert.equal((await call(`${plain.url}/metrics`)).status, 200);
    } finally {
      await plain.close();
    }
  });

  it("reports a port in use as one line naming the port", async () => {
    await assert.rejects(startHttpServer({ port: server.port, host: "127.0.0.1", metrics }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.equal(err.message, `--metrics-port ${server.port}: 127.0.0.1:${server.port} is already in use`);
      return true;
    });
    // The running server is unharmed.
    assert.equal((await call(`${server.url}/healthz`)).status, 200);
  });
});
