// `softnet-emu run --engine processes`: a coordinator in this process and one child process per
// emulated CPU, all on loopback (tcp on 127.0.0.1 with OS-chosen ports, or ipc in a private temp
// dir), logs prefixed `[cpu N]`, everything torn down on success, failure and SIGINT.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { EmuConfig } from "../model/config.ts";
import { attachPartial } from "../engine/partial.ts";
import { WireKey } from "../transport/auth.ts";
import { feedMetrics, startControlServer } from "../observe/processes-control.ts";
import { cpuNodeCommand } from "./cpu-bundle.ts";
import type { HttpServerHandle } from "../observe/http.ts";
import { SoftnetMetrics } from "../observe/metrics.ts";
import { Coordinator, CoordinatorError, type CoordinatorOptions, type CoordinatorStatus, type ProcessesRunResults } from "./coordinator.ts";

export interface ProcessesRunOptions {
  onProgress?: (virtualNs: number, totalNs: number) => void;
  /** Sample counters every this many virtual ns into results.series (as runInProcess). */
  seriesIntervalNs?: number;
  /** Check conservation every this many virtual ns (as runInProcess; default 1/100 of the run, at least 100 µs). */
  checkIntervalNs?: number;
  transport?: "tcp" | "ipc";
  heartbeatMs?: number;
  cpuTimeoutMs?: number;
  coordinatorTimeoutMs?: number;
  registerTimeoutMs?: number;
  leaseSpanNs?: number;
  maxStepNs?: number;
  pace?: number;
  /** Coordinator and `[cpu N]` lines (default: stderr). */
  log?: (line: string) => void;
  /** Called once the coordinator is bound, before any CPU is started (a control API's target). */
  onStart?: (coordinator: Coordinator) => void;
  /** Called once every CPU has registered (tests use it to inject faults). */
  onRunning?: (run: RunningRun) => void;
  onSnapshot?: CoordinatorOptions["onSnapshot"];
  /** Called at every consistent checkpoint (every CPU's counters at one virtual time), as in-process. */
  onCheckpoint?: CoordinatorOptions["onCheckpoint"];
  /** Extra commands (a nemesis schedule), applied like the scenario's events (as runInProcess). */
  commands?: CoordinatorOptions["commands"];
  /** Serve /metrics and the control API on this port (0 = any free port) while the run lasts. */
  httpPort?: number;
  /** Where that server listens (default 127.0.0.1). */
  httpHost?: string;
  /** The bearer token the control API's commands need (observe/http.ts; made up off loopback when not given). */
  controlToken?: string;
  /** Called with the server's URL once it listens. */
  onHttp?: (url: string) => void;
  /** Fail when no CPU clock moves for this long (default 60 s). */
  stallTimeoutMs?: number;
  /** The run's secret (default: 32 fresh random bytes; given by tests that play a forger). */
  secret?: Uint8Array;
  /** Frame size limit of every process (--max-frame; default transport/auth.ts DEFAULT_MAX_FRAME). */
  maxFrameBytes?: number;
}

export interface RunningRun {
  coordinator: Coordinator;
  /** The coordinator's ROUTER endpoint. */
  endpoint: string;
  children: { cpu: number; pid: number; endpoint: string }[];
  status(): CoordinatorStatus;
}

const TAIL_LINES = 20;

/**
 * Node flags of every CPU process. V8 grows the young generation of a busy process up to 16 MB
 * semi-spaces; CPU 0 of the standard scenario then reached 112-121 MB RSS in about one run of ten.
 * Capped at 2 MB it peaked at 84-87 MB over 40 runs, as fast (median wall 846-867 ms against
 * 901 ms uncapped, same machine, same hour). docker-compose.yml gives its CPU services the same.
 */
export const CPU_NODE_FLAGS = ["--max-semi-space-size=2"];

/** Defaults shared by `run` and `coordinator`. */
export function defaultTiming(cfg: EmuConfig, o: Pick<ProcessesRunOptions, "heartbeatMs" | "cpuTimeoutMs" | "coordinatorTimeoutMs" | "registerTimeoutMs" | "leaseSpanNs" | "maxStepNs">) {
  // Measured on the standard scenario (1 virtual s, 100 µs window): 1 ms steps with a 10 ms span
  // gave 0.63 Mpps, 2 ms steps with a 50 ms span 1.27 Mpps (in-process: 1.9): fewer zeromq sends,
  // and lease extensions rare enough that nobody waits for one.
  const maxStepNs = o.maxStepNs ?? Math.max(cfg.window_ns, 2_000_000);
  return {
    heartbeatMs: o.heartbeatMs ?? 100,
    cpuTimeoutMs: o.cpuTimeoutMs ?? 3000,
    coordinatorTimeoutMs: o.coordinatorTimeoutMs ?? 3000,
    registerTimeoutMs: o.registerTimeoutMs ?? 60_000,
    maxStepNs,
    leaseSpanNs: o.leaseSpanNs ?? Math.max(50_000_000, 10 * maxStepNs),
  };
}

interface Child {
  cpu: number;
  proc: ChildProcess;
  tail: string[];
  exited: Promise<void>;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
}

export async function runProcesses(cfg: EmuConfig, opts: ProcessesRunOptions = {}): Promise<ProcessesRunResults> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ipcDir = opts.transport === "ipc" ? mkdtempSync(join(tmpdir(), "softnet-emu-")) : null;
  const timing = defaultTiming(cfg, opts);
  // A secret per run: handed to the children on their standard input, never on a command line.
  const secret = opts.secret ?? WireKey.generateSecret();
  const key = new WireKey(secret, opts.maxFrameBytes);
  const coordinator = new Coordinator({
    cfg,
    secret: key,
    bind: ipcDir ? `ipc://${ipcDir}/coordinator` : "tcp://127.0.0.1:*",
    ...timing,
    // Our children: their exits tell us who died (spawnCpu), so silence only means slow.
    exitsWatched: true,
    ...(opts.pace !== undefined ? { pace: opts.pace } : {}),
    log: (line) => log(`[coordinator] ${line}`),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    onSnapshot: (counters, status) => {
      feed?.(counters, status);
      opts.onSnapshot?.(counters, status);
    },
    ...(opts.commands ? { commands: opts.commands } : {}),
    ...(opts.onCheckpoint ? { onCheckpoint: opts.onCheckpoint } : {}),
    ...(opts.seriesIntervalNs ? { seriesIntervalNs: opts.seriesIntervalNs } : {}),
    ...(opts.checkIntervalNs ? { checkIntervalNs: opts.checkIntervalNs } : {}),
    ...(opts.stallTimeoutMs !== undefined ? { stallTimeoutMs: opts.stallTimeoutMs } : {}),
  });
  const metrics = opts.httpPort !== undefined ? new SoftnetMetrics({ windowNs: cfg.window_ns }) : null;
  const feed = metrics ? feedMetrics(metrics, "run", cfg.profile.name) : null;
  const children: Child[] = [];
  let http: HttpServerHandle | null = null;
  let interrupted = false;
  const onSigint = (): void => {
    interrupted = true;
    log("[coordinator] interrupted: stopping every cpu process");
    coordinator.interrupt("SIGINT");
  };
  process.once("SIGINT", onSigint);
  try {
    const endpoint = await coordinator.start();
    opts.onStart?.(coordinator);
    if (metrics) {
      http = await startControlServer(coordinator, cfg, metrics, {
        port: opts.httpPort!,
        host: opts.httpHost ?? "127.0.0.1",
        ...(opts.controlToken !== undefined ? { controlToken: opts.controlToken } : {}),
        log: (line) => log(`[coordinator] ${line}`),
      });
      log(`[coordinator] metrics and control API at ${http.url} (/metrics, /control/status)`);
      opts.onHttp?.(http.url);
    }
    const command = await cpuNodeCommand();
    for (let cpu = 0; cpu < cfg.cpus; cpu++) children.push(spawnCpu(command, cpu, endpoint, ipcDir, log, coordinator, { secret, maxFrameBytes: opts.maxFrameBytes }));
    coordinator.onRunning = () => {
      const hellos = coordinator.members();
      opts.onRunning?.({
        coordinator,
        endpoint,
        children: children.map((c) => ({ cpu: c.cpu, pid: c.proc.pid!, endpoint: hellos.find((h) => h.cpu === c.cpu)?.endpoint ?? "" })),
        status: () => coordinator.status(),
      });
    };
    const results = await coordinator.done();
    coordinator.close("run over");
    await reap(children, 3000);
    return results;
  } catch (e) {
    coordinator.close(interrupted ? "interrupted" : "run failed");
    await reap(children, 200);
    // The results so far (the latest consistent checkpoint) go with the reason, for the CLI's JSON.
    let partial: ProcessesRunResults | undefined;
    try {
      partial = coordinator.resultsSoFar();
    } catch {
      // nothing we can count
    }
    if (e instanceof CoordinatorError) throw attachPartial(e.withTail(tails(children)), partial);
    throw attachPartial(e, partial);
  } finally {
    process.off("SIGINT", onSigint);
    coordinator.close();
    await http?.close();
    for (const c of children) c.proc.kill("SIGKILL");
    if (ipcDir) rmSync(ipcDir, { recursive: true, force: true });
    if (interrupted) process.exitCode = 130;
  }
}

function spawnCpu(
  command: string[],
  cpu: number,
  endpoint: string,
  ipcDir: string | null,
  log: (line: string) => void,
  coordinator: Coordinator,
  wire: { secret: Uint8Array; maxFrameBytes: number | undefined },
): Child {
  const bind = ipcDir ? `ipc://${ipcDir}/cpu${cpu}` : "tcp://127.0.0.1:*";
  // SOFTNET_EMU_CPU_NODE_ARGS: extra node flags for the children (e.g. --cpu-prof to profile them).
  const extra = (process.env["SOFTNET_EMU_CPU_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
  const proc = spawn(process.execPath, [...CPU_NODE_FLAGS, ...extra, ...command, "--coordinator", endpoint, "--id", String(cpu), "--bind", bind, "--exit-with-parent", "--secret-stdin", ...(wire.maxFrameBytes !== undefined ? ["--max-frame", String(wire.maxFrameBytes)] : [])], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const child: Child = { cpu, proc, tail: [], exited: Promise.resolve(), exitCode: null, signal: null };
  const onLine = (line: string): void => {
    child.tail.push(line);
    if (child.tail.length > TAIL_LINES) child.tail.shift();
    log(`[cpu ${cpu}] ${line}`);
  };
  createInterface({ input: proc.stdout! }).on("line", onLine);
  createInterface({ input: proc.stderr! }).on("line", onLine);
  proc.stdin!.on("error", () => {}); // EPIPE when it is gone
  proc.stdin!.write(`${Buffer.from(wire.secret).toString("hex")}\n`);
  child.exited = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      child.exitCode = code;
      child.signal = signal;
      // The parent knows who died: no timeout needed, and silence alone never kills (exitsWatched).
      if (code !== 0) coordinator.cpuGone(cpu, `process exited (${signal ?? `code ${code}`})`);
      resolve();
    });
  });
  return child;
}

/** Wait for the children to exit on their own, then SIGKILL the rest and wait for those too. */
async function reap(children: Child[], graceMs: number): Promise<void> {
  const all = Promise.all(children.map((c) => c.exited));
  const timer = new Promise<"late">((resolve) => setTimeout(() => resolve("late"), graceMs).unref());
  if ((await Promise.race([all, timer])) === "late") {
    for (const c of children) if (c.exitCode === null && c.signal === null) c.proc.kill("SIGKILL");
    await all;
  }
}

function tails(children: Child[]): string {
  const bad = children.filter((c) => c.exitCode !== null && c.exitCode !== 0 && c.tail.length > 0);
  return bad.map((c) => `\n[cpu ${c.cpu}] exited with code ${c.exitCode}; its last lines:\n  ${c.tail.join("\n  ")}`).join("");
}
