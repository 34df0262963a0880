// Authenticated, bounded frames (proto/PROTOCOL.md, "Frames and the run's secret"). Every ZeroMQ
// frame is TAG || Envelope, where TAG is HMAC-SHA256(run secret, Envelope bytes) truncated to 16
// bytes. A frame whose tag does not verify is dropped before its Envelope is looked at; a process
// that does not know the run's secret cannot inject, forge or alter a message. The frame size is
// bounded too: receiving sockets set ZeroMQ's maxMessageSize to it, and a sender refuses to build a
// frame over it (a loud failure instead of a frame the receiver would silently drop).
//
// The secret also travels outside the codec: `run` hands it to its CPU children on their standard
// input; `softnet-emu coordinator`/`cpu` read it from --secret-file (the coordinator creates the
// file when it does not exist) or SOFTNET_SECRET (hex). See loadSecret().
import { constants, closeSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from "node:crypto";

/** Bytes of the tag in front of every Envelope. */
export const TAG_BYTES = 16;
/** Bytes of a secret the coordinator generates. */
export const SECRET_BYTES = 32;
/** The shortest secret accepted from a file or the environment. */
export const MIN_SECRET_BYTES = 16;
/** The environment variable that may carry the secret (hex). */
export const SECRET_ENV = "SOFTNET_SECRET";

/**
 * Default frame limit. The largest legitimate frames are batches (bounded by max_step: about 10 kB
 * on average and 40-200 kB at most for the standard scenario at 1 Mpps, see proto/PROTOCOL.md) and the
 * welcome (the config JSON, a few kB); 16 MiB leaves room for huge windows at high rates while one
 * frame stays well under a CPU process's 100 MB budget.
 */
export const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;
/** --max-frame's range: 64 KiB (a welcome with a long schedule still fits) to 64 MiB. */
export const MIN_MAX_FRAME = 64 * 1024;
export const MAX_MAX_FRAME = 64 * 1024 * 1024;

const ZERO_TAG = new Uint8Array(TAG_BYTES);

/** A frame this process was about to send is over its own frame limit (a run too big for --max-frame). */
export class FrameTooLarge extends Error {
  override readonly name = "FrameTooLarge";
}

/**
 * What seals and opens this process's frames: the run's secret as an HMAC key (none: every frame we
 * send carries an all-zero tag, and no frame we receive verifies) and the frame size limit.
 */
export class WireKey {
  private readonly key: KeyObject | null;

  constructor(
    secret: Uint8Array | null,
    readonly maxFrameBytes: number = DEFAULT_MAX_FRAME,
  ) {
    if (secret !== null && secret.length < MIN_SECRET_BYTES) throw new Error(`a secret of ${secret.length} bytes is too short (at least ${MIN_SECRET_BYTES})`);
    this.key = secret === null ? null : createSecretKey(Buffer.from(secret));
  }

  /** A fresh random secret, as `run` and a coordinator without a secret file make one. */
  static generateSecret(): Buffer {
    return randomBytes(SECRET_BYTES);
  }

  get hasSecret(): boolean {
    return this.key !== null;
  }

  private tag(envelope: Uint8Array): Buffer {
    return createHmac("sha256", this.key!).update(envelope).digest();
  }

  /** TAG || envelope; throws FrameTooLarge over the limit. */
  seal(envelope: Uint8Array): Uint8Array {
    const frame = this.frame(envelope);
    if (this.key) frame.set(this.tag(envelope).subarray(0, TAG_BYTES), 0);
    return frame;
  }

  /** The same for a frame built with TAG_BYTES of room in front of its envelope (codec.ts encode): writes the tag there. */
  sealInPlace(frame: Uint8Array): Uint8Array {
    if (frame.length > this.maxFrameBytes)
      throw new FrameTooLarge(`a frame of ${frame.length} bytes is over the frame limit of ${this.maxFrameBytes} bytes: raise --max-frame (on every process of the run)`);
    frame.set(this.key ? this.tag(frame.subarray(TAG_BYTES)).subarray(0, TAG_BYTES) : ZERO_TAG, 0);
    return frame;
  }

  /**
   * The same limit without the secret: its frames carry an all-zero tag that nobody can verify
   * (the coordinator answers an unauthenticated hello with one; a CPU without a secret sends them).
   */
  get anonymous(): WireKey {
    return (this.anonymous_ ??= this.key === null ? this : new WireKey(null, this.maxFrameBytes));
  }
  private anonymous_: WireKey | undefined;

  private frame(envelope: Uint8Array): Uint8Array {
    const size = TAG_BYTES + envelope.length;
    if (size > this.maxFrameBytes)
      throw new FrameTooLarge(`a frame of ${size} bytes is over the frame limit of ${this.maxFrameBytes} bytes: raise --max-frame (on every process of the run)`);
    const frame = Buffer.allocUnsafe(size);
    frame.set(ZERO_TAG, 0);
    frame.set(envelope, TAG_BYTES);
    return frame;
  }

  /** Whether the frame's tag is the MAC of its envelope under our secret (constant time). */
  verify(frame: Uint8Array): boolean {
    if (this.key === null || frame.length < TAG_BYTES) return false;
    const expected = this.tag(frame.subarray(TAG_BYTES));
    return timingSafeEqual(expected.subarray(0, TAG_BYTES), frame.subarray(0, TAG_BYTES));
  }
}

/** The Envelope bytes of a frame (after its tag; empty when the frame is shorter than a tag). */
export function envelopeBytes(frame: Uint8Array): Uint8Array {
  return frame.subarray(Math.min(TAG_BYTES, frame.length));
}

// ---- where the secret comes from ----------------------------------------------------------

/** A secret that cannot be had, in one line naming its origin (the CLI exits 2 with it). */
export class SecretError extends Error {
  override readonly name = "SecretError";
}

export interface LoadedSecret {
  secret: Buffer;
  /** `--secret-file F`, `SOFTNET_SECRET`. */
  origin: string;
  /** The coordinator wrote a new secret file. */
  created: boolean;
  /** Worth a line: the secret file is readable by other users. */
  warning?: string;
}

/** Hex text (whitespace around it ignored) as a secret of at least MIN_SECRET_BYTES. */
export function parseSecretHex(text: string, origin: string): Buffer {
  const t = text.trim();
  if (t === "") throw new SecretError(`${origin}: empty; expected the secret as hex (e.g. ${SECRET_BYTES * 2} hex digits)`);
  if (!/^[0-9a-fA-F]+$/.test(t) || t.length % 2 !== 0) throw new SecretError(`${origin}: not a hex string (expected an even number of hex digits, e.g. ${SECRET_BYTES * 2})`);
  if (t.length < MIN_SECRET_BYTES * 2) throw new SecretError(`${origin}: a secret of ${t.length / 2} bytes is too short (at least ${MIN_SECRET_BYTES} bytes, ${MIN_SECRET_BYTES * 2} hex digits)`);
  return Buffer.from(t, "hex");
}

/**
 * The secret of a process started by hand: `--secret-file F` (read; with `create`, the coordinator's
 * case, a new random secret is written to F with mode 0600 when F does not exist), else the
 * environment's SOFTNET_SECRET (hex), else null.
 */
export function loadSecret(o: { file?: string; env?: NodeJS.ProcessEnv; create?: boolean }): LoadedSecret | null {
  if (o.file !== undefined) return loadSecretFile(o.file, o.create ?? false);
  const hex = (o.env ?? process.env)[SECRET_ENV];
  if (hex === undefined || hex === "") return null;
  return { secret: parseSecretHex(hex, SECRET_ENV), origin: SECRET_ENV, created: false };
}

function loadSecretFile(file: string, create: boolean): LoadedSecret {
  const origin = `--secret-file ${file}`;
  if (create) {
    const secret = WireKey.generateSecret();
    let fd: number | undefined;
    try {
      // Exclusive create: two coordinators started at once never overwrite each other's secret.
      fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      writeSync(fd, `${secret.toString("hex")}\n`);
      return { secret, origin, created: true };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EEXIST") throw new SecretError(`${origin}: cannot create it (${whyFs(code, e)})`);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  let text: string;
  let mode: number;
  try {
    mode = statSync(file).mode;
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint = code === "ENOENT" ? " (the coordinator writes it when started with the same --secret-file)" : "";
    throw new SecretError(`${origin}: cannot read it (${whyFs(code, e)})${hint}`);
  }
  const secret = parseSecretHex(text, origin);
  const loose = mode & 0o077;
  const warning = loose ? `${origin}: readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined;
  return { secret, origin, created: false, ...(warning ? { warning } : {}) };
}

function whyFs(code: string | undefined, e: unknown): string {
  switch (code) {
    case "ENOENT": return "no such file or directory";
    case "EACCES": return "permission denied";
    case "EISDIR": return "is a directory";
    case "ENOTDIR": return "a path component is not a folder";
    default: return code ?? String((e as Error).message ?? e);
  }
}

/** The range of --max-frame, for messages. */
export const MAX_FRAME_RANGE = `expected 64KiB (${MIN_MAX_FRAME}) to 64MiB (${MAX_MAX_FRAME}) bytes`;

/**
 * `--max-frame` as text: bytes, optionally with a binary suffix (64KiB, 16MiB; k/K and m/M mean the
 * same). RangeError (a one-line message without the flag's name) when it is not one or out of range.
 */
export function parseMaxFrame(text: string): number {
  const m = /^\s*(\d+)\s*(|k|K|KiB|m|M|MiB)\s*$/.exec(text);
  if (!m) throw new RangeError(`'${text}' is not a size in bytes (e.g. 16MiB or 16777216): ${MAX_FRAME_RANGE}`);
  const unit = m[2]!.toLowerCase().startsWith("k") ? 1024 : m[2]!.toLowerCase().startsWith("m") ? 1024 * 1024 : 1;
  const n = Number(m[1]) * unit;
  if (!(n >= MIN_MAX_FRAME && n <= MAX_MAX_FRAME)) throw new RangeError(`'${text}' is out of range for a frame size: ${MAX_FRAME_RANGE}`);
  return n;
}
