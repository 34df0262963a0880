// Assertions and abort conditions of a scenario file (`assert:` and `abort:` lists of
// expressions, report/expr.ts). Assertions are checked on the final results; abort conditions on
// a snapshot at every checkpoint of the run, and the first that holds stops it. Both are
// validated against a template result (report/template.ts) before the run, so a misspelt path
// costs no run. Light on purpose: the CLI imports it before it needs the model.
import type { RunResults } from "../model/results.ts";
import type { Aborted } from "./checked-run.ts";
import { explain, ExpressionError, formatExplanation, holds, parseExpression, type Expr } from "./expr.ts";

export interface Condition {
  /** As written in the file. */
  text: string;
  expr: Expr;
  /** Position in its list (`assert[2]`), for messages. */
  index: number;
}

export interface AssertionOutcome {
  assertion: string;
  pass: boolean;
  /** The operands' values: `totals.dropped = 1761`. */
  measured: string;
}

/** Thrown with the list and index of the bad condition, so the caller can point at the file line. */
export class ConditionError extends Error {
  override readonly name = "ConditionError";
  constructor(
    readonly list: "assert" | "abort",
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

export function parseConditions(list: "assert" | "abort", texts: readonly string[] | undefined): Condition[] {
  return (texts ?? []).map((text, index) => {
    try {
      return { text, expr: parseExpression(text), index };
    } catch (err) {
      if (err instanceof ExpressionError) throw new ConditionError(list, index, `'${text}': ${err.message}`);
      throw err;
    }
  });
}

/** Throws ConditionError for the first condition that cannot be evaluated on `template`. */
export function validateConditions(list: "assert" | "abort", conditions: readonly Condition[], template: RunResults): void {
  for (const c of conditions) {
    try {
      holds(c.expr, template);
    } catch (err) {
      if (err instanceof ExpressionError) throw new ConditionError(list, c.index, `'${c.text}': ${err.message}`);
      throw err;
    }
  }
}

export function checkAssertions(conditions: readonly Condition[], results: RunResults): AssertionOutcome[] {
  return conditions.map((c) => ({
    assertion: c.text,
    pass: holds(c.expr, results),
    measured: formatExplanation(explain(c.expr, results)),
  }));
}

/** The first abort condition that holds on `snapshot`, if any. */
export function firstAbort(conditions: readonly Condition[], snapshot: RunResults): Omit<Aborted, "at_ns"> | null {
  for (const c of conditions)
    if (holds(c.expr, snapshot)) return { condition: c.text, measured: formatExplanation(explain(c.expr, snapshot)) };
  return null;
}

/** Lines for stderr: one per failed assertion, naming it and its measured operands. */
export function failureLines(outcomes: readonly AssertionOutcome[], prefix = ""): string[] {
  return outcomes.filter((o) => !o.pass).map((o) => `${prefix}assertion failed: ${o.assertion} (${o.measured})`);
}

