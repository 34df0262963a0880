// A CPU process SIGKILLed from outside in the middle of a paced run of the process engine: /metrics
// shows it dead (softnet_emu_cpu_dead 1, online 0, its softnet_stat row gone) while the run goes on,
// and lost_on_crash as soon as the survivors have answered for it, equal to the results' figure. Then
// /control/stop ends the run and every command after it, a second stop included, gets 409.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { Running, childPids, waitFor } from "../cli/spawn.ts";
import { freePort } from "./harness.ts";

/** A sample's value from exposition text, by name and a label subset; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** The CPU process of `run` started with `--id cpu`. */
function cpuPid(run: Running, cpu: number): number | undefined {
  return childPids(run.pid).find((pid) => {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return args[args.indexOf("--id") + 1] === String(cpu);
    } catch {
      return false;
    }
  });
}

describe("a CPU process killed mid-run, as /metrics and the control API show it", () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-dead-cpu-"));
  let run: Running | undefined;
  after(async () => {
    run?.kill("SIGKILL");
    await run?.exited;
    rmSync(dir, { recursive: true, force: true });
  });

  it("turns the dead series on during the run, counts lost_on_crash before the end, and refuses commands after the stop", { timeout: 180_000 }, async (t) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const json = join(dir, "results.json");
    // 200 ms of virtual time at 0.005: 40 s of wall time unless stopped, far more than the test needs;
    // a flood that keeps the backlogs full, so that CPU 2 holds packets when it dies.
    run = Running.start(["run", "--engine", "processes", "--pace", "0.005", "--duration", "200ms", "--rate", "1500000", "--metrics-port", String(port), "--keep-alive", "--json", json]);
    const status = async (): Promise<{ phase: string; virtual_ns_min: number; dead: number[]; lost_on_crash: number }> => (await fetch(`${url}/control/status`)).json() as never;
    await waitFor("the run to be 5 ms in", async () => ((await status()).virtual_ns_min >= 5_000_000 ? true : undefined), 60_000);
    const pid = await waitFor("cpu 2's process", () => cpuPid(run!, 2));
    process.kill(pid, "SIGKILL");

    const metrics = async (): Promise<string> => (await fetch(`${url}/metrics`)).text();
    const text = await waitFor("cpu 2's dead series", async () => {
      const t = await metrics();
      return sample(t, "softnet_emu_cpu_dead", { cpu: "2" }) === 1 ? t : undefined;
    }, 30_000);
    const virtual = sample(text, "softnet_emu_virtual_time_seconds")!;
    assert.ok(virtual < 0.2, `declared dead at virtual ${virtual} s, in the middle of the run`);
    assert.equal(sample(text, "softnet_emu_cpu_online", { cpu: "2" }), 0);
    assert.equal(sample(text, "node_softnet_processed_total", { cpu: "2" }), undefined, "its softnet_stat row is gone");
    for (const cpu of ["0", "1", "3"]) {
      assert.equal(sample(text, "softnet_emu_cpu_dead", { cpu }), 0);
      assert.equal(sample(text, "softnet_emu_cpu_online", { cpu }), 1);
    }
    assert.deepEqual((await status()).dead, [2]);
    // The survivors answer for it within a few heartbeats: the loss is known before the run ends.
    const known = await waitFor("lost_on_crash to be known", async () => {
      const s = await status();
      return s.lost_on_crash > 0 ? s : undefined;
    }, 30_000).catch(() => undefined);

    const post = async (path: string, body = "{}"): Promise<number> => (await fetch(`${url}/control/${path}`, { method: "POST", body })).status;
    assert.equal(await post("stop"), 200);
    for (const [path, body] of [["rate", '{"source": 0, "pps": 1000}'], ["offline", '{"cpu": 1}'], ["online", '{"cpu": 2}'], ["stop", "{}"]] as const)
      assert.equal(await post(path, body), 409, `${path} after /control/stop`);

    await run.stderrMatch(/the run is over; still serving/, 60_000);
    const results = JSON.parse(readFileSync(json, "utf8")) as RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } };
    assert.deepEqual(results.degraded?.dead_cpus, [2]);
    const lost = results.totals.lost_on_crash;
    assert.equal(sample(await metrics(), "softnet_emu_lost_on_crash_total"), lost);
    // Known mid-run, and never more than the final figure (the counter never goes back).
    if (known) assert.ok(known.lost_on_crash <= lost, `${known.lost_on_crash} known mid-run, ${lost} at the end`);
    else assert.equal(lost, 0, "packets were lost, yet the figure was never known during the run");
    assert.equal(sample(await metrics(), "softnet_emu_cpu_dead", { cpu: "2" }), 1, "still dead after the end");
    t.diagnostic(`dead at virtual ${(virtual * 1e3).toFixed(1)} ms; lost_on_crash ${known?.lost_on_crash ?? 0} during the run (at ${((known?.virtual_ns_min ?? 0) / 1e6).toFixed(1)} ms), ${lost} at the end (${(results.virtual_ns / 1e6).toFixed(1)} ms)`);
    run.kill("SIGTERM");
    await run.exited;
  });
});
