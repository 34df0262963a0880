// The golden test (issue 13): the results JSON of a set of scenarios — every kernel profile, the NIC
// and loopback, hotplug, chaos, stalls, a shared host and a receiving task, the experiment commands — pinned byte for
// byte, through the real CLI and on both engines. A refactor that changes one byte of any of them
// changes behaviour; a change that means to must update the pins (`npm run golden:update`) and say
// why in its commit.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cli } from "../cli/spawn.ts";

const PINS = join(import.meta.dirname, "pins");
const UPDATE = process.env.GOLDEN_UPDATE === "1";

interface Case {
  name: string;
  args: string[];
  /** The experiment commands run on one engine only. (A process killed by the nemesis is not here: which
   *  packets it held depends on how far it ran before the signal, so its loss is exact but not pinned.) */
  engines: ("inprocess" | "processes")[];
  /** The exit code the run must end with (1: the checker or the liveness judge caught something). */
  code?: number;
}

const BOTH: Case["engines"] = ["inprocess", "processes"];
const run = (name: string, args: string[], extra: Partial<Case> = {}): Case => ({ name, args: ["run", ...args], engines: BOTH, ...extra });

const CASES: Case[] = [
  run("default", ["--duration", "10ms"]),
  run("6.6-nic-rps-f", ["--profile", "6.6", "--rps-cpus", "f", "--duration", "8ms", "--seed", "3"]),
  run("6.6-patched-loopback-rps-e", ["--profile", "6.6-patched", "--load", "loopback", "--rps-cpus", "e", "--duration", "6ms"]),
  run("threads-loopback-rps-f", ["--profile", "6.6-patched-threads", "--load", "loopback", "--rps-cpus", "f", "--duration", "6ms", "--seed", "5"]),
  run("rt-ipi-warning", ["--scenario", "examples/rt-ipi-warning.yaml", "--duration", "8ms"]),
  run("rt-patched-nic", ["--profile", "rt-6.6-patched", "--rps-cpus", "e", "--rate", "800000", "--duration", "6ms"]),
  run("threads-without-patch1-stall", ["--scenario", "examples/threaded-backlog-stall.yaml"], { code: 1 }),
  run("threads-without-local-shortcut", ["--profile", "threads-without-local-shortcut", "--load", "loopback", "--rps-cpus", "0", "--rate", "max", "--duration", "4ms"]),
  run("hotplug-under-load", ["--scenario", "examples/hotplug-under-load.yaml", "--duration", "45ms"]),
  run("hotplug-storm", ["--rps-cpus", "f", "--rate", "600000", "--duration", "8ms", "--offline", "1@1ms", "--online", "1@1400us", "--offline", "0@2ms", "--online", "0@2400us", "--offline", "3@3ms", "--online", "3@3400us", "--offline", "2@4ms", "--online", "2@4400us"]),
  run("small-backlog", ["--scenario", "examples/small-backlog.yaml", "--duration", "10ms"]),
  run("flow-limit", ["--scenario", "examples/flow-limit.yaml", "--duration", "10ms"]),
  run("nic-coalescing", ["--scenario", "examples/nic-rps-e.yaml", "--duration", "10ms"]),
  run("receiver-stalls-rate-max", ["--scenario", "examples/loopback-flood-receiver.yaml", "--duration", "5ms", "--stalls", "every=300us,mean=100us,max=1ms"]),
  run("oversubscribed-host", ["--scenario", "examples/oversubscribed-host.yaml", "--duration", "20ms"]),
  run("chaos", ["--scenario", "examples/chaos.yaml", "--chaos-duration", "20ms"]),
  run("eight-cpus-sysctl", ["--cpus", "8", "--rps-cpus", "fe", "--sysctl", "net.core.netdev_budget=64", "--sysctl", "net.core.netdev_max_backlog=256", "--duration", "5ms", "--seed", "9"]),
  { name: "compare", args: ["compare", "--load", "loopback", "--rps-cpus", "f", "--duration", "3ms", "--profiles", "6.6-patched,6.6-patched-threads,rt-6.6"], engines: ["inprocess"] },
  { name: "sweep", args: ["sweep", "--knob", "rate", "--values", "2e5,1e6", "--rps-cpus", "e", "--duration", "3ms"], engines: ["inprocess"] },
];

/** The JSON a run wrote, minus the one field that names the engine, and for the distributed engine's
 *  chaos runs the number of snapshots the checker saw: they follow the wall clock (how often the CPUs
 *  reported while it ran), so that count is the one figure of a result that is not deterministic. */
function normalise(stdout: string): string {
  const strip = (r: Record<string, unknown>): void => {
    if (r.engine === "processes" && r.chaos) (r.chaos as { checkpoints?: number }).checkpoints = -1;
    delete r.engine;
  };
  const parsed: unknown = JSON.parse(stdout);
  if (Array.isArray(parsed)) for (const r of parsed) strip((r as { result?: Record<string, unknown> }).result ?? (r as Record<string, unknown>));
  else strip(parsed as Record<string, unknown>);
  return JSON.stringify(parsed, null, 1) + "\n";
}

mkdirSync(PINS, { recursive: true });
for (const c of CASES) {
  for (const engine of c.engines) {
    test(`golden: ${c.name} (${engine})`, { timeout: 120_000 }, async () => {
      const out = await cli([...c.args, "--engine", engine, "--json", "-", "--quiet"], 110_000);
      assert.equal(out.code, c.code ?? 0, `exit code of ${c.args.join(" ")}: ${out.stderr}`);
      const got = normalise(out.stdout);
      // One pin for both engines, unless an engine has its own: a chaos run of the distributed engine
      // observes snapshots, not consistent cuts, so it cannot see the drain early and runs to its limit.
      const shared = join(PINS, `${c.name}.json`);
      const own = join(PINS, `${c.name}.${engine}.json`);
      if (UPDATE) {
        if (engine === c.engines[0]) writeFileSync(shared, got);
        else if (got !== readFileSync(shared, "utf8")) writeFileSync(own, got);
      }
      const pin = existsSync(own) ? own : shared;
      assert.ok(existsSync(pin), `no pin for ${c.name}: run npm run golden:update`);
      assert.equal(got, readFileSync(pin, "utf8"), `${c.name} on the ${engine} engine differs from its pin`);
    });
  }
}
