// Every flag a help text names exists. `sweep --help` once pointed at a `--profile` that sweep
// does not have; help texts are prose, so nothing but a test keeps them honest.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cliInProcess } from "./spawn.ts";

/** The flags a command's help declares in its Options section. */
function declared(help: string): Set<string> {
  const flags = new Set<string>();
  for (const m of help.matchAll(/^ {2}(?:-\w, )?(--[\w-]+)/gm)) flags.add(m[1]!);
  return flags;
}

/**
 * Flags the help names, by the command they belong to: the word just before the flag when it is a
 * command ("see run --pace"), the command an example or quoted invocation on the line runs, the command a line of the top help's
 * command list describes, else the help's own command. Other
 * programs' flags (node_exporter's --path.procfs) are named with their program and skipped.
 */
function mentioned(help: string, own: string, commands: Set<string>): { command: string; flag: string }[] {
  const found: { command: string; flag: string }[] = [];
  let context = own; // in the top help's command list, a command's description is about it
  for (const line of help.split("\n")) {
    const listed = /^ {2}(\w+) \[options\]/.exec(line);
    if (listed && commands.has(listed[1]!)) context = listed[1]!;
    else if (!line.startsWith(" ")) context = own;
    // An invocation (`$ softnet-emu run …` or prose quoting `softnet-emu run …`) owns the flags after it.
    const invoked = /softnet-emu (\w+)/.exec(line);
    const invocation = invoked && commands.has(invoked[1]!) ? { command: invoked[1]!, at: invoked.index } : undefined;
    for (const m of line.matchAll(/(?:(\S+) )?(?<![\w-])(--[a-z][\w-]*)(\.?)/g)) {
      if (m[3] === "." || m[1] === "node_exporter") continue;
      const before = m[1] !== undefined && commands.has(m[1]) ? m[1] : undefined;
      const quoted = invocation && m.index > invocation.at ? invocation.command : undefined;
      found.push({ command: before ?? quoted ?? context, flag: m[2]! });
    }
  }
  return found;
}

test("every flag named in a help text, or used in its examples, exists", async () => {
  const top = (await cliInProcess(["--help"])).stdout;
  const commands = [...top.matchAll(/^ {2}(\w+) \[options\]/gm)].map((m) => m[1]!);
  assert.ok(commands.length >= 6, `commands found in --help: ${commands.join(", ")}`);
  const flagsOf = new Map<string, Set<string>>();
  const helps = new Map<string, string>();
  for (const c of commands) {
    const o = await cliInProcess([c, "--help"]);
    assert.equal(o.code, 0, o.stderr);
    helps.set(c, o.stdout);
    flagsOf.set(c, declared(o.stdout));
  }
  const problems: string[] = [];
  const names = new Set(commands);
  flagsOf.set("softnet-emu", declared(top));
  for (const [where, help] of [["softnet-emu", top], ...helps] as const)
    for (const { command, flag } of mentioned(help, where, names)) {
      const known = flagsOf.get(command);
      if (!known) problems.push(`${where} --help names an unknown command '${command}'`);
      else if (!known.has(flag)) problems.push(`${where} --help names ${flag}, which '${command}' does not have`);
    }
  assert.deepEqual(problems, []);
});

test("every `softnet-emu COMMAND --flag` in the README, docs and examples exists", async () => {
  const top = (await cliInProcess(["--help"])).stdout;
  const commands = [...top.matchAll(/^ {2}(\w+) \[options\]/gm)].map((m) => m[1]!);
  const flagsOf = new Map<string, Set<string>>();
  for (const c of commands) flagsOf.set(c, declared((await cliInProcess([c, "--help"])).stdout));
  const root = join(import.meta.dirname, "../..");
  const files = ["README.md", ...["docs", "examples"].flatMap((d) => readdirSync(join(root, d)).filter((f) => /\.(md|ya?ml)$/.test(f)).map((f) => `${d}/${f}`))];
  const problems: string[] = [];
  let invocations = 0;
  for (const file of files) {
    const lines = readFileSync(join(root, file), "utf8").split("\n");
    lines.forEach((line, i) => {
      // One invocation: from `softnet-emu CMD` to the end of the line or of its `code span`.
      for (const m of line.matchAll(/softnet-emu (\w+)([^`|]*)/g)) {
        const known = flagsOf.get(m[1]!);
        if (!known) continue; // prose such as "softnet-emu is" — not an invocation
        invocations++;
        for (const f of m[2]!.matchAll(/(?<![\w-])(--[a-z][\w-]*)/g))
          if (!known.has(f[1]!)) problems.push(`${file}:${i + 1}: softnet-emu ${m[1]} has no ${f[1]}`);
      }
    });
  }
  assert.deepEqual(problems, []);
  assert.ok(invocations >= 20, `only ${invocations} invocations found: is the pattern still right?`);
});
