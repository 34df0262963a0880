// The coordinator's HTTP face: GET /metrics for Prometheus, GET /healthz for container health checks,
// and the control API (POST /control/offline|online|rate|stop, GET /control/status) when the
// caller hands in handlers. Bad requests get a 4xx with a JSON body {"error": "..."}; they never
// touch the run.
//
// Security: it listens on 127.0.0.1 unless told otherwise. With a control token (given, or made up
// when the server listens on anything but a loopback address) the control API's commands (every
// POST /control/*) need `Authorization: Bearer <token>`, else 401; GET /control/status, /metrics
// and /healthz stay open (read-only: Prometheus and health checks carry no token).

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP, type AddressInfo } from "node:net";
import { UsageError } from "../config/errors.ts";
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
  /** The address to listen on; default 127.0.0.1 (loopback only). */
  host?: string;
  metrics: SoftnetMetrics;
  control?: ControlHandlers;
  /**
   * The bearer token the control API's commands need. Without one, none is needed on a loopback
   * address, and one is made up (handle.controlToken, tokenGenerated) on any other.
   */
  controlToken?: string;
}

export interface HttpServerHandle {
  /** The port actually bound (differs from the option when it was 0). */
  port: number;
  host: string;
  url: string;
  /** The token POST /control/* needs, if any. */
  controlToken: string | undefined;
  /** controlToken was made up here (the server is not on loopback and none was given): show it to the user once. */
  tokenGenerated: boolean;
  close(): Promise<void>;
}

/** A loopback address: 127.0.0.0/8, ::1 (also IPv4-mapped), or the name localhost. Any other name counts as reachable from outside. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || /^(0{1,4}:){7}0{0,3}1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}

/** The one line that shows a made-up control token (printed once, on stderr). */
export function generatedTokenLine(http: Pick<HttpServerHandle, "host" | "controlToken">): string {
  return `control API token (made up: ${http.host} is not a loopback address and no token was given; choose one with --control-token-file or SOFTNET_CONTROL_TOKEN): ${http.controlToken}`;
}

/** A fresh random control token: 24 bytes, base64url (32 characters). */
export function newControlToken(): string {
  return randomBytes(24).toString("base64url");
}

/** A request body larger than this is refused: control requests are a few bytes. */
const MAX_BODY_BYTES = 64 * 1024;
const CONTROL_ACTIONS = ["offline", "online", "rate", "stop"] as const;
type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** Start serving; rejects with a one-line UsageError when the port cannot be bound. */
export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServerHandle> {
  const host = opts.host ?? "127.0.0.1";
  if (opts.controlToken !== undefined && opts.controlToken === "") throw new UsageError("the control token is empty");
  const tokenGenerated = opts.control !== undefined && opts.controlToken === undefined && !isLoopbackHost(host);
  const controlToken = tokenGenerated ? newControlToken() : opts.controlToken;
  const auth = controlToken !== undefined ? bearerCheck(controlToken) : undefined;
  const server = createServer((req, res) => {
    route(req, res, opts, auth).catch((err: unknown) => {
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
    url: `http://${shown === "0.0.0.0" ? "127.0.0.1" : shown === "[::]" ? "[::1]" : shown}:${port}`,
    controlToken,
    tokenGenerated,
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
            : `cannot be bound (${err.code ?? err.message})`;
      // An address that is not ours is the host's fault, not the port's.
      if (err.code === "EADDRNOTAVAIL" || err.code === "ENOTFOUND" || err.code === "EAI_AGAIN")
        reject(new UsageError(`--metrics-host ${host}: not an address of this host (${err.code})`));
      else reject(new UsageError(`--metrics-port ${port}: ${host}:${port} ${why}`));
    };
    server.once("error", onError);
    server.listen(port, host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** Does a request carry `Authorization: Bearer <token>`? Compared in constant time (digests of equal length). */
function bearerCheck(token: string): (req: IncomingMessage) => boolean {
  const want = createHash("sha256").update(token).digest();
  return (req) => {
    const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? "");
    if (!m) return false;
    return timingSafeEqual(createHash("sha256").update(m[1]!).digest(), want);
  };
}

async function route(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions, auth: ((req: IncomingMessage) => boolean) | undefined): Promise<void> {
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
      run_id: opts.metrics.runId,
      cpus: counters.length,
      cpus_online: counters.filter((c) => c.online).length,
      virtual_ns: run?.virtualNs ?? 0,
    });
    return;
  }
  if (path === "/control" || path.startsWith("/control/")) {
    const control = opts.control;
    if (control === undefined) return sendJson(res, 404, { error: "the control API is not enabled on this server" });
    // Everything but the status is a command (or a probe for one): it needs the token, checked first.
    if (auth && path !== "/control/status" && !auth(req)) {
      req.resume();
      res.setHeader("WWW-Authenticate", 'Bearer realm="softnet-emu control API"');
      const given = req.headers.authorization !== undefined;
      return sendJson(res, 401, {
        error: given
          ? "wrong control token"
          : "the control API needs a token here: send 'Authorization: Bearer <token>' (--control-token, --control-token-file or SOFTNET_CONTROL_TOKEN)",
      });
    }
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
      const cpu = cpuField(body);
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

/** The shape only: which CPUs exist is the command validator's to say (engine/validate-command.ts). */
function cpuField(body: Record<string, unknown>): number | string {
  const cpu = body["cpu"];
  if (!isNonNegativeInteger(cpu)) return `"cpu" must be a CPU id (integer >= 0), got ${show(cpu)}`;
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

