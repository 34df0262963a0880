// The compiled CLI (scripts/build.mjs, bin/softnet-emu.js): it gives the sources' results, a source
// newer than the build is always rebuilt before anything runs (in a copy of the repository, so the
// shared tree's sources are never touched), and a build that fails says so in one line.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ensureBuilt } from "../../scripts/build.mjs";

const ROOT = join(import.meta.dirname, "../..");

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: opts.cwd ?? ROOT, env: { ...process.env, ...opts.env }, timeout: 120_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const manifestDir = (root: string): string => (JSON.parse(readFileSync(join(root, "dist/manifest.json"), "utf8")) as { dir: string }).dir;

describe("the compiled CLI", () => {
  test("gives the same results as the sources through tsx (run, the process engine: CPU children from the bundle)", async () => {
    const args = [join(ROOT, "bin/softnet-emu.js"), "run", "--duration", "1ms", "--seed", "7", "--json", "-"];
    const [bundled, dev] = [await node(args, { env: { SOFTNET_EMU_DEV: "0" } }), await node(args, { env: { SOFTNET_EMU_DEV: "1" } })];
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.equal(dev.code, 0, dev.stderr);
    assert.ok(JSON.parse(bundled.stdout).totals.injected > 0);
    assert.equal(bundled.stdout, dev.stdout);
  });

  describe("in a copy of the repository", () => {
    let copy = "";
    const bin = (): string => join(copy, "bin/softnet-emu.js");
    before(async () => {
      await ensureBuilt();
      copy = mkdtempSync(join(tmpdir(), "softnet-emu-build-"));
      // Sources with their mtimes, and the current build: it is as fresh in the copy as here.
      const skip = new Set(["node_modules", ".git", "test", "docs", "grafana", "k8s"]);
      cpSync(ROOT, copy, { recursive: true, preserveTimestamps: true, filter: (src) => !skip.has(src.slice(ROOT.length + 1).split("/")[0]!) || src === ROOT });
      symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    });
    after(() => rmSync(copy, { recursive: true, force: true }));

    test("a source newer than the build is rebuilt before the CLI runs: the change shows at once", async () => {
      const first = await node([bin(), "--version"], { cwd: copy });
      assert.equal(first.code, 0, first.stderr);
      const before = manifestDir(copy);
      appendFileSync(join(copy, "cli/main.ts"), '\nprocess.stderr.write("rebuilt-from-the-changed-source\\n");\n');
      // Started from another folder: the build and its manifest are the repository's all the same.
      const second = await node([bin(), "--version"], { cwd: tmpdir() });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /rebuilt-from-the-changed-source/);
      assert.notEqual(manifestDir(copy), before, "a new build folder");
      const inputs = Object.keys((JSON.parse(readFileSync(join(copy, "dist/manifest.json"), "utf8")) as { inputs: object }).inputs);
      for (const f of ["cli/main.ts", "cpu-node/main.ts", "scripts/build.mjs", "package-lock.json"]) assert.ok(inputs.includes(f), `${f} among the inputs`);
      assert.ok(inputs.some((f) => f.startsWith("model/")), "the model among the inputs");
      assert.ok(!inputs.some((f) => f.startsWith("/") || f.startsWith("..") || f.startsWith("node_modules/")), `inputs relative to the repository: ${inputs.join(" ")}`);
      // And the CPU processes of a run are of that build too (their own source changed).
      appendFileSync(join(copy, "cpu-node/main.ts"), '\nprocess.stderr.write("cpu-from-the-changed-source\\n");\n');
      const run = await node([bin(), "run", "--duration", "100us", "--verbose"], { cwd: copy });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /\[cpu \d\] cpu-from-the-changed-source/);
    });

    test("a build that fails: one line naming the file, exit 3, nothing run", async () => {
      writeFileSync(join(copy, "config/units.ts"), "export const = ;\n");
      const o = await node([bin(), "--help"], { cwd: copy });
      assert.equal(o.code, 3, o.stderr);
      assert.equal(o.stdout, "");
      const lines = o.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, o.stderr);
      assert.match(lines[0]!, /^softnet-emu: error: building the CLI \(scripts\/build\.mjs\) failed: .*config\/units\.ts:1/);
    });
  });
});
