// The command line as users meet it: real `node bin/softnet-emu.js` processes. Bad input is one
// line on stderr naming the problem, exit code 2, never a stack trace.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli, type CliIo } from "../../cli/main.ts";

const ROOT = join(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin/softnet-emu.js");

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function buffers(): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: "", stderr: "", outIsTTY: false, errIsTTY: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) };
  return io;
}

async function inProcess(args: string[]): Promise<Outcome> {
  const io = buffers();
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

function assertUsageError(o: Outcome, pattern: RegExp): void {
  assert.equal(o.code, 2, `exit code 2 (stderr: ${o.stderr})`);
  assert.equal(o.stdout, "", "nothing on stdout");
  const lines = o.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `one line on stderr, got: ${o.stderr}`);
  assert.doesNotMatch(o.stderr, /\n\s+at |Error:|node:internal/, "no stack trace");
  assert.match(lines[0] ?? "", /^softnet-emu: error: /);
  assert.match(lines[0] ?? "", pattern);
}

describe("bad input from a real process: exit 2, one line, no stack trace", { concurrency: 3 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "softnet-emu-cli-"));
  const badScenario = join(dir, "negative-rate.yaml");
  writeFileSync(badScenario, "queues: [{irq_affinity: 1}]\nload:\n  - source: nic:0\n    rate: {pps: -5}\n");
  const malformed = join(dir, "malformed.yaml");
  writeFileSync(malformed, "cpus: [4\n");

  const cases: [string, string[], RegExp][] = [
    ["zero CPUs", ["run", "--cpus", "0"], /option '--cpus <N>' argument '0' is invalid\. 0 is too small: must be >= 1/],
    ["a bad mask", ["run", "--rps-cpus", "xyz"], /--rps-cpus <HEXMASK>' argument 'xyz' is invalid\. 'xyz' is not a hex CPU mask/],
    ["a mask beyond the CPUs", ["run", "--cpus", "2", "--rps-cpus", "e"], /--rps-cpus: CPU mask 'e' sets CPU 2, but the host has only 2 CPUs/],
    ["a CPU out of range", ["run", "--offline", "9@1ms"], /--offline 9@1ms: CPU 9 is out of range: the host has 4 CPUs/],
    ["a negative rate", ["run", "--rate=-5"], /--rate <PPS\|max>' argument '-5' is invalid\. rate -5 is negative/],
    ["--rate max with a number", ["run", "--load", "loopback", "--rate", "1e5", "--rate", "max"], /--rate <PPS\|max>' argument 'max' is invalid\. max \(a closed loop\) and a number of packets per second \(100000\) do not go together/],
    ["--stalls with a max below the mean", ["run", "--stalls", "every=20ms,mean=2ms,max=1ms"], /--stalls: max: 1ms is below the mean \(2ms\)/],
    ["--stalls with an unknown key", ["run", "--stalls", "often=1"], /--stalls <SPEC>' argument 'often=1' is invalid\. unknown key 'often' \(known: every, mean, max, cpus, in_softirq\)/],
    ["--stalls not KEY=VALUE", ["run", "--stalls", "20ms"], /--stalls <SPEC>' argument '20ms' is invalid\. '20ms' is not KEY=VALUE/],
    ["--receiver on a CPU that does not exist", ["run", "--receiver", "cpu=9"], /--receiver: cpu: CPU 9 does not exist: the host has 4 CPUs/],
    ["--receiver on a CPU going offline", ["run", "--receiver", "cpu=2", "--offline", "2@1ms"], /--receiver: cpu: CPU 2 goes offline at 1ms \(--offline 2@1ms\)/],
    ["--receiver with a bad rmem", ["run", "--receiver", "cpu=1,rmem=lots"], /--receiver <SPEC>' argument 'cpu=1,rmem=lots' is invalid\. rmem: expected bytes/],
    ["--rate max on a NIC queue", ["run", "--rate", "max"], /--rate max: NIC queue 0 is fed by the wire, not by a sender on a CPU; max applies to loopback senders only/],
    ["a duration without a unit", ["run", "--duration", "50"], /'50' is not a duration/],
    ["an unknown profile", ["run", "--profile", "5.10"], /unknown profile '5\.10' \(known: 6\.6, 6\.6-patched/],
    ["an unknown option", ["run", "--flow", "3"], /unknown option '--flow' \(Did you mean --flows\?\)/],
    ["an unknown sysctl", ["run", "--sysctl", "net.core.somaxconn=5"], /unknown sysctl 'net\.core\.somaxconn'; known: net\.core\.netdev_max_backlog/],
    ["an unknown boot argument", ["run", "--boot", "isolcpus=1"], /--boot isolcpus=1: unknown boot argument/],
    ["a missing scenario file", ["run", "--scenario", "no/such.yaml"], /no\/such\.yaml: cannot read scenario: no such file/],
    ["a bad scenario field", ["run", "--scenario", badScenario], /negative-rate\.yaml: load\[0\]\.rate\.pps: must be >= 0 \(line 4\)/],
    ["malformed YAML", ["run", "--scenario", malformed], /malformed\.yaml:\d+:\d+: malformed YAML/],
    ["an unknown engine", ["run", "--engine", "gpu"], /argument 'gpu' is invalid\. Allowed choices are inprocess, processes/],
    ["an unknown command", ["simulate"], /unknown command 'simulate'/],
    ["no command", [], /no command given/],
  ];
  // Node start-up costs ~0.5 s: a few real processes, the rest through runCli (the same code).
  const SPAWNED = new Set(["zero CPUs", "a bad mask", "a CPU out of range", "a negative rate", "an unknown profile", "a bad scenario field"]);
  for (const [name, args, pattern] of cases)
    test(`${name}${SPAWNED.has(name) ? " (process)" : ""}`, async () => assertUsageError(SPAWNED.has(name) ? await cli(args) : await inProcess(args), pattern));
});

describe("help", () => {
  test("softnet-emu run --help lists every run option, with examples", async () => {
    const o = await cli(["run", "--help"]);
    assert.equal(o.code, 0);
    assert.equal(o.stderr, "");
    for (const opt of [
      "--scenario <FILE>",
      "--profile <NAME>",
      "--cpus <N>",
      "--seed <N>",
      "--duration <D>",
      "--rate <PPS|max>",
      "--flows <N>",
      "--rps-cpus <HEXMASK>",
      "--load <KIND>",
      "--offline <CPU@TIME>",
      "--online <CPU@TIME>",
      "--window <D>",
      "--sysctl <KEY=VALUE>",
      "--boot <ARG>",
      "--engine <NAME>",
      "--json <FILE>",
      "--series-interval <D>",
      "--quiet",
    ])
      assert.ok(o.stdout.includes(opt), `help mentions ${opt}`);
    assert.match(o.stdout, /Examples:\n {2}\$ softnet-emu run\n/);
    assert.match(o.stdout, /6\.6-patched-threads/, "profiles are listed");
    assert.match(o.stdout, /net\.core\.netdev_max_backlog/, "sysctls are listed");
  });

  test("softnet-emu --help names the run command and shows examples", async () => {
    const io = buffers();
    assert.equal(await runCli(["--help"], io), 0);
    assert.match(io.stdout, /Usage: softnet-emu/);
    assert.match(io.stdout, /run \[options\]/);
    assert.match(io.stdout, /Examples:/);
  });

  test("--version prints the package version", async () => {
    const io = buffers();
    assert.equal(await runCli(["--version"], io), 0);
    assert.match(io.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  test("usage errors in process: exit 2 and one line", async () => {
    const io = buffers();
    assert.equal(await runCli(["run", "--window", "0ns"], io), 2);
    assert.equal(io.stderr, "softnet-emu: error: option '--window <D>' argument '0ns' is invalid. must be > 0\n");
  });

  test("--json into a missing directory fails before the run", async () => {
    const io = buffers();
    assert.equal(await runCli(["run", "--json", "/nonexistent-dir/r.json"], io), 2);
    assert.match(io.stderr, /--json \/nonexistent-dir\/r\.json: directory '\/nonexistent-dir' does not exist/);
  });
});
