// `--procfs DIR`: keep DIR/net/softnet_stat, DIR/softirqs, DIR/interrupts and DIR/stat in the
// kernel's exact formats while a run goes (observe/proc-irqs.ts for the last three), so a real
// node_exporter started with --path.procfs=DIR reads the emulated host as if it were /proc: its
// softnet, softirqs, interrupts and stat collectors. Each write goes to a temporary file renamed
// over the old one: a reader sees the old or the new file, never half of one.

import { mkdir, rename, unlink, writeFile } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { UsageError } from "../config/errors.ts";
import type { CpuCounters } from "../model/results.ts";
import { renderSoftnetStat } from "../model/softnet-stat.ts";
import { renderInterrupts, renderSoftirqs, renderStat } from "./proc-irqs.ts";

export interface ProcfsOptions {
  /** The folder that plays /proc. */
  dir: string;
  /** 13 columns (6.6) or 15 (6.12+). */
  columns: 13 | 15;
  /** Rewrite at most this often during a run; update() calls in between only keep the latest. */
  intervalMs?: number;
}

const DEFAULT_INTERVAL_MS = 1000;

/** A file of the emulated /proc: where it goes under DIR, and its text from every CPU's row. */
interface ProcFile {
  path: string;
  tmpPath: string;
  render(rows: readonly CpuCounters[]): string;
}

export class ProcfsWriter {
  /** DIR/net/softnet_stat, absolute. */
  readonly path: string;
  /** Every file written, absolute: softnet_stat, softirqs, interrupts, stat. */
  readonly paths: readonly string[];
  private readonly files: ProcFile[];
  private readonly intervalMs: number;
  private pending: readonly CpuCounters[] | undefined;
  private lastWriteMs = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  /** Writes are chained so two renames never race. */
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | undefined;

  private constructor(
    readonly dir: string,
    private readonly columns: 13 | 15,
    intervalMs: number,
  ) {
    const file = (path: string, render: ProcFile["render"]): ProcFile => {
      const at = path.lastIndexOf("/");
      return { path: join(dir, path), tmpPath: join(dir, path.slice(0, at + 1), `.${path.slice(at + 1)}.${process.pid}.tmp`), render };
    };
    this.files = [
      // The kernel prints online CPUs only (the index column keeps the real CPU number).
      file("net/softnet_stat", (rows) => renderSoftnetStat(rows.filter((c) => c.online), this.columns)),
      file("softirqs", renderSoftirqs),
      file("interrupts", renderInterrupts),
      file("stat", renderStat),
    ];
    this.path = this.files[0]!.path;
    this.paths = this.files.map((f) => f.path);
    this.intervalMs = intervalMs;
  }

  /** Create DIR/net if needed and prove it writable; a one-line UsageError names the folder otherwise. */
  static async open(opts: ProcfsOptions): Promise<ProcfsWriter> {
    const dir = resolve(opts.dir);
    const writer = new ProcfsWriter(dir, opts.columns, opts.intervalMs ?? DEFAULT_INTERVAL_MS);
    try {
      await makeDirs(join(dir, "net"));
      // The files of a host with no CPU yet; proves we can create and rename.
      await writer.writeAll([]);
    } catch (err) {
      throw new UsageError(`--procfs ${opts.dir}: cannot write ${join(dir, "net", "softnet_stat")}: ${describe(err)}`);
    }
    return writer;
  }

  /**
   * Offer the latest counters during a run. Written now if the last write is older than the
   * interval, else once the interval has passed (only the newest snapshot is written).
   */
  update(counters: readonly CpuCounters[]): void {
    this.pending = counters;
    if (this.timer !== undefined) return;
    const waitMs = Math.max(0, this.lastWriteMs + this.intervalMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const snapshot = this.pending;
      this.pending = undefined;
      if (snapshot !== undefined) void this.enqueue(snapshot).catch(() => undefined);
    }, waitMs);
    // A pending periodic write must not keep a finished process alive.
    this.timer.unref();
  }

  /** Write the final counters now and wait for it; later update() calls are ignored. */
  async final(counters: readonly CpuCounters[]): Promise<void> {
    this.stopTimer();
    await this.enqueue(counters);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stop periodic writes (the file stays as last written). */
  async close(): Promise<void> {
    this.stopTimer();
    await this.chain;
  }

  /** The first write error of a periodic update, if any (they cannot throw at the caller). */
  get error(): Error | undefined {
    return this.failure;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = undefined;
  }

  private enqueue(counters: readonly CpuCounters[]): Promise<void> {
    const rows = [...counters].sort((a, b) => a.cpu - b.cpu);
    this.chain = this.chain.then(async () => {
      this.lastWriteMs = performance.now();
      try {
        await this.writeAll(rows);
      } catch (err) {
        this.failure ??= new Error(`--procfs ${this.dir}: cannot write ${(err as { procPath?: string }).procPath ?? this.path}: ${describe(err)}`);
      }
    });
    return this.chain;
  }

  /** Every file from the same rows, one after the other (each one whole). */
  private async writeAll(rows: readonly CpuCounters[]): Promise<void> {
    for (const f of this.files) {
      try {
        await writeFile(f.tmpPath, f.render(rows));
        await rename(f.tmpPath, f.path);
      } catch (err) {
        await unlink(f.tmpPath).catch(() => undefined);
        throw Object.assign(err as Error, { procPath: f.path });
      }
    }
  }
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdir spins forever on some paths (under /proc
 * it keeps retrying an ENOENT), and a bad --procfs must fail, not hang.
 */
async function makeDirs(path: string): Promise<void> {
  const parts = path.split(sep).filter((p) => p !== "");
  let current = path.startsWith(sep) ? sep : "";
  for (const part of parts) {
    current = join(current, part);
    try {
      await mkdir(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "EACCES" || e.code === "EPERM") return "permission denied";
  if (e.code === "ENOTDIR") return "a path component is not a folder";
  if (e.code === "EROFS") return "read-only file system";
  if (e.code === "ENOSPC") return "no space left on device";
  if (e.code === "ENOENT") return "no such file or folder";
  if (e.code === "EEXIST") return "exists and is not a folder";
  return e.code ?? e.message;
}
