// Errors meant for the user: bad flags, bad scenario files. main() prints them as one line
// (`softnet-emu: error: ...`) and exits 2; anything else is a bug and keeps its stack trace.

export class UsageError extends Error {
  override readonly name = "UsageError";

  constructor(message: string) {
    // One line, always: a multi-line message would break scripts that read stderr.
    super(message.replace(/\s*\n\s*/g, " ").trim());
  }
}

/** A field of a scenario file: `["load", 0, "rate", "pps"]`. */
export type FieldPath = readonly (string | number)[];

/** `load[0].rate.pps` */
export function formatPath(path: FieldPath): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** `file: path: message (line N)` — the same shape for schema and cross-field errors. */
export function fieldError(scenario: { file: string; lineOf(path: FieldPath): number | undefined }, path: FieldPath, message: string): UsageError {
  const line = scenario.lineOf(path);
  const where = path.length ? `${formatPath(path)}: ` : "";
  return new UsageError(`${scenario.file}: ${where}${message}${line ? ` (line ${line})` : ""}`);
}
