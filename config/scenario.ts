// Scenario files: YAML → validated ScenarioSpec (config/scenario-schema.ts) → with the flags,
// one resolved EmuConfig (config/resolve.ts). Every error is one line that names the file, the
// field and what is wrong: `my.yaml: load[0].rate.pps: must be >= 0 (line 12)`.
import { readFileSync, statSync } from "node:fs";
import { isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import type { z } from "zod";
import { fieldError, UsageError, type FieldPath } from "./errors.ts";
import { TEXT_KEYS, scenarioSchema, type ScenarioSpec } from "./scenario-schema.ts";

export type { ScenarioSpec } from "./scenario-schema.ts";
export type { FieldPath } from "./errors.ts";

export interface Scenario {
  /** The file as the user named it: messages use it. */
  file: string;
  spec: ScenarioSpec;
  /** Line (from 1) where a field sits in the file, for messages. */
  lineOf(path: FieldPath): number | undefined;
}

/**
 * Scenario files are hand-written and a few KiB; the largest example is under 4 KiB. The cap
 * stops a wrong file (a log, a capture) before the parser spends minutes and gigabytes on it.
 */
export const MAX_SCENARIO_BYTES = 1 << 20;

/** Read and validate a scenario file. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_SCENARIO_BYTES)
      throw new UsageError(`${file}: scenario file is ${size} bytes; a scenario may be at most ${MAX_SCENARIO_BYTES} bytes (1 MiB)`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : code === "EACCES" ? "permission denied" : (err as Error).message;
    throw new UsageError(`${file}: cannot read scenario: ${why}`);
  }
  return parseScenario(text, file);
}

/** Validate scenario text; `file` names it in messages. */
export function parseScenario(text: string, file: string): Scenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lines.linePos(yamlError.pos[0]);
    throw new UsageError(`${file}:${pos.line}:${pos.col}: malformed YAML: ${yamlError.message.split("\n")[0]}`);
  }
  if (doc.contents === null)
    throw new UsageError(`${file}: the scenario is empty: write at least one field (e.g. duration: 1s), or {} for all defaults`);
  keepText(doc);
  const lineOf = (path: FieldPath): number | undefined => {
    // Walk up to the nearest node that exists (a missing key's parent still helps).
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    // e.g. an alias to an anchor that does not exist
    throw new UsageError(`${file}: malformed YAML: ${(err as Error).message}`);
  }
  const parsed = scenarioSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) throw new UsageError(describeIssues(file, parsed.error.issues, lineOf));
  return { file, spec: parsed.data, lineOf };
}

/**
 * YAML reads `rps_cpus: 10` as the integer ten and `profile: 6.6` as a float, but masks are hex
 * (as in sysfs) and profiles are names: give the schema the text as written, so `10` is CPU 4
 * and `0x10` is not mangled either.
 */
function keepText(doc: Document): void {
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && TEXT_KEYS.has(String(pair.key.value)) && isScalar(pair.value)) {
        const v = pair.value;
        if (typeof v.value === "number") v.value = v.source ?? String(v.value);
      }
    },
  });
}

/** First problem only (one line); an unknown key first, as it is most often the cause of the rest. */
function describeIssues(file: string, issues: z.core.$ZodIssue[], lineOf: Scenario["lineOf"]): string {
  const first = issues.find((i) => i.code === "unrecognized_keys") ?? issues[0];
  if (!first) return `${file}: invalid scenario`;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? "s" : ""})` : "";
  const path = first.path.filter((p): p is string | number => typeof p !== "symbol");
  return fieldError({ file, lineOf }, path, issueMessage(first)).message + more;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const got = "input" in issue ? describeValue(issue.input) : "";
  switch (issue.code) {
    case "invalid_type": {
      const expected = { object: "a mapping", array: "a list" }[issue.expected as string] ?? issue.expected;
      return issue.input === undefined ? `missing (expected ${expected})` : `expected ${expected}, got ${got}`;
    }
    case "invalid_value":
      return `expected one of ${issue.values.map(String).join(", ")}, got ${got}`;
    default:
      return issue.message;
  }
}

function describeValue(v: unknown): string {
  if (typeof v === "string") return `'${v}'`;
  if (Array.isArray(v)) return "a list";
  if (v === null) return "nothing";
  if (typeof v === "object") return "a mapping";
  return String(v);
}
