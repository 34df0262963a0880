// `softnet-emu reproduce`: re-check the claims of the patch series and of docs/DESIGN.md §1.9 with the
// built-in scenarios (examples/reproduce/claims.yaml, or --claims FILE): per claim, the claim,
// the measured numbers and PASS or FAIL. Exit status: 0 only if every claim holds.
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError, type Command } from "commander";
import { parse as parseYaml } from "yaml";
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import { ClaimError, claimsFileSchema, evaluateClaim, parseClaim, runProfile, runScenario, validateClaim, type Claim, type ClaimOutcome } from "../report/claims.ts";
import { fieldError, formatPath, UsageError } from "../config/errors.ts";
import { checkOutputFile, copySomeRunOptions, parseJobs, runExperimentJobs, writeOutput, type RunLikeOptions } from "./experiment-common.ts";
import type { CliIo } from "./io.ts";
import { loadScenario } from "../config/scenario.ts";
import { resolveConfig } from "../config/resolve.ts";

export const BUILTIN_CLAIMS = fileURLToPath(new URL("../examples/reproduce/claims.yaml", import.meta.url));

interface ReproduceOptions extends RunLikeOptions {
  verbose?: boolean;
  claims?: string;
  only?: string[];
  json?: string;
}

const HELP = `
The built-in claims are in examples/reproduce/claims.yaml, each with its scenario beside it, so
you can run, compare and change them (softnet-emu run --scenario examples/reproduce/rt-warning.yaml).
Every run uses its scenario's seed unless --seed is given.

Examples:
  $ softnet-emu reproduce
  $ softnet-emu reproduce --only rt-warning,stall-without-patch1 --json claims.json
  $ softnet-emu reproduce --claims my-claims.yaml

Exit status: 0 every claim holds, 1 one does not (or a run failed), 2 bad input.`;

export function registerReproduce(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const cmd = program
    .command("reproduce")
    .description("re-check the claims of the backlog-threads patch series and of docs/DESIGN.md §1.9, PASS or FAIL each")
    .option("--claims <FILE>", "claims file (default: the built-in examples/reproduce/claims.yaml)")
    .option("--only <IDS>", "comma-separated claim ids to check", (t: string) => {
      const ids = t.split(",").map((s) => s.trim()).filter(Boolean);
      if (ids.length === 0) throw new InvalidArgumentError("give at least one claim id");
      return ids;
    });
  copySomeRunOptions(program, cmd, ["--engine", "--seed", "--window"])
    .option("--verbose", "also print a line per run and the engine's kernel-style log lines on stderr")
    .option("--json <FILE>", "write every claim with its checks and measured figures as JSON to FILE ('-' = stdout)")
    .option("--jobs <N>", "runs at once (default: the cores available)", parseJobs)
    .addHelpText("after", HELP)
    .action(async (opts: ReproduceOptions) => setExit(await reproduce(opts, io)));
}

/** A path as the user would type it: relative to the working directory when below it. */
function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}

export function loadClaims(file: string): Claim[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`${shown(file)}: cannot read claims: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let data: unknown;
  try {
    // Every value of a claims file is text: the failsafe schema keeps `6.6` a profile name, not a number.
    data = parseYaml(text, { schema: "failsafe" });
  } catch (err) {
    throw new UsageError(`${shown(file)}: malformed YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const parsed = claimsFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
    throw new UsageError(`${shown(file)}: ${path.length ? `${formatPath(path)}: ` : ""}${issue.message}`);
  }
  const ids = new Set<string>();
  return parsed.data.claims.map((spec, i) => {
    if (ids.has(spec.id)) throw new UsageError(`${shown(file)}: claims[${i}].id: '${spec.id}' is used twice`);
    ids.add(spec.id);
    try {
      return parseClaim(spec);
    } catch (err) {
      if (err instanceof ClaimError) throw new UsageError(`${shown(file)}: ${formatPath(["claims", i, ...err.path])}: ${err.message}`);
      throw err;
    }
  });
}

interface PlannedClaim {
  claim: Claim;
  scenarioPath: string;
  /** alias → key of its run in the job list. */
  runKeys: Record<string, string>;
}

/** Resolve every claim's runs to configs (one per scenario and profile) and check the expressions. */
async function plan(file: string, claims: readonly Claim[], o: ReproduceOptions): Promise<{ planned: PlannedClaim[]; cfgs: Map<string, EmuConfig> }> {
  const { templateResults } = await import("../report/template.ts");
  const cfgs = new Map<string, EmuConfig>();
  const planned = claims.map((claim, i) => {
    const scenarioPath = resolve(dirname(file), claim.scenario);
    const runKeys: Record<string, string> = {};
    const templates: Record<string, RunResults> = {};
    for (const [alias, run] of Object.entries(claim.runs)) {
      const profile = runProfile(run);
      const own = runScenario(run);
      const path = own !== undefined ? resolve(dirname(file), own) : scenarioPath;
      const key = `${path}|${profile}`;
      let cfg = cfgs.get(key);
      if (!cfg) {
        try {
          cfg = resolveConfig(loadScenario(shown(path)), { profile, seed: o.seed, window_ns: o.window });
        } catch (err) {
          if (err instanceof UsageError) throw new UsageError(`${shown(file)}: claims[${i}].runs.${alias}: ${err.message}`);
          throw err;
        }
        cfgs.set(key, cfg);
      }
      runKeys[alias] = key;
      templates[alias] = templateResults(cfg);
    }
    try {
      validateClaim(claim, templates);
    } catch (err) {
      if (err instanceof ClaimError) throw fieldError({ file: shown(file), lineOf: () => undefined }, ["claims", i, ...err.path], err.message);
      throw err;
    }
    return { claim, scenarioPath, runKeys };
  });
  return { planned, cfgs };
}

async function reproduce(o: ReproduceOptions, io: CliIo): Promise<number> {
  const file = o.claims ?? BUILTIN_CLAIMS;
  let claims = loadClaims(file);
  if (o.only) {
    const unknown = o.only.filter((id) => !claims.some((c) => c.id === id));
    if (unknown.length) throw new UsageError(`--only: unknown claim '${unknown[0]}' (known: ${claims.map((c) => c.id).join(", ")})`);
    claims = claims.filter((c) => o.only!.includes(c.id));
  }
  if (o.json !== undefined) checkOutputFile("--json", o.json);
  const { planned, cfgs } = await plan(file, claims, o);

  const keys = [...cfgs.keys()];
  const results = await runExperimentJobs(
    keys.map((key) => {
      const cfg = cfgs.get(key)!;
      return { label: `${shown(key.split("|")[0]!)} ${cfg.profile.name}`, cfg };
    }),
    { ...o, quiet: !o.verbose },
    io,
  );
  const byKey = new Map(keys.map((k, i) => [k, results[i]!]));
  const outcomes = planned.map((p) =>
    evaluateClaim(p.claim, shown(p.scenarioPath), Object.fromEntries(Object.entries(p.runKeys).map(([alias, key]) => [alias, byKey.get(key)!]))),
  );
  const passed = outcomes.filter((c) => c.pass).length;
  if (o.json !== undefined) {
    const doc = { command: "reproduce", claims_file: shown(file), ok: passed === outcomes.length, passed, total: outcomes.length, claims: outcomes };
    writeOutput(io, "--json", o.json, `${JSON.stringify(doc, null, 2)}\n`);
  }
  if (o.json !== "-") io.out(renderOutcomes(outcomes));
  return passed === outcomes.length ? 0 : 1;
}

const WIDTH = 100;

function wrap(text: string, indent: string): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && indent.length + line.length + 1 + word.length > WIDTH) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

export function renderOutcomes(outcomes: readonly ClaimOutcome[]): string {
  const out: string[] = [];
  for (const c of outcomes) {
    out.push(`${c.pass ? "PASS" : "FAIL"}  ${c.id}  (${c.source})`);
    out.push(...wrap(c.claim, "      "));
    out.push(`      scenario ${c.scenario}: ${Object.entries(c.runs).map(([a, p]) => `${a}=${p}`).join(" ")}`);
    for (const k of c.checks.filter((k) => k.run === undefined)) out.push(`      ${k.pass ? "ok  " : "FAIL"}  ${k.check}   [${k.measured}]`);
    // `each:` checks: one line per expression when it holds on every run, else each failing run.
    for (const check of [...new Set(c.checks.filter((k) => k.run !== undefined).map((k) => k.check))]) {
      const runs = c.checks.filter((k) => k.run !== undefined && k.check === check);
      const failed = runs.filter((k) => !k.pass);
      if (failed.length === 0) out.push(`      ok    every run: ${check}   [${runs.length} runs]`);
      for (const k of failed) out.push(`      FAIL  ${k.run}: ${check}   [${k.measured}]`);
    }
    out.push("");
  }
  const passed = outcomes.filter((c) => c.pass).length;
  out.push(passed === outcomes.length ? `all ${passed} claims reproduced` : `${outcomes.length - passed} of ${outcomes.length} claims NOT reproduced: ${outcomes.filter((c) => !c.pass).map((c) => c.id).join(", ")}`);
  return `${out.join("\n")}\n`;
}
