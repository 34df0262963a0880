// Test harness for the observability tests: find the Debian binaries (prometheus, promtool,
// prometheus-node-exporter, docker-compose), start them on free loopback ports with temporary
// configs, wait for readiness with bounded polling, and run PromQL through the HTTP API.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { freePort } from "../support/net.ts";
export { freePort };

/** Absolute path of an executable on PATH, or undefined. */
export function findBinary(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A `skip` option for node:test: the reason when a binary is missing, false otherwise. */
export function skipUnless(...binaries: string[]): string | false {
  const missing = binaries.filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return false;
  return `${missing.join(", ")} not installed (apt-get install -y prometheus prometheus-node-exporter docker-compose)`;
}

/** Run a tool to completion; its exit code and both outputs. */
export function runTool(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { input: opts.input, cwd: opts.cwd, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}


export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a waitFor() check to give up at once (the process it waits for has died). */
export class GiveUp extends Error {}

/**
 * Poll `check` every `everyMs` until it returns a value (not undefined) or `timeoutMs` passes.
 * Errors count as "not yet", except GiveUp.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  everyMs = 100,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (performance.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await sleep(everyMs);
  }
}

/** A child process with the tail of its output kept for error messages. */
export class Daemon {
  private tail = "";
  private exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.tail = (this.tail + chunk.toString("utf8")).slice(-4000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  }

  static start(name: string, cmd: string, args: string[], env?: NodeJS.ProcessEnv): Daemon {
    return new Daemon(name, spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env }));
  }

  get output(): string {
    return this.tail;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export interface PromRangeSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

export interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A real Prometheus on a free loopback port with a temporary config and data folder. */
export class Prometheus {
  private constructor(
    readonly url: string,
    private readonly daemon: Daemon,
    private readonly dir: string,
  ) {}

  /** Scrape `targets` (host:port) every `scrapeInterval`; resolves once /-/ready answers 200. */
  static async start(opts: { targets: string[]; scrapeInterval?: string; ruleFiles?: string[] }): Promise<Prometheus> {
    const interval = opts.scrapeInterval ?? "250ms";
    const config = [
      "global:",
      `  scrape_interval: ${interval}`,
      `  evaluation_interval: ${interval}`,
      ...(opts.ruleFiles?.length ? ["rule_files:", ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`)] : []),
      "scrape_configs:",
      "  - job_name: softnet-emu",
      `    scrape_timeout: ${interval}`,
      "    static_configs:",
      `      - targets: [${opts.targets.map((t) => JSON.stringify(t)).join(", ")}]`,
      "",
    ].join("\n");
    return Prometheus.fromConfig(config);
  }

  /** Start with this prometheus.yml text; `files` are written next to it (rule files). */
  static async fromConfig(config: string, files: Record<string, string> = {}): Promise<Prometheus> {
    const dir = mkdtempSync(join(tmpdir(), "softnet-prom-"));
    const port = await freePort();
    writeFileSync(join(dir, "prometheus.yml"), config);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const daemon = Daemon.start("prometheus", findBinary("prometheus") ?? "prometheus", [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ]);
    const prom = new Prometheus(`http://127.0.0.1:${port}`, daemon, dir);
    try {
      await waitFor("prometheus to be ready", async () => {
        if (!daemon.running) throw new GiveUp(`prometheus exited: ${daemon.output.trim().split("\n").slice(-3).join(" | ")}`);
        const r = await fetch(`${prom.url}/-/ready`).catch(() => undefined);
        return r?.ok ? true : undefined;
      });
    } catch (err) {
      await prom.stop();
      throw err;
    }
    return prom;
  }

  /** An instant query; throws with Prometheus' own error text when the query is bad. */
  async query(expr: string, timeSeconds?: number): Promise<PromSample[]> {
    const params = new URLSearchParams({ query: expr });
    if (timeSeconds !== undefined) params.set("time", String(timeSeconds));
    const r = await fetch(`${this.url}/api/v1/query`, { method: "POST", body: params });
    const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
    if (body.status !== "success") throw new Error(`query ${expr}: ${body.error ?? r.status}`);
    const data = body.data;
    if (data?.resultType === "scalar") {
      return [{ metric: {}, value: data.result as [number, string] }];
    }
    return (data?.result ?? []) as PromSample[];
  }

  /** A range query, as Grafana runs a time-series panel's: every series with its [time, value] points. */
  async queryRange(expr: string, startSeconds: number, endSeconds: number, stepSeconds: number): Promise<PromRangeSeries[]> {
    const params = new URLSearchParams({ query: expr, start: String(startSeconds), end: String(endSeconds), step: String(stepSeconds) });
    const r = await fetch(`${this.url}/api/v1/query_range`, { method: "POST", body: params });
    const body = (await r.json()) as { status: string; error?: string; data?: { result: PromRangeSeries[] } };
    if (body.status !== "success") throw new Error(`query_range ${expr}: ${body.error ?? r.status}`);
    return body.data?.result ?? [];
  }

  /** Wait until `expr` returns at least `min` samples. */
  async waitForData(expr: string, min = 1, timeoutMs = 15_000): Promise<PromSample[]> {
    return waitFor(`data for ${expr}`, async () => {
      const r = await this.query(expr);
      return r.length >= min ? r : undefined;
    }, timeoutMs, 100);
  }

  get output(): string {
    return this.daemon.output;
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A sample's value as a number ("NaN" and "+Inf" included). */
export function num(s: PromSample | undefined): number {
  return s === undefined ? Number.NaN : Number(s.value[1]);
}

/** Samples keyed by one label's value. */
export function byLabel(samples: PromSample[], label: string): Map<string, number> {
  return new Map(samples.map((s) => [s.metric[label] ?? "", num(s)]));
}
