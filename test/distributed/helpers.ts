// Shared by the distributed-engine tests: scenarios built the way `softnet-emu run` builds them,
// the equivalence assertion, and process-liveness checks.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { resolveConfig, type RunFlags } from "../../config/resolve.ts";
import { runCoordinator, type CoordinatorCommandOptions } from "../../coordinator/main.ts";
import type { EmuConfig } from "../../model/config.ts";
import type { RunResults } from "../../model/results.ts";

export function scenario(flags: RunFlags): EmuConfig {
  return resolveConfig(undefined, { cpus: 4, duration_ns: 10_000_000, ...flags });
}

export const ALL_CPUS = [0, 1, 2, 3];

/**
 * The run's secret in these tests (transport/auth.ts). Also this process's SOFTNET_SECRET, so a
 * coordinator started with runCoordinator and the CPU processes the tests start by hand (they
 * inherit the environment) share it, as users share it; runProcesses hands it to its children.
 */
export const TEST_SECRET = Buffer.from("5e7a1c0ffee0ddba11c0de15feedfacecafebeef0123456789abcdef01234567", "hex");
process.env["SOFTNET_SECRET"] = TEST_SECRET.toString("hex");

/** The contract of issue 3: identical cpus, totals and softnet_stat. */
export function assertEquivalent(inprocess: RunResults, processes: RunResults, seed: number): void {
  const why = `seed ${seed}: reproduce with the same scenario and --seed ${seed}`;
  assert.deepEqual(processes.cpus, inprocess.cpus, `cpus differ (${why})`);
  assert.deepEqual(processes.totals, inprocess.totals, `totals differ (${why})`);
  assert.equal(processes.softnet_stat, inprocess.softnet_stat, `softnet_stat differs (${why})`);
}

/** The process exists and is not a zombie (an exited child whose parent has not reaped it yet). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) state ..."; the comm may hold spaces, so split after ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Poll until `cond` holds or `ms` pass; returns whether it held. */
export async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

/** Collects log lines (and echoes them when DEBUG_DISTRIBUTED is set). */
export function logSink(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    log: (line) => {
      lines.push(line);
      if (process.env["DEBUG_DISTRIBUTED"]) process.stderr.write(`${line}\n`);
    },
  };
}

/** Entry points the tests start as processes of their own (through tsx), as `run` and users do. */
export const CPU_MAIN = fileURLToPath(new URL("../../cpu-node/main.ts", import.meta.url));
export const COORDINATOR_MAIN = fileURLToPath(new URL("../../coordinator/main.ts", import.meta.url));
export const TSX = import.meta.resolve("tsx");

/** A node process with these arguments; its stdout and stderr collected together. */
export function startNode(args: string[], env: NodeJS.ProcessEnv = process.env): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { proc, output: () => out };
}

/** A TypeScript entry point (CPU_MAIN, COORDINATOR_MAIN) as its own process. */
export function startTs(script: string, args: string[]): { proc: ChildProcess; output: () => string } {
  return startNode(["--import", TSX, script, ...args]);
}

/** The exit code of a child process, once it has exited (null: killed by a signal). */
export async function exitOf(proc: ChildProcess): Promise<number | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
  const [code] = (await once(proc, "exit")) as [number | null];
  return code;
}

/**
 * `softnet-emu coordinator` in this process on a free loopback port, for CPUs started by hand;
 * returns once it listens: its exit code (`done`), the endpoint to give the CPUs, its log lines.
 */
export async function coordinatorInProcess(cfg: EmuConfig, opts: Omit<CoordinatorCommandOptions, "bind" | "log"> = {}) {
  const sink = logSink();
  let endpoint = "";
  const done = runCoordinator(cfg, {
    bind: "tcp://127.0.0.1:*",
    ...opts,
    log: (line) => {
      sink.log(line);
      endpoint ||= /waiting for \d+ cpus at (\S+)/.exec(line)?.[1] ?? "";
    },
  });
  assert.ok(await waitFor(() => endpoint !== "", 5000), "coordinator bound");
  return { done, endpoint, sink };
}
