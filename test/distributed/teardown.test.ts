// `run --engine processes` cleans up after itself (issue 3): Ctrl-C stops every CPU process and
// removes the private ipc directory; a parent that dies outright takes its CPUs with it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { alive, waitFor } from "./helpers.ts";

const FIXTURE = fileURLToPath(new URL("./fixtures/run-child.ts", import.meta.url));

function startRun() {
  const proc = spawn(process.execPath, ["--import", "tsx", FIXTURE], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const info = () => {
    const line = out.split("\n").find((l) => l.startsWith("{"));
    return line ? (JSON.parse(line) as { pids: number[]; dirs: string[] }) : undefined;
  };
  return { proc, info, output: () => out };
}

test("SIGINT stops every CPU process and removes the ipc socket directory", { timeout: 60_000 }, async () => {
  const run = startRun();
  assert.ok(await waitFor(() => run.info() !== undefined, 30_000), run.output());
  const { pids, dirs } = run.info()!;
  assert.equal(pids.length, 3);
  assert.equal(dirs.length, 1, "one private ipc directory");
  const dir = join(tmpdir(), dirs[0]!);
  assert.ok(existsSync(dir));
  run.proc.kill("SIGINT");
  const [code] = (await once(run.proc, "exit")) as [number | null];
  assert.equal(code, 130, run.output());
  assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 5000), "CPU processes left behind");
  assert.ok(!existsSync(dir), `${dir} left behind`);
});

test("a run killed outright (SIGKILL) takes its CPU processes with it", { timeout: 60_000 }, async () => {
  const run = startRun();
  assert.ok(await waitFor(() => run.info() !== undefined, 30_000), run.output());
  const { pids } = run.info()!;
  run.proc.kill("SIGKILL");
  // Their standard input closes with the parent: they exit at once, not after the coordinator
  // timeout (a few seconds are allowed for a loaded machine).
  assert.ok(await waitFor(() => pids.every((p) => !alive(p)), 5000), "CPU processes outlived their parent");
});
