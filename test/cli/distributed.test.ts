// `softnet-emu coordinator` and `softnet-emu cpu` as users start them by hand (issue 3): a
// coordinator and two CPU processes on loopback compute what `run --engine inprocess` computes for
// the same flags; their help and their bad input.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { RunResults } from "../../model/results.ts";
import { cliInProcess as inProcess, cli, freePort, Running, usageErrorLine } from "./spawn.ts";


describe("softnet-emu coordinator + cpu by hand", () => {
  test("a coordinator and 2 CPU processes on loopback give the results of run --engine inprocess", { timeout: 60_000 }, async () => {
    // Two CPUs, RPS to both, CPU 1 taken offline under load and brought back: every kind of message.
    const flags = ["--cpus", "2", "--rps-cpus", "3", "--rate", "300000", "--duration", "10ms", "--seed", "7", "--offline", "1@3ms", "--online", "1@6ms"];
    const dir = mkdtempSync(join(tmpdir(), "softnet-emu-dist-"));
    const json = join(dir, "r.json");
    // The coordinator writes a new secret there; the CPUs read it.
    const secret = ["--secret-file", join(dir, "run.secret")];
    const port = await freePort();
    const endpoint = `tcp://127.0.0.1:${port}`;
    const coordinator = Running.start(["coordinator", ...flags, "--bind", endpoint, "--json", json, ...secret]);
    const cpus: Running[] = [];
    try {
      await coordinator.stderrMatch(/waiting for 2 cpus at tcp:\/\/127\.0\.0\.1:\d+/);
      // One claims its id, the other takes the lowest free one.
      cpus.push(Running.start(["cpu", "--coordinator", endpoint, "--id", "1", ...secret]), Running.start(["cpu", "--coordinator", endpoint, ...secret]));
      const codes = await Promise.all([coordinator.exited, ...cpus.map((c) => c.exited)]);
      assert.deepEqual(codes, [0, 0, 0], `coordinator: ${coordinator.stderr}\ncpus: ${cpus.map((c) => c.stderr).join("\n")}`);
    } finally {
      for (const p of [coordinator, ...cpus]) p.kill();
    }
    // The one that asked for id 1 got it; the other got 0, whichever came first.
    assert.match(coordinator.stderr, new RegExp(`\\[coordinator\\] cpu 1 registered \\(pid ${cpus[0]!.pid}, `));
    assert.match(coordinator.stderr, new RegExp(`\\[coordinator\\] cpu 0 registered \\(pid ${cpus[1]!.pid}, `));
    assert.match(coordinator.stdout, /^profile 6\.6-patched · seed 7 · engine processes · 2 CPUs · virtual 10ms/, "the summary on stdout");
    const distributed = JSON.parse(readFileSync(json, "utf8")) as RunResults;
    const local = await inProcess(["run", "--engine", "inprocess", ...flags, "--json", "-"]);
    assert.equal(local.code, 0, local.stderr);
    const inprocess = JSON.parse(local.stdout) as RunResults;
    assert.equal(distributed.engine, "processes");
    assert.deepEqual(distributed.cpus, inprocess.cpus);
    assert.deepEqual(distributed.totals, inprocess.totals);
    assert.equal(distributed.softnet_stat, inprocess.softnet_stat);
    assert.deepEqual(distributed.events, inprocess.events);
    assert.ok(distributed.totals.processed > 2000 && distributed.cpus[1]!.processed > 0, "real work on both CPUs");
  });
});

describe("run on the processes engine: what it prints, how it ends", () => {
  test("--verbose shows the coordinator's and the CPU processes' routine lines", async () => {
    const o = await cli(["run", "--duration", "5ms", "--verbose", "--json", "-"]);
    assert.equal(o.code, 0, o.stderr);
    assert.equal((JSON.parse(o.stdout) as RunResults).engine, "processes");
    assert.match(o.stderr, /^\[coordinator\] all 4 cpus registered; running 5000000 ns/m);
    for (let cpu = 0; cpu < 4; cpu++) assert.match(o.stderr, new RegExp(`^\\[cpu ${cpu}\\] reached 5000000 ns: `, "m"));
  });

  test("a CPU process killed mid-run: results, lost_on_crash, one line saying so, exit 4 (degraded)", { timeout: 30_000 }, async () => {
    const o = await cli(["run", "--engine", "processes", "--chaos-duration", "20ms", "--nemesis", "kill:at=5ms,cpu=2", "--json", "-", "--quiet"]);
    assert.equal(o.code, 4, o.stderr);
    const r = JSON.parse(o.stdout) as RunResults & { degraded?: { dead_cpus: number[]; lost_on_crash: number } };
    assert.deepEqual(r.degraded?.dead_cpus, [2]);
    assert.ok(r.checker.ok, "the books still balance");
    assert.equal(o.stderr, `softnet-emu: degraded: CPU process 2 died; what it held is counted as lost_on_crash (${r.totals.lost_on_crash})\n`);
  });
});

describe("help", () => {
  test("softnet-emu --help names run, coordinator and cpu", async () => {
    const o = await inProcess(["--help"]);
    assert.equal(o.code, 0);
    for (const cmd of ["run [options]", "coordinator [options]", "cpu [options]"]) assert.ok(o.stdout.includes(cmd), `mentions ${cmd}`);
  });

  test("softnet-emu cpu --help", async () => {
    const o = await inProcess(["cpu", "--help"]);
    assert.equal(o.code, 0);
    assert.match(o.stdout, /^Usage: softnet-emu cpu \[options\]/);
    for (const opt of ["--coordinator <ENDPOINT>", "--id <N>", "--bind <ENDPOINT>", "--advertise-host <HOST>", "--register-timeout <D>", "--coordinator-timeout <D>", "--coordinator-wait <D>"])
      assert.ok(o.stdout.includes(opt), `mentions ${opt}`);
    assert.match(o.stdout, /Exit status: 0 the run ended, 2 bad input or refused .* 4 the coordinator was lost/s);
  });

  test("softnet-emu coordinator --help: the run options and its own", async () => {
    const o = await inProcess(["coordinator", "--help"]);
    assert.equal(o.code, 0);
    assert.match(o.stdout, /^Usage: softnet-emu coordinator \[options\]/);
    for (const opt of [
      "--bind <ENDPOINT>",
      "--scenario <FILE>",
      "--cpus <N>",
      "--profile <NAME>",
      "--duration <D>",
      "--rps-cpus <HEXMASK>",
      "--pace <F>",
      "--cpu-timeout <D>",
      "--register-timeout <D>",
      "--metrics-port <PORT>",
      "--keep-alive",
      "--procfs <DIR>",
      "--json <FILE>",
    ])
      assert.ok(o.stdout.includes(opt), `mentions ${opt}`);
    assert.doesNotMatch(o.stdout, /--engine|--nemesis/, "no engine to choose, no chaos");
    assert.match(o.stdout, /4 degraded \(a CPU process died/);
    assert.match(o.stdout, /curl -X POST localhost:9100\/control\/offline/);
  });

  test("run --help: the engines, the live options and the exit codes", async () => {
    const o = await inProcess(["run", "--help"]);
    for (const opt of ["--engine <NAME>", "--transport <KIND>", "--cpu-timeout <D>", "--pace <F>", "--metrics-port <PORT>", "--keep-alive", "--procfs <DIR>", "--verbose"])
      assert.ok(o.stdout.includes(opt), `mentions ${opt}`);
    assert.match(o.stdout, /default: "processes"/);
    assert.match(o.stdout, /4 degraded .*\n130\/143 interrupted/);
  });
});

describe("bad input to coordinator and cpu: one line, exit 2", () => {
  test("cpu: a bad endpoint, an id out of range, no --coordinator", async () => {
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "localhost:5555"])), /--coordinator localhost:5555: expected tcp:\/\/HOST:PORT or ipc:\/\/PATH/);
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--id", "300"])), /--id <N>' argument '300' is invalid/);
    assert.match(usageErrorLine(await inProcess(["cpu"])), /required option '--coordinator <ENDPOINT>' not specified/);
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--advertise", "x"])), /unknown option '--advertise'/);
  });

  test("cpu and coordinator: a timeout out of range (the failure detector's floors, the waits)", async () => {
    const outOfRange = /'(\S+)' is out of range for a timeout: expected 100ms to 24h/;
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--coordinator-timeout", "10ms"])), outOfRange);
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--coordinator-wait", "90000s"])), outOfRange);
    assert.match(usageErrorLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--register-timeout", "1us"])), outOfRange);
    assert.match(usageErrorLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:5555", "--cpu-timeout", "50ms"])), outOfRange);
    assert.match(usageErrorLine(await inProcess(["run", "--cpu-timeout", "90000s"])), outOfRange);
  });

  test("coordinator: no --bind, a bad endpoint, a chaos scenario option", async () => {
    assert.match(usageErrorLine(await inProcess(["coordinator", "--cpus", "2"])), /required option '--bind <ENDPOINT>' not specified/);
    assert.match(usageErrorLine(await inProcess(["coordinator", "--bind", "0.0.0.0:5555"])), /--bind 0\.0\.0\.0:5555: expected tcp:\/\/HOST:PORT/);
    assert.match(usageErrorLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:5555", "--nemesis", "hotplug"])), /unknown option '--nemesis'/);
    assert.match(usageErrorLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:5555", "--keep-alive"])), /--keep-alive: needs --metrics-port/);
  });

  test("coordinator and cpu: a --bind port already taken (real processes)", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const [c, p] = await Promise.all([
        cli(["coordinator", "--bind", `tcp://127.0.0.1:${port}`]),
        cli(["cpu", "--coordinator", "tcp://127.0.0.1:1", "--bind", `tcp://127.0.0.1:${port}`]),
      ]);
      assert.equal(usageErrorLine(c), `softnet-emu: error: --bind tcp://127.0.0.1:${port}: 127.0.0.1:${port} is already in use`);
      assert.equal(usageErrorLine(p), `softnet-emu: error: --bind tcp://127.0.0.1:${port}: 127.0.0.1:${port} is already in use`);
    } finally {
      taken.close();
    }
  });

  test("coordinator and cpu: an ipc path that cannot be bound, a port out of range (real processes)", async () => {
    const [ipc, c, p] = await Promise.all([
      cli(["cpu", "--coordinator", "tcp://127.0.0.1:1", "--bind", "ipc:///nonexistent-softnet-emu/cpu0"]),
      cli(["coordinator", "--bind", "tcp://127.0.0.1:99999"]),
      cli(["cpu", "--coordinator", "tcp://127.0.0.1:65536"]),
    ]);
    assert.equal(usageErrorLine(ipc), "softnet-emu: error: --bind ipc:///nonexistent-softnet-emu/cpu0: cannot bind: the socket's directory does not exist (ENOENT)");
    assert.equal(usageErrorLine(c), "softnet-emu: error: --bind tcp://127.0.0.1:99999: port 99999 is out of range (0-65535)");
    assert.equal(usageErrorLine(p), "softnet-emu: error: --coordinator tcp://127.0.0.1:65536: port 65536 is out of range (0-65535)");
  });
});
