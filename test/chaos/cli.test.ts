// `softnet-emu run --nemesis ...` as users meet it: one-line errors (exit 2), faults and stalls in
// the JSON, the same JSON for the same seed and flags, and a failed run's reproduce line that
// really reproduces it.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli, type CliIo } from "../../cli/main.ts";
import type { RunResults } from "../../model/results.ts";
import { waitFor } from "../cli/spawn.ts";

const ROOT = join(import.meta.dirname, "../..");

/** The CLI in this process; `io` shows its output as it comes (a live run yields to the event loop). */
function start(args: string[]) {
  const io = { stdout: "", stderr: "", outIsTTY: false, errIsTTY: false } as CliIo & { stdout: string; stderr: string };
  io.out = (t) => void (io.stdout += t);
  io.err = (t) => void (io.stderr += t);
  const done = runCli(args, io).then((code) => ({ code, stdout: io.stdout, stderr: io.stderr }));
  return { io, done };
}

const cli = (args: string[]) => start(args).done;

/** A sample's value in exposition text, e.g. sample(text, "softnet_emu_virtual_time_seconds"). */
function sample(metrics: string, name: string, labels = ""): number | undefined {
  const m = new RegExp(`^${name}\\{${labels}[^}]*\\} (\\S+)$`, "m").exec(metrics);
  return m ? Number(m[1]) : undefined;
}

/** Split a reproduce line's command as a POSIX shell would (single quotes only, as we print them). */
function shellWords(cmd: string): string[] {
  return [...cmd.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]!));
}

describe("softnet-emu run --nemesis", () => {
  test("bad nemesis input: one line naming it, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--nemesis", "quake"], /unknown nemesis kind 'quake' \(known: hotplug, irq-affinity, rps, sysctl, burst, irq-off, ipi-delay, kill, pause\)/],
      [["--nemesis", "hotplug:every=1ms"], /unknown key 'every' for hotplug \(known: interval, dwell, min_online, cpu_mask\)/],
      [["--nemesis", "hotplug:interval=-1ms"], /interval: duration '-1ms' is negative/],
      [["--nemesis", "hotplug:min_online=5"], /--nemesis hotplug:min_online=5: min_online 5 is larger than the CPU count/],
      [["--nemesis", "pause:cpu=1"], /--nemesis pause:cpu=1: pause acts on CPU processes: it needs --engine processes/],
      [["--duration", "5ms", "--chaos-duration", "5ms"], /--chaos-duration: give it or --duration, not both/],
      [["--drain-limit", "0ms"], /--drain-limit.*must be > 0/],
    ];
    for (const [flags, re] of cases) {
      const o = await cli(["run", "--quiet", ...flags]);
      assert.equal(o.code, 2, `${flags.join(" ")}: ${o.stderr}`);
      assert.match(o.stderr, re);
      assert.equal(o.stderr.split("\n").filter(Boolean).length, 1, o.stderr);
    }
  });

  test("a real process: no stack trace, exit 2", async () => {
    const o = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [join(ROOT, "bin/softnet-emu.js"), "run", "--cpus", "2", "--nemesis", "hotplug:min_online=3"], (err, _out, stderr) =>
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stderr }),
      ),
    );
    assert.equal(o.code, 2);
    assert.equal(o.stderr, "softnet-emu: error: --nemesis hotplug:min_online=3: min_online 3 is larger than the CPU count (the host has 2 CPUs (CPUs 0-1))\n");
  });

  test("the JSON has faults[], checker.stalls and the chaos phases; same seed and flags, same JSON", async () => {
    const args = ["run", "--json", "-", "--chaos-duration", "10ms", "--seed", "9", "--nemesis", "hotplug:interval=1ms", "--nemesis", "irq-off", "--nemesis", "burst:interval=2ms"];
    const [a, b] = [await cli(args), await cli(args)];
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.stdout, a.stdout);
    const r = JSON.parse(a.stdout) as RunResults;
    assert.ok(r.chaos!.drained_at_ns! > 10_000_000 && r.chaos!.drained_at_ns! < 30_000_000, "drained after the heal, within the limit");
    assert.equal(r.virtual_ns, r.chaos!.drained_at_ns, "the run ends once drained");
    assert.deepEqual(r.checker.stalls, []);
    assert.equal(r.checker.ok, true);
    assert.ok(r.faults!.length > 10);
    for (const f of r.faults!) assert.deepEqual(Object.keys(f), ["at_ns", "kind", "target", "params", "nemesis"]);
    assert.ok(r.faults!.some((f) => f.nemesis === "heal" && f.kind === "rate" && f.at_ns === 10_000_000));
    assert.deepEqual(r.chaos!.nemeses, [
      "hotplug:interval=1ms,dwell=1ms,min_online=1,cpu_mask=f",
      "irq-off:interval=5ms,duration=500us,cpu_mask=f",
      "burst:interval=2ms,duration=1ms,factor=4,hot_share=0.5",
    ]);
    assert.equal(r.chaos!.chaos_ns, 10_000_000);
  });

  test("the scenario's nemesis: section means the same as the flags; the summary names faults and stalls", async () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-chaos-"));
    const file = join(dir, "chaos.yaml");
    writeFileSync(file, "duration: 10ms\nseed: 9\nnemesis:\n  - hotplug:interval=1ms\n  - { kind: irq-off }\n  - kind: burst\n    interval: 2ms\n");
    const viaFile = await cli(["run", "--json", "-", "--scenario", file]);
    const viaFlags = await cli(["run", "--json", "-", "--chaos-duration", "10ms", "--seed", "9", "--nemesis", "hotplug:interval=1ms", "--nemesis", "irq-off", "--nemesis", "burst:interval=2ms"]);
    assert.equal(viaFile.code, 0, viaFile.stderr);
    assert.equal(viaFile.stdout, viaFlags.stdout);
    const text = await cli(["run", "--scenario", file]);
    assert.match(text.stdout, /\n\nchaos: hotplug:interval=1ms,dwell=1ms,min_online=1,cpu_mask=f irq-off:\S+ burst:\S+\n/);
    assert.match(text.stdout, /\nfaults: (\w+ \d+, )*offline \d+.*; heal at 10ms, drained at [\d.]+ms; stalls \(no progress for 5ms\): none\n/);
  });

  test("a failed chaos run prints one line that reproduces it, seed pinned", async () => {
    const first = await cli(["run", "--profile", "threads-without-patch1", "--rate", "20000", "--chaos-duration", "12ms", "--nemesis", "sysctl:interval=3ms", "--json", "-", "--seed", "5"]);
    assert.equal(first.code, 1);
    const lines = first.stderr.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, first.stderr);
    const m = /^softnet-emu: checker: (\d+) violation\(s\) with seed 5; reproduce: (softnet-emu run .*)$/.exec(lines[0]!);
    assert.ok(m, lines[0]);
    const cmd = shellWords(m[2]!);
    assert.deepEqual(cmd.slice(-2), ["--seed", "5"]);
    const r = JSON.parse(first.stdout) as RunResults;
    assert.ok(r.checker.stalls!.length > 0, "the lost wake-up stalls a backlog");
    assert.equal(Number(m[1]), r.checker.violations.length);
    const again = await cli(cmd.slice(1));
    assert.equal(again.code, 1);
    assert.equal(again.stdout, first.stdout, "the same run, byte for byte");
  });

  test("watched live: /metrics with fault metrics and softnet_stat during a paced run, the control API reports only, the same JSON", { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-chaos-live-"));
    const flags = ["--chaos-duration", "20ms", "--seed", "3", "--nemesis", "hotplug:interval=2ms,dwell=3ms", "--nemesis", "sysctl:interval=4ms,dwell=3ms,min=4,max=64"];
    // 0.02 virtual s per wall s: the chaos phase takes about a second to watch.
    const run = start(["run", ...flags, "--pace", "0.02", "--metrics-port", "0", "--procfs", join(dir, "proc"), "--json", join(dir, "r.json"), "--quiet"]);
    const url = (await waitFor("the metrics URL", () => /metrics and control API at (http:\/\/127\.0\.0\.1:\d+) /.exec(run.io.stderr)?.[1]))!;
    const mid = await waitFor("/metrics mid-run", async () => {
      const t = await (await fetch(`${url}/metrics`)).text();
      const v = sample(t, "softnet_emu_virtual_time_seconds");
      return v !== undefined && v > 0 && v < 0.015 ? t : undefined;
    });
    assert.ok(sample(mid, "softnet_emu_processed_total", 'cpu="1"')! > 0);
    assert.ok(existsSync(join(dir, "proc/net/softnet_stat")), "softnet_stat written during the run");
    const status = (await (await fetch(`${url}/control/status`)).json()) as { engine: string; phase: string };
    assert.deepEqual([status.engine, status.phase], ["inprocess", "running"]);
    for (const [action, body] of [["offline", { cpu: 1 }], ["rate", { source: 0, pps: 1 }], ["stop", {}]] as const) {
      const r = await fetch(`${url}/control/${action}`, { method: "POST", body: JSON.stringify(body) });
      assert.equal(r.status, 409, action);
      assert.match(((await r.json()) as { error: string }).error, /a chaos run takes no commands/);
    }
    // Scrapes all along the run, judged against the results' faults[] once it is over.
    const scrapes = [mid];
    let over = false;
    const ended = run.done.finally(() => (over = true));
    while (!over) {
      const t = await fetch(`${url}/metrics`).then((r) => r.text(), () => undefined);
      if (t) scrapes.push(t);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    const o = await ended;
    assert.equal(o.code, 0, o.stderr);
    const plain = await cli(["run", ...flags, "--json", "-"]);
    const watched = readFileSync(join(dir, "r.json"), "utf8");
    assert.equal(watched, plain.stdout, "watching and pacing change nothing in the results");
    const r = JSON.parse(watched) as RunResults;
    assert.equal(r.virtual_ns, r.chaos!.drained_at_ns, "the early stop once drained, as unwatched");
    assert.equal(readFileSync(join(dir, "proc/net/softnet_stat"), "utf8"), r.softnet_stat);
    await assert.rejects(fetch(`${url}/metrics`), "no --keep-alive: the port is closed");

    const totals = new Set<number>();
    let hotplugActive = 0;
    for (const t of scrapes) {
      const v = Math.round(sample(t, "softnet_emu_virtual_time_seconds")! * 1e9);
      const before = r.faults!.filter((f) => f.at_ns < v);
      for (const kind of ["hotplug", "sysctl", "heal"])
        assert.equal(sample(t, "softnet_emu_faults_total", `kind="${kind}"`), before.filter((f) => f.nemesis === kind).length, `${kind} at ${v} ns`);
      totals.add(before.length);
      // A CPU is in a hotplug window from the nemesis's offline until the next online (its own or the heal's).
      for (let cpu = 0; cpu < 4; cpu++) {
        const last = before.filter((f) => f.target === `cpu ${cpu}` && (f.kind === "offline" || f.kind === "online")).at(-1);
        const active = sample(t, "softnet_emu_fault_active", `kind="hotplug",target="cpu ${cpu}"`);
        assert.equal(active, last === undefined ? undefined : last.kind === "offline" ? 1 : 0, `cpu ${cpu} at ${v} ns`);
        if (active === 1) hotplugActive++;
      }
    }
    assert.ok(totals.size >= 3, `the fault counts grew while we watched (${[...totals].join(", ")})`);
    assert.ok(hotplugActive > 0, "a hotplug window seen in effect");
  });

  test("processes: the coordinator's virtual time drives the fault metrics; a kill counts once it hit", { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-chaos-live-"));
    const args = ["run", "--engine", "processes", "--chaos-duration", "20ms", "--pace", "0.02", "--nemesis", "kill:at=5ms,cpu=3", "--nemesis", "irq-off:interval=2ms,duration=1ms"];
    const run = start([...args, "--metrics-port", "0", "--json", join(dir, "r.json"), "--quiet"]);
    const url = (await waitFor("the metrics URL", () => /metrics and control API at (http:\/\/127\.0\.0\.1:\d+) /.exec(run.io.stderr)?.[1]))!;
    const killed = await waitFor("the kill on /metrics", async () => {
      const t = await (await fetch(`${url}/metrics`)).text();
      return sample(t, "softnet_emu_faults_total", 'kind="kill"') === 1 ? t : undefined;
    });
    assert.ok(sample(killed, "softnet_emu_virtual_time_seconds")! > 0.005, "counted after its virtual time");
    assert.ok(sample(killed, "softnet_emu_faults_total", 'kind="irq-off"')! > 0);
    const o = await run.done;
    assert.equal(o.code, 4, o.stderr);
    const r = JSON.parse(readFileSync(join(dir, "r.json"), "utf8")) as RunResults;
    const kill = r.faults!.find((f) => f.kind === "kill")!;
    assert.ok(Number(kill.params.hit_ns) >= 5_000_000 && Number(kill.params.hit_ns) < sample(killed, "softnet_emu_virtual_time_seconds")! * 1e9);
  });

  test("examples/chaos.yaml: clean on 6.6-patched-threads, caught without patch 1", async () => {
    const file = join(ROOT, "examples/chaos.yaml");
    const ok = await cli(["run", "--quiet", "--scenario", file]);
    assert.equal(ok.code, 0, ok.stderr);
    const caught = await cli(["run", "--quiet", "--scenario", file, "--profile", "threads-without-patch1", "--rate", "20000"]);
    assert.equal(caught.code, 1);
    assert.match(caught.stderr, /reproduce: softnet-emu run --quiet --scenario \S+examples\/chaos\.yaml --profile threads-without-patch1 --rate 20000 --seed 1\n$/);
  });
});
