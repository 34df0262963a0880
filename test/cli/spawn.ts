// Real `softnet-emu` processes for the CLI tests: run one to completion, or start one and watch its
// output, poll its HTTP server, signal it, and check that nothing it started outlives it.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, type CliIo } from "../../cli/main.ts";
import { freePort } from "../support/net.ts";
export { freePort };

export const ROOT = join(import.meta.dirname, "../..");
export const BIN = join(ROOT, "bin/softnet-emu.js");

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `softnet-emu ARGS` to completion. */
export function cli(args: string[], timeoutMs = 30_000): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

/** A started `softnet-emu` process whose output is kept. */
export class Running {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on("data", (d: Buffer) => (this.stdout += d.toString()));
    proc.stderr!.on("data", (d: Buffer) => (this.stderr += d.toString()));
    this.exited = once(proc, "exit").then(([code]) => code as number | null);
  }

  /** `env`: variables to set (over this process's) for the child. */
  static start(args: string[], env?: NodeJS.ProcessEnv): Running {
    return new Running(spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], ...(env ? { env: { ...process.env, ...env } } : {}) }));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Wait until stderr matches `re` (the process must still be running or have printed it). */
  async stderrMatch(re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    return waitFor(`stderr to match ${re} (stderr so far: ${this.stderr})`, () => re.exec(this.stderr) ?? undefined, timeoutMs);
  }

  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (this.running) this.proc.kill(signal);
  }
}

/** Poll `check` every 50 ms until it gives a value; errors count as "not yet". */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}


/** The processes whose parent is `pid`, from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid ...": the comm may hold spaces, so split after ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The process exists and is not a zombie. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** One line on stderr starting `softnet-emu: error:`, exit 2, nothing on stdout, no stack trace. */
export function usageErrorLine(o: Outcome): string {
  if (o.code !== 2) throw new Error(`exit code ${o.code}, not 2 (stderr: ${o.stderr})`);
  const lines = o.stderr.split("\n").filter((l) => l !== "");
  if (lines.length !== 1 || !lines[0]!.startsWith("softnet-emu: error: ") || /\n\s+at /.test(o.stderr) || o.stdout !== "")
    throw new Error(`not one usage error line: stdout ${JSON.stringify(o.stdout)}, stderr ${JSON.stringify(o.stderr)}`);
  return lines[0]!;
}

/** `softnet-emu ARGS` in this process, its output captured (usage errors and short runs). */
export async function cliInProcess(args: string[]): Promise<Outcome> {
  const io = { stdout: "", stderr: "", outIsTTY: false, errIsTTY: false } as CliIo & { stdout: string; stderr: string };
  io.out = (t) => void (io.stdout += t);
  io.err = (t) => void (io.stderr += t);
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}
