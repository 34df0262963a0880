// The command line of `npm run ground-truth`: flags → options, every mistake one GroundTruthUsage
// naming the flag (main.ts prints it as one line and exits 2).
import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { UsageError } from "../../config/errors.ts";
import { checkOutputFile } from "../../report/output-file.ts";
import { GroundTruthUsage } from "./errors.ts";
import { KERNELS, type KernelTarget } from "./kernels.ts";
import { EXTRA_PHASES, HOTPLUG_PHASES, NIC_PHASES, PHASES, selectPhases, type PhaseSelection } from "./phases.ts";

export const DEFAULT_CACHE = join(homedir(), ".cache", "softnet-emu", "ground-truth");

export interface GroundTruthOptions {
  readonly kernels: readonly KernelTarget[];
  readonly phases: PhaseSelection;
  readonly secs: number;
  readonly cache: string;
  /** Output file, or "-" for stdout. */
  readonly out: string;
  /** The hotplug phases' text (hotplug-loopback.txt format), if any are run. */
  readonly hotplugOut: string;
  /** The NIC phases' text (nic-flood.txt format), if any are run. */
  readonly nicOut: string;
  /** Where the CPUs' time went per loopback phase (format.ts TimesSchema). */
  readonly timesOut: string;
}

/** The command line → options; every mistake is a GroundTruthUsage naming the flag. */
export function parseOptions(args: readonly string[]): GroundTruthOptions {
  const program = new Command("ground-truth")
    .description("Boot Debian's kernels under QEMU and measure the loopback phases (fixture format)")
    .option("--kernels <list>", `kernel keys (${KERNELS.map((k) => k.key).join(",")})`, KERNELS.map((k) => k.key).join(","))
    .option("--phases <list>", `phases (${PHASES.map((p) => p.name).join(",")}; beyond the reference's, RPS masks 6, 7, 3: ${EXTRA_PHASES.map((p) => p.name).join(",")}; hotplug: ${HOTPLUG_PHASES.map((p) => p.name).join(",")}; NIC: ${NIC_PHASES.map((p) => p.name).join(",")})`, PHASES.map((p) => p.name).join(","))
    .option("--secs <n>", "seconds of sending per phase (1-600)", "5")
    .option("--cache <dir>", "downloaded packages, unpacked kernels, initramfs, console logs", DEFAULT_CACHE)
    .option("--out <file>", "the JSON (default: <cache>/loopback.json; - for stdout)")
    .option("--hotplug-out <file>", "the hotplug phases' text (default: <cache>/hotplug-loopback.txt)")
    .option("--nic-out <file>", "the NIC phases' text (default: <cache>/nic-flood.txt)")
    .option("--times-out <file>", "where each CPU's time went per loopback phase, JSON (default: <cache>/cpu-times.json)")
    .exitOverride()
    .configureOutput({ writeErr: () => {} })
    .allowExcessArguments(false);
  try {
    program.parse([...args], { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.help") throw e;
      throw new GroundTruthUsage(e.message.replace(/^error: /, ""));
    }
    throw e;
  }
  const o = program.opts<{ kernels: string; phases: string; secs: string; cache: string; out?: string; hotplugOut?: string; nicOut?: string; timesOut?: string }>();
  if (!/^\d+$/.test(o.secs) || Number(o.secs) < 1 || Number(o.secs) > 600) throw new GroundTruthUsage(`--secs: '${o.secs}' is not a whole number of seconds from 1 to 600`);
  const kernels: KernelTarget[] = [];
  for (const k of o.kernels.split(",").map((s) => s.trim())) {
    const t = KERNELS.find((x) => x.key === k);
    if (!t) throw new GroundTruthUsage(`--kernels: unknown kernel '${k}' (known: ${KERNELS.map((x) => x.key).join(",")})`);
    if (kernels.includes(t)) throw new GroundTruthUsage(`--kernels: kernel '${k}' given twice`);
    kernels.push(t);
  }
  const cache = resolve(o.cache);
  if (existsSync(cache) && !statSync(cache).isDirectory()) throw new GroundTruthUsage(`--cache: ${cache} is not a directory`);
  const out = o.out === "-" ? "-" : resolve(o.out ?? join(cache, "loopback.json"));
  const hotplugOut = resolve(o.hotplugOut ?? join(cache, "hotplug-loopback.txt"));
  const timesOut = resolve(o.timesOut ?? join(cache, "cpu-times.json"));
  const nicOut = resolve(o.nicOut ?? join(cache, "nic-flood.txt"));
  // Found out before the boots, not after minutes of them (the project's own check: it creates a file there).
  const checkFile = (flag: string, file: string) => {
    try {
      checkOutputFile(flag, file);
    } catch (e) {
      throw e instanceof UsageError ? new GroundTruthUsage(e.message) : e;
    }
  };
  if (out !== "-" && o.out !== undefined) checkFile("--out", out);
  if (o.hotplugOut !== undefined) checkFile("--hotplug-out", hotplugOut);
  if (o.timesOut !== undefined) checkFile("--times-out", timesOut);
  if (o.nicOut !== undefined) checkFile("--nic-out", nicOut);
  return { kernels, phases: selectPhases(o.phases), secs: Number(o.secs), cache, out, hotplugOut, nicOut, timesOut };
}
