// Watching a run (issue 4): `run --metrics-port` serves /metrics while the run goes and, with
// --keep-alive, after it until SIGINT; --procfs keeps DIR/net/softnet_stat; both engines; the
// control API drives the in-process engine too. Ctrl-C tears everything down (exit 130), a chaos run's
// too (test/chaos/cli.test.ts watches one); a port in
// use or an unwritable folder is one line and exit 2, before anything starts.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { alive, childPids, cli, Running, usageErrorLine, waitFor } from "./spawn.ts";

const URL_LINE = /metrics and control API at (http:\/\/127\.0\.0\.1:\d+) /;
// 40 ms of virtual time at 0.02 virtual seconds per wall second: about 2 s to watch.
const PACED = ["--duration", "40ms", "--pace", "0.02", "--rate", "100000"];

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "softnet-emu-live-"));
}

async function text(url: string): Promise<string> {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.text();
}

/** A sample's value, e.g. sample(text, "softnet_emu_virtual_time_seconds"). */
function sample(metrics: string, name: string, labels = ""): number | undefined {
  const re = new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, "m");
  const m = re.exec(metrics);
  return m ? Number(m[1]) : undefined;
}

/** Serve during, serve after, SIGINT: the whole life of `run --metrics-port 0 --keep-alive`. */
async function watchRun(engine: "processes" | "inprocess", during?: (url: string, run: Running) => Promise<void>) {
  const dir = tempDir();
  const json = join(dir, "r.json");
  const procfs = join(dir, "proc");
  const run = Running.start(["run", "--engine", engine, ...PACED, "--metrics-port", "0", "--keep-alive", "--procfs", procfs, "--json", json, "--quiet"]);
  try {
    const url = (await run.stderrMatch(URL_LINE))[1]!;
    // During the run: virtual time between the start and the end, counters per CPU, the file.
    const live = await waitFor("/metrics mid-run", async () => {
      const t = await text(`${url}/metrics`);
      const v = sample(t, "softnet_emu_virtual_time_seconds");
      // Well before the end, so what follows still happens during the run.
      return v !== undefined && v > 0 && v < 0.025 ? t : undefined;
    });
    assert.ok(run.running, "still running");
    assert.equal(sample(live, "node_softnet_processed_total", 'cpu="3"') !== undefined, true);
    const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; cpus: number };
    assert.deepEqual([health.status, health.cpus], ["ok", 4]);
    await waitFor("softnet_stat mid-run", () => (existsSync(join(procfs, "net/softnet_stat")) && readFileSync(join(procfs, "net/softnet_stat"), "utf8").split("\n").length === 5 ? true : undefined));
    const children = childPids(run.pid);
    await during?.(url, run);

    // After the run: the final counters, still served.
    await run.stderrMatch(/the run is over; still serving http:\/\/127\.0\.0\.1:\d+\/metrics/);
    const results = JSON.parse(readFileSync(json, "utf8")) as RunResults;
    const after = await text(`${url}/metrics`);
    assert.equal(sample(after, "softnet_emu_virtual_time_seconds"), 0.04);
    assert.equal(sample(after, "softnet_emu_checker_ok"), 1);
    for (const c of results.cpus) assert.equal(sample(after, "softnet_emu_processed_total", `cpu="${c.cpu}"`), c.processed, `cpu ${c.cpu}`);
    assert.match(after, /scenario="default",profile="6\.6-patched"/);
    assert.equal(readFileSync(join(procfs, "net/softnet_stat"), "utf8"), results.softnet_stat, "the final softnet_stat");

    // SIGINT: exits cleanly, stops serving, leaves no process behind.
    run.kill("SIGINT");
    assert.equal(await run.exited, 0, run.stderr);
    assert.match(run.stderr, /SIGINT: stopped serving\n$/);
    await assert.rejects(fetch(`${url}/metrics`), "the port is closed");
    await waitFor("no child process left", () => (children.every((p) => !alive(p)) ? true : undefined), 5000);
    return { results, run };
  } finally {
    run.kill();
  }
}

describe("run --metrics-port --keep-alive --procfs", { timeout: 60_000 }, () => {
  test("processes: /metrics during and after the run, softnet_stat kept, SIGINT ends it cleanly", async () => {
    const { results, run } = await watchRun("processes");
    assert.equal(results.engine, "processes");
    assert.equal(results.virtual_ns, 40_000_000);
    assert.equal(run.stdout, "", "--quiet and --json FILE: nothing on stdout");
  });

  test("inprocess: the same, and the control API takes CPU 2 offline mid-run", async () => {
    let offlineAt = 0;
    const { results } = await watchRun("inprocess", async (url) => {
      const post = (action: string, body: object) => fetch(`${url}/control/${action}`, { method: "POST", body: JSON.stringify(body) });
      const r = await post("offline", { cpu: 2 });
      assert.equal(r.status, 200, await r.clone().text());
      offlineAt = ((await r.json()) as { at_ns: number }).at_ns;
      assert.ok(offlineAt > 0 && offlineAt < 40_000_000, `at ${offlineAt} ns`);
      assert.equal((await post("offline", { cpu: 2 })).status, 409, "already offline");
      assert.equal((await post("offline", { cpu: 9 })).status, 404, "no such CPU");
      const status = (await (await fetch(`${url}/control/status`)).json()) as { engine: string; phase: string; commands: unknown[] };
      assert.deepEqual([status.engine, status.phase, status.commands.length], ["inprocess", "running", 1]);
      const metrics = await waitFor("cpu 2 offline on /metrics", async () => {
        const t = await text(`${url}/metrics`);
        return sample(t, "softnet_emu_cpu_online", 'cpu="2"') === 0 ? t : undefined;
      });
      assert.equal(sample(metrics, "node_softnet_processed_total", 'cpu="2"'), undefined, "its node_softnet_* series are gone");
    });
    assert.equal(results.engine, "inprocess");
    assert.deepEqual(results.events, [{ at_ns: offlineAt, cpu: 2, action: "offline" }], "the run-time command is in the results");
    assert.equal(results.cpus[2]!.online, false);
    assert.equal(results.softnet_stat.trimEnd().split("\n").length, 3, "no row for the offline CPU");
    const t = results.totals;
    assert.equal(t.injected, t.processed + t.dropped + t.queued + t.in_flight, "every packet accounted for");
  });
});

describe("interrupting a run", { timeout: 30_000 }, () => {
  test("SIGINT mid-run (processes): exit 130, one line, every CPU process gone, the port closed", async () => {
    const run = Running.start(["run", ...PACED, "--metrics-port", "0"]);
    try {
      const url = (await run.stderrMatch(URL_LINE))[1]!;
      await waitFor("the CPUs running", async () => {
        const s = (await (await fetch(`${url}/control/status`)).json()) as { phase: string };
        return s.phase === "running" ? true : undefined;
      });
      const children = childPids(run.pid);
      assert.ok(children.length >= 4, `4 CPU processes (children: ${children.join(", ")})`);
      run.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr);
      assert.match(run.stderr, /softnet-emu: interrupted \(SIGINT\): the run stopped, every process torn down\n$/);
      // The summary of what ran, when a checkpoint was reached (test/cli/interrupt.test.ts).
      assert.ok(run.stdout === "" || run.stdout.startsWith("INTERRUPTED (SIGINT) at "), run.stdout);
      await waitFor("no CPU process left", () => (children.every((p) => !alive(p)) ? true : undefined), 5000);
      await assert.rejects(fetch(`${url}/metrics`));
    } finally {
      run.kill();
    }
  });
  test("SIGINT mid chaos run (inprocess, paced): exit 130, one line, the summary so far", async () => {
    const run = Running.start(["run", "--chaos-duration", "40ms", "--pace", "0.02", "--nemesis", "hotplug", "--metrics-port", "0"]);
    try {
      const url = (await run.stderrMatch(URL_LINE))[1]!;
      await waitFor("the chaos run going", async () => {
        const s = (await (await fetch(`${url}/control/status`)).json()) as { phase: string; virtual_ns?: number };
        return s.phase === "running" && s.virtual_ns! > 0 ? true : undefined;
      });
      run.kill("SIGINT");
      assert.equal(await run.exited, 130, run.stderr);
      assert.match(run.stderr, /softnet-emu: interrupted \(SIGINT\): the run stopped, every process torn down\n$/);
      assert.match(run.stdout, /^INTERRUPTED \(SIGINT\) at \S+ of virtual time: the results so far\nprofile /, "the summary of what ran");
    } finally {
      run.kill();
    }
  });
});

describe("bad --metrics-port and --procfs: one line, exit 2, before anything starts", { timeout: 30_000 }, () => {
  test("a port in use (run on both engines, coordinator)", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      // All three listen on 127.0.0.1 unless --metrics-host says otherwise.
      const runs = await Promise.all([
        cli(["run", "--metrics-port", String(port)]),
        cli(["run", "--engine", "inprocess", "--metrics-port", String(port)]),
        cli(["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", String(port)]),
      ]);
      for (const o of runs) assert.equal(usageErrorLine(o), `softnet-emu: error: --metrics-port ${port}: 127.0.0.1:${port} is already in use`);
    } finally {
      taken.close();
    }
    // Told to listen on every interface: the port taken there.
    const wide = createServer();
    await new Promise<void>((resolve) => wide.listen(0, "0.0.0.0", resolve));
    const widePort = (wide.address() as { port: number }).port;
    try {
      const o = await cli(["coordinator", "--bind", "tcp://127.0.0.1:*", "--metrics-port", String(widePort), "--metrics-host", "0.0.0.0"]);
      assert.equal(usageErrorLine(o), `softnet-emu: error: --metrics-port ${widePort}: 0.0.0.0:${widePort} is already in use`);
    } finally {
      wide.close();
    }
  });

  test("an unwritable --procfs folder (run, coordinator)", async () => {
    // A file where a folder should be: unwritable even for root.
    const file = join(tempDir(), "not-a-folder");
    writeFileSync(file, "");
    const [run, coord] = await Promise.all([
      cli(["run", "--procfs", join(file, "emu")]),
      cli(["coordinator", "--bind", "tcp://127.0.0.1:*", "--procfs", join(file, "emu")]),
    ]);
    for (const o of [run, coord])
      assert.equal(usageErrorLine(o), `softnet-emu: error: --procfs ${join(file, "emu")}: cannot write ${join(file, "emu")}/net/softnet_stat: a path component is not a folder`);
  });
});
