// The coordinator's HTTP server: /metrics and /healthz, and the control API's answers to good and
// bad requests (4xx with a JSON {"error"} body, the run untouched); where it listens (127.0.0.1
// unless told otherwise) and the bearer token its commands need off loopback.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { after, before, describe, it } from "node:test";
import { ControlError, isLoopbackHost, startHttpServer, type ControlHandlers, type HttpServerHandle } from "../../observe/http.ts";
import { SoftnetMetrics } from "../../observe/metrics.ts";
import { UsageError } from "../../config/errors.ts";
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
    assert.match(r.text, new RegExp(`^node_softnet_processed_total\\{cpu="3",scenario="s",profile="6.6",run="${metrics.runId}"\\} \\d+$`, "m"));
  });

  it("answers /healthz for container health checks", async () => {
    const r = await call(`${server.url}/healthz`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { status: "ok", run_id: metrics.runId, cpus: 4, cpus_online: 4, virtual_ns: 1e9 });
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

  // The shape of a request is the server's to judge; whether its CPU or source exists is the command
  // validator's, against the run's configuration (test/distributed/validate-command.test.ts, both engines).
  const bad: [string, string, string | undefined, number, RegExp][] = [
    ["bad JSON", "/control/offline", '{"cpu": 1', 400, /not valid JSON/],
    ["a JSON array", "/control/offline", "[1]", 400, /must be a JSON object/],
    ["a missing cpu", "/control/offline", "{}", 400, /"cpu" must be a CPU id .* got nothing/],
    ["a fractional cpu", "/control/online", '{"cpu": 1.5}', 400, /"cpu" must be a CPU id/],
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

/** An IPv4 address of this machine other than loopback, if it has one. */
function outsideAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return undefined;
}

/** Connect to host:port; resolves with the error code, or "connected". */
function tryConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve("timeout");
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve("connected");
    });
    socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

describe("control API security: where it listens, who may command", () => {
  const metrics = new SoftnetMetrics();
  const post = (url: string, action: string, headers: Record<string, string> = {}, body = '{"cpu": 1}') =>
    fetch(`${url}/control/${action}`, { method: "POST", body, headers: { "Content-Type": "application/json", ...headers } });

  it("listens on 127.0.0.1 unless told otherwise: not reachable on the machine's other addresses", async () => {
    const server = await startHttpServer({ port: 0, metrics, control: new RecordingControl() });
    try {
      assert.equal(server.host, "127.0.0.1");
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(server.controlToken, undefined, "no token needed on loopback");
      assert.equal(await tryConnect("127.0.0.1", server.port), "connected");
      const outside = outsideAddress();
      if (outside) assert.equal(await tryConnect(outside, server.port), "ECONNREFUSED", `${outside}:${server.port} must not answer`);
      assert.equal((await post(server.url, "offline")).status, 200);
    } finally {
      await server.close();
    }
  });

  it("on 0.0.0.0 without a token: makes one up; commands need it (401 without, 401 wrong), reads stay open", async () => {
    const control = new RecordingControl();
    const server = await startHttpServer({ port: 0, host: "0.0.0.0", metrics, control });
    try {
      assert.equal(server.tokenGenerated, true);
      const token = server.controlToken!;
      assert.match(token, /^[A-Za-z0-9_-]{32}$/);
      const missing = await post(server.url, "offline");
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer /);
      assert.match(String(((await missing.json()) as { error: string }).error), /needs a token/);
      const wrong = await post(server.url, "offline", { Authorization: `Bearer ${token}x` });
      assert.deepEqual([wrong.status, await wrong.json()], [401, { error: "wrong control token" }]);
      assert.equal((await post(server.url, "offline", { Authorization: `Basic ${token}` })).status, 401);
      // Refused before the body is read: a large one gets 401, not 413.
      assert.equal((await post(server.url, "rate", {}, JSON.stringify({ pad: "x".repeat(70_000) }))).status, 401);
      // Probes for actions need it too.
      assert.equal((await post(server.url, "reboot")).status, 401);
      assert.deepEqual(control.calls, [], "nothing reached the run");

      const ok = await post(server.url, "offline", { Authorization: `Bearer ${token}` });
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.deepEqual(control.calls, ["offline 1"]);
      for (const path of ["/control/status", "/metrics", "/healthz"]) assert.equal((await fetch(`${server.url}${path}`)).status, 200, `${path} open`);
      const outside = outsideAddress();
      if (outside) {
        // Reachable from outside, and just as closed there.
        assert.equal((await post(`http://${outside}:${server.port}`, "online")).status, 401);
        assert.equal((await post(`http://${outside}:${server.port}`, "online", { Authorization: `Bearer ${token}` })).status, 200);
      }
    } finally {
      await server.close();
    }
  });

  it("a given token is required wherever it listens, loopback included", async () => {
    const server = await startHttpServer({ port: 0, metrics, control: new RecordingControl(), controlToken: "s3cret-token" });
    try {
      assert.equal(server.tokenGenerated, false);
      assert.equal((await post(server.url, "offline")).status, 401);
      assert.equal((await post(server.url, "offline", { Authorization: "Bearer s3cret-token" })).status, 200);
      assert.equal((await post(server.url, "stop", { Authorization: "bearer s3cret-token" })).status, 200, "the scheme is case-insensitive");
    } finally {
      await server.close();
    }
  });

  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ["0.0.0.0", "::", "192.0.2.2", "10.0.0.1", "example.org", "::ffff:10.0.0.1", "128.0.0.1"]) assert.equal(isLoopbackHost(h), false, h);
  });

  it("an address that is not this host's: one line naming --metrics-host", async () => {
    await assert.rejects(startHttpServer({ port: 0, host: "192.0.2.254", metrics }), (err: unknown) => {
      assert.ok(err instanceof UsageError);
      assert.match(err.message, /^--metrics-host 192\.0\.2\.254: not an address of this host \(EADDRNOTAVAIL\)$/);
      return true;
    });
  });
});
