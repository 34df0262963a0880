// Result files (`--json FILE` of run, coordinator and the experiments) written safely: the target is
// checked before the run starts (a one-line usage error, exit 2, naming the flag and the path,
// rather than a lost run), and written to a temporary file in the same folder that is flushed and
// then renamed over it. A reader, or a full disk, never sees half a file: the target holds the old
// contents or the new ones, and a failed write leaves no temporary file behind.
import { accessSync, closeSync, constants, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { UsageError } from "../config/errors.ts";

/** Fail before the run rather than after it: `flag file: why` (UsageError) when FILE cannot be written. */
export function checkOutputFile(flag: string, file: string): void {
  if (file === "-") return;
  const dir = dirname(file);
  if (!existsSync(dir)) throw new UsageError(`${flag} ${file}: directory '${dir}' does not exist`);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} ${file}: '${dir}' is not a directory`);
  const exists = existsSync(file);
  if (exists && statSync(file).isDirectory()) throw new UsageError(`${flag} ${file}: is a directory`);
  // The temporary file is created in the folder and renamed there: the folder must be writable.
  if (!accessible(dir, constants.W_OK | constants.X_OK)) throw new UsageError(`${flag} ${file}: directory '${dir}' is not writable`);
  // A read-only file is the user's: not replaced behind their back.
  if (exists && !accessible(file, constants.W_OK)) throw new UsageError(`${flag} ${file}: is not writable`);
  // access() says yes to root everywhere, /proc included: create (and remove) the temporary file for real.
  const probe = tempPathFor(file);
  try {
    closeSync(openSync(probe, "wx", 0o644));
    unlinkSync(probe);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot create a file in '${dir}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function accessible(path: string, mode: number): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}

/** The file system calls writeFileAtomic() makes; tests hand in failing ones. */
export interface AtomicWriteFs {
  openSync: typeof openSync;
  writeSync: (fd: number, data: Buffer, offset: number, length: number) => number;
  fsyncSync: typeof fsyncSync;
  closeSync: typeof closeSync;
  renameSync: typeof renameSync;
  unlinkSync: typeof unlinkSync;
}

const REAL_FS: AtomicWriteFs = { openSync, writeSync: (fd, data, offset, length) => writeSync(fd, data, offset, length), fsyncSync, closeSync, renameSync, unlinkSync };

/** The temporary file next to `file` (hidden, unique to this process and call). */
export function tempPathFor(file: string): string {
  const tag = `${process.pid}.${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  return join(dirname(file), `.${basename(file)}.${tag}.tmp`);
}

/**
 * Write `text` to `file` all or nothing: a temporary file in the same folder, written in full,
 * fsync'd, then renamed over `file` (rename within a folder is atomic). On any failure (ENOSPC,
 * EFBIG, EIO, …) the temporary file is removed, `file` is left as it was, and the error is thrown.
 */
export function writeFileAtomic(file: string, text: string, fs: AtomicWriteFs = REAL_FS): void {
  const tmp = tempPathFor(file);
  const data = Buffer.from(text, "utf8");
  // "wx": never follows or reuses an existing path.
  const fd = fs.openSync(tmp, "wx", 0o644);
  let fdOpen = true;
  try {
    for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
    fs.fsyncSync(fd);
    fdOpen = false;
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fdOpen) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // gone already
    }
    throw err;
  }
}

/** writeFileAtomic() with a failure as one line naming the flag (exit 2); the old file is kept. */
export function writeOutputFile(flag: string, file: string, text: string): void {
  try {
    writeFileAtomic(file, text);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new UsageError(`${flag} ${file}: cannot write: ${code}${existsSync(file) ? " (the file keeps its previous contents)" : ""}`);
  }
}
