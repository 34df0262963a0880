// The coordinator's HTTP face: GET /metrics for Prometheus, GET /healthz for container health checks,
// and the control API (POST /control/offline|online|rate|stop, GET /control/status) when the
// caller hands in handlers. Bad requests get a 4xx with a JSON body {"error": "..."}; they never
// touch the run.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { UsageError } from "../cli/errors.ts";
import { ppsError } from "../engine/validate-command.ts";
import type { SoftnetMetrics } from "./metrics.ts";

/** A refusal the control handlers want the client to see (e.g. 409: CPU already offline). */
export class ControlError extends Error {
  override readonly name = "ControlError";

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * What the control API drives. Each call resolves with a JSON-serialisable reply once the
 * command is scheduled; a ControlError's status and message reach the client unchanged.
 */
export interface ControlHandlers {
  offline(req: { cpu: number }): Promise<unknown> | unknown;
  online(req: { cpu: number }): Promise<unknown> | unknown;
  /** Change the offered rate of load source `source` (index as in PacketArrays.source). */
  rate(req: { source: number; pps: number }): Promise<unknown> | unknown;
  /** End the run early (orderly: drain, check, write results). */
  stop(): Promise<unknown> | unknown;
  status(): Promise<unknown> | unknown;
}

export interface HttpServerOptions {
  port: number;
  host?: string;
  metrics: SoftnetMetrics;
  control?: ControlHandlers;
}

export interface HttpServerHandle {
  /** The port actually bound (differs from the option when it was 0). */
  port: number;
  host: string;
  url: string;
  close(): Promise<void>;
}

/** A request body larger than this is refused: control requests are a few bytes. */
const MAX_BODY_BYTES = 64 * 1024;
const CONTROL_ACTIONS = ["offline", "online", "rate", "stop"] as const;
type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** Start serving; rejects with a one-line UsageError when the port cannot be bound. */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const host = opts.host ?? "0.0.0.0";
  const server = createServer((req, res) => {
    route(req, res, opts).catch((err: unknown) => {
      // A handler bug: report it to the client, keep serving.
      sendJson(res, 500, { error: `internal error: ${err instanceof Error ? err.message : String(err)}` });
    });
  });
  await listen(server, opts.port, host);
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    port,
    host,
    url: `http://${shown === "0.0.0.0" ? "127.0.0.1" : shown}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Keep-alive connections (Prometheus keeps one open) would hold close() forever.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why =
        err.code === "EADDRINUSE"
          ? "is already in use"
          : err.code === "EACCES"
            ? "needs privileges to bind"
            : err.code === "EADDRNOTAVAIL"
              ? "is not an address of this host"
              : `cannot be bound (${err.code ?? err.message})`;
      reject(new UsageError(`--metrics-port ${port}: ${host}:${port} ${why}`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

async function route(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): Promise<void> {
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  const method = req.method ?? "GET";

  if (path === "/metrics") {
    if (!isRead(method)) return methodNotAllowed(res, "GET");
    const body = await opts.metrics.metrics();
    res.writeHead(200, { "Content-Type": opts.metrics.contentType });
    res.end(body);
    return;
  }
  if (path === "/healthz") {
    if (!isRead(method)) return methodNotAllowed(res, "GET");
    const { counters, run } = opts.metrics.latest();
    sendJson(res, 200, {
      status: "ok",
      cpus: counters.length,
      cpus_online: counters.filter((c) => c.online).length,
      virtual_ns: run?.virtualNs ?? 0,
    });
    return;
  }
  if (path === "/control" || path.startsWith("/control/")) {
    const control = opts.control;
    if (control === undefined) return sendJson(res, 404, { error: "the control API is not enabled on this server" });
    return routeControl(req, res, path.slice("/control/".length), control, opts.metrics);
  }
  sendJson(res, 404, { error: `no such path ${JSON.stringify(path)}; try /metrics, /healthz or /control/status` });
}

async function routeControl(
  req: IncomingMessage,
  res: ServerResponse,
  action: string,
  control: ControlHandlers,
  metrics: SoftnetMetrics,
): Promise<void> {
  const method = req.method ?? "GET";
  if (action === "status") {
    if (!isRead(method)) return methodNotAllowed(res, "GET");
    return reply(res, () => control.status());
  }
  if (!isControlAction(action)) {
    return sendJson(res, 404, {
      error: `unknown control action ${JSON.stringify(action)}; expected one of status, ${CONTROL_ACTIONS.join(", ")}`,
    });
  }
  if (method !== "POST") return methodNotAllowed(res, "POST");

  const body = await readJsonObject(req);
  if (typeof body === "string") return sendJson(res, body === TOO_LARGE ? 413 : 400, { error: body });

  switch (action) {
    case "offline":
    case "online": {
      const cpu = cpuField(body, metrics);
      if (typeof cpu === "string") return sendJson(res, cpu.startsWith("unknown") ? 404 : 400, { error: cpu });
      return reply(res, () => control[action]({ cpu }));
    }
    case "rate": {
      const source = body["source"];
      const pps = body["pps"];
      if (!isNonNegativeInteger(source)) return sendJson(res, 400, { error: `"source" must be a load source index (integer >= 0), got ${show(source)}` });
      // The bounds are the engines' (engine/validate-command.ts): 400 here too, even before the run starts.
      const badPps = ppsError(pps);
      if (badPps !== undefined || typeof pps !== "number") return sendJson(res, 400, { error: badPps });
      return reply(res, () => control.rate({ source, pps }));
    }
    case "stop":
      return reply(res, () => control.stop());
  }
}

/** Run a handler and send its result; ControlError becomes its own status, anything else a 500. */
async function reply(res: ServerResponse, call: () => Promise<unknown> | unknown): Promise<void> {
  try {
    const result = await call();
    sendJson(res, 200, result ?? { ok: true });
  } catch (err) {
    if (err instanceof ControlError) sendJson(res, err.status, { error: err.message });
    else throw err;
  }
}

function cpuField(body: Record<string, unknown>, metrics: SoftnetMetrics): number | string {
  const cpu = body["cpu"];
  if (!isNonNegativeInteger(cpu)) return `"cpu" must be a CPU id (integer >= 0), got ${show(cpu)}`;
  const ids = metrics.cpuIds();
  // Before the first snapshot the handlers are the only judge.
  if (ids.length > 0 && !ids.includes(cpu)) return `unknown cpu ${cpu}: this run has cpus ${describeIds(ids)}`;
  return cpu;
}

const TOO_LARGE = `request body larger than ${MAX_BODY_BYTES} bytes`;

/** The body as a JSON object, or a one-line message saying what is wrong with it. */
async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown> | string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      // Discard the rest so the client can still read our 413.
      req.resume();
      return TOO_LARGE;
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return `request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return `request body must be a JSON object, got ${show(parsed)}`;
  }
  return parsed as Record<string, unknown>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { "Content-Type": "application/json; charset=utf-8", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}

function methodNotAllowed(res: ServerResponse, allowed: string): void {
  res.setHeader("Allow", allowed === "GET" ? "GET, HEAD" : allowed);
  sendJson(res, 405, { error: `method not allowed here; use ${allowed}` });
}

function isRead(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

function isControlAction(action: string): action is ControlAction {
  return (CONTROL_ACTIONS as readonly string[]).includes(action);
}

function isNonNegativeInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function show(v: unknown): string {
  const text = v === undefined ? "nothing" : JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** "0-3" for a contiguous range, else the list. */
function describeIds(ids: readonly number[]): string {
  const sorted = [...ids].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const last = sorted[sorted.length - 1] ?? 0;
  return last - first + 1 === sorted.length ? `${first}-${last}` : sorted.join(",");
}
