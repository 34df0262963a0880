// Claims to reproduce (examples/reproduce/claims.yaml): a scenario, the profiles to run it under
// (each under an alias), and expressions that must hold — `expect:` over the runs by alias
// (`sum(ipi.cpus.rt_flush_warnings) > 0`), `each:` on every run alone (`checker.ok`).
// This file checks and evaluates them; reading the file and running the scenarios is the CLI's.
import { z } from "zod";
import type { RunResults } from "../model/results.ts";
import { explain, ExpressionError, formatExplanation, holds, parseExpression, type Expr } from "./expr.ts";
import { runMetrics, type RunMetrics } from "./metrics.ts";
import { shortLines } from "../chaos/liveness.ts";

const KEYWORDS = new Set(["and", "or", "not", "true", "false"]);

/**
 * A run: a profile (`ipi: 6.6`), or a profile with its own scenario file (`rps0: { profile: 6.6,
 * scenario: loopback-rps0.yaml }`) when the claim compares settings rather than kernels.
 */
const runSpec = z.union([z.string().min(1), z.strictObject({ profile: z.string().min(1), scenario: z.string().min(1) })]);
export type RunSpec = z.output<typeof runSpec>;

/** The profile of a run. */
export function runProfile(r: RunSpec): string {
  return typeof r === "string" ? r : r.profile;
}

/** The run's own scenario (relative to the claims file), if it has one. */
export function runScenario(r: RunSpec): string | undefined {
  return typeof r === "string" ? undefined : r.scenario;
}

/** alias → run; an alias is the root of paths in `expect:`, so it must read as one. */
const runs = z.record(z.string(), runSpec).superRefine((r, ctx) => {
  if (Object.keys(r).length === 0) ctx.addIssue({ code: "custom", message: "name at least one run (alias: profile)" });
  for (const a of Object.keys(r)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(a))
      ctx.addIssue({ code: "custom", path: [a], message: "an alias is a name such as ipi or no_patch1 (letters, digits, _)" });
    else if (KEYWORDS.has(a)) ctx.addIssue({ code: "custom", path: [a], message: "an alias cannot be and, or, not, true or false" });
  }
});

const claim = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "ids are lower-case words joined by '-'"),
  claim: z.string().min(1),
  source: z.string().min(1),
  /** Relative to the claims file; a run may name its own. */
  scenario: z.string().min(1),
  runs,
  expect: z.array(z.string()).default([]),
  each: z.array(z.string()).default([]),
});

export const claimsFileSchema = z.strictObject({ claims: z.array(claim).min(1) });
export type ClaimSpec = z.output<typeof claim>;

/** A claim with its expressions parsed. */
export interface Claim extends ClaimSpec {
  expectExprs: Expr[];
  eachExprs: Expr[];
}

/** An expression of a claim that does not parse or does not fit the results: where and why. */
export class ClaimError extends Error {
  override readonly name = "ClaimError";
  constructor(
    readonly path: (string | number)[],
    message: string,
  ) {
    super(message);
  }
}

function parseList(texts: readonly string[], key: "expect" | "each"): Expr[] {
  return texts.map((t, i) => {
    try {
      return parseExpression(t);
    } catch (err) {
      if (err instanceof ExpressionError) throw new ClaimError([key, i], `'${t}': ${err.message}`);
      throw err;
    }
  });
}

export function parseClaim(spec: ClaimSpec): Claim {
  return { ...spec, expectExprs: parseList(spec.expect, "expect"), eachExprs: parseList(spec.each, "each") };
}

/** Check every expression on results of the right shape (`templates`, by alias) before any run. */
export function validateClaim(c: Claim, templates: Record<string, RunResults>): void {
  const attempt = (path: (string | number)[], text: string, f: () => void) => {
    try {
      f();
    } catch (err) {
      if (err instanceof ExpressionError) throw new ClaimError(path, `'${text}': ${err.message}`);
      throw err;
    }
  };
  c.expectExprs.forEach((e, i) => attempt(["expect", i], c.expect[i]!, () => holds(e, templates)));
  c.eachExprs.forEach((e, i) => {
    for (const r of Object.values(templates)) attempt(["each", i], c.each[i]!, () => holds(e, r));
  });
}

export interface CheckOutcome {
  /** The expression as written. */
  check: string;
  /** `each:` checks: the alias of the run it was checked on. */
  run?: string;
  pass: boolean;
  /** Its operands' values. */
  measured: string;
}

export interface ClaimOutcome {
  id: string;
  claim: string;
  source: string;
  scenario: string;
  runs: Record<string, string>;
  pass: boolean;
  checks: CheckOutcome[];
  /** The headline figures of every run, by alias. */
  measured: Record<string, RunMetrics>;
}

/**
 * Whether the claim says what it expects of `alias`'s liveness (`alias.liveness…` in expect:,
 * `liveness…` in each:): then its expressions judge it, else the run must be live.
 */
function judgesLiveness(c: Claim, alias: string): boolean {
  return c.expect.some((t) => new RegExp(`\\b${alias}\\.liveness\\b`).test(t)) || c.each.some((t) => /\bliveness\b/.test(t));
}

export function evaluateClaim(c: Claim, scenarioPath: string, results: Record<string, RunResults>): ClaimOutcome {
  const checks: CheckOutcome[] = c.expectExprs.map((e, i) => ({
    check: c.expect[i]!,
    pass: holds(e, results),
    measured: formatExplanation(explain(e, results)),
  }));
  for (const [i, e] of c.eachExprs.entries())
    for (const [name, r] of Object.entries(results))
      checks.push({ check: c.each[i]!, run: name, pass: holds(e, r), measured: formatExplanation(explain(e, r)) });
  // Every run must be live (no stall, drained) unless the claim expects something of its liveness.
  for (const [name, r] of Object.entries(results))
    if (r.liveness && !r.liveness.ok && !judgesLiveness(c, name))
      checks.push({ check: "liveness.ok", run: name, pass: false, measured: shortLines(r.liveness).join("; ") });
  return {
    id: c.id,
    claim: c.claim,
    source: c.source,
    scenario: scenarioPath,
    // alias → profile, with the run's own scenario after an @ when it has one.
    runs: Object.fromEntries(Object.entries(c.runs).map(([a, r]) => [a, runScenario(r) ? `${runProfile(r)} @ ${runScenario(r)}` : runProfile(r)])),
    pass: checks.every((k) => k.pass),
    checks,
    measured: Object.fromEntries(Object.entries(results).map(([name, r]) => [name, runMetrics(r)])),
  };
}
