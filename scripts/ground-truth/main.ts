// npm run ground-truth [-- --kernels K,... --phases p1,...,h1,... --secs S --out FILE --hotplug-out FILE --times-out FILE --cache DIR]
// Boots Debian's own kernels under QEMU and measures the loopback phases (phases.ts) in each, writing
// the results in the fixture format (format.ts), and the hotplug phases, if asked for, in the
// reference's hotplug text. Not part of the test suite (a full run takes minutes);
// test/ground-truth/boot.test.ts boots one kernel for one short phase.
// Exit: 0 every boot gave every phase, 1 some boot failed or apt could not give a kernel (the others
// are written), 2 bad input or a missing tool (one line naming it).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CommanderError } from "commander";
import { writeFileAtomic } from "../../report/output-file.ts";
import { GroundTruthUsage, KernelUnavailable } from "./errors.ts";
import { FixtureSchema, TimesSchema, type Fixture, type Times } from "./format.ts";
import { buildHostSender, buildInitramfs, withNicModules } from "./initramfs.ts";
import { aptImageNames, choosePackages, fetchKernel, type UnpackedKernel } from "./kernels.ts";
import { parseOptions, type GroundTruthOptions } from "./options.ts";
import type { PhaseSelection } from "./phases.ts";
import { SMP } from "./qemu.ts";
import { checkTools, runKernel, summaryLines } from "./run.ts";

export async function groundTruth(o: GroundTruthOptions, log: (line: string) => void): Promise<{ fixture: Fixture; times: Times; hotplug: string; nic: string; failed: boolean }> {
  checkTools();
  mkdirSync(join(o.cache, "logs"), { recursive: true });
  // A kernel apt cannot give is reported and skipped; the others are still measured.
  const names = aptImageNames();
  const packages = new Map<string, string>();
  let failed = false;
  for (const t of o.kernels) {
    try {
      packages.set(t.key, choosePackages([t], names).get(t.key)!);
      log(`${t.key}: ${packages.get(t.key)}${t.bootArgs.length ? ` (boot: ${t.bootArgs.join(" ")})` : ""}`);
    } catch (e) {
      if (!(e instanceof KernelUnavailable)) throw e;
      log(`${t.key}: ${e.message}`);
      failed = true;
    }
  }
  const initramfs = buildInitramfs(o.cache, log);
  const hostSender = o.phases.nic.length ? buildHostSender(o.cache) : undefined;
  const fixture: Fixture = { about: "", runs: {} };
  const times: Times = { about: "", runs: {} };
  let hotplug = "";
  let nic = "";
  for (const t of o.kernels) {
    const pkg = packages.get(t.key);
    if (!pkg) continue;
    let kernel: UnpackedKernel;
    try {
      kernel = fetchKernel(pkg, o.cache, log);
    } catch (e) {
      if (!(e instanceof KernelUnavailable)) throw e;
      log(`${t.key}: ${e.message}`);
      failed = true;
      continue;
    }
    // Loopback, hotplug and NIC phases boot separately: a hotplug phase's counters start from its
    // boot, and only the NIC boot has a network device (and its modules).
    const boots: Array<[string, PhaseSelection]> = [];
    if (o.phases.loopback.length) boots.push(["", { loopback: o.phases.loopback, hotplug: [], nic: [] }]);
    if (o.phases.hotplug.length) boots.push(["-hotplug", { loopback: [], hotplug: o.phases.hotplug, nic: [] }]);
    if (o.phases.nic.length) boots.push(["-nic", { loopback: [], hotplug: [], nic: o.phases.nic }]);
    for (const [suffix, sel] of boots) {
      const what = sel.loopback.length ? `${sel.loopback.length} phase(s) of ${o.secs} s` : sel.hotplug.length ? `${sel.hotplug.length} hotplug phase(s) of 6 s` : `${sel.nic.length} NIC phase(s) of ${o.secs} s`;
      log(`booting ${t.key} (${what})`);
      let image = initramfs;
      if (sel.nic.length) {
        try {
          image = withNicModules(initramfs, kernel, o.cache, log);
        } catch (e) {
          log(`${t.key}: ${(e as Error).message}`);
          failed = true;
          continue;
        }
      }
      const run = await runKernel(t, kernel, image, sel, o.secs, log, hostSender);
      const logFile = join(o.cache, "logs", `${t.key}${suffix}.log`);
      writeFileSync(logFile, run.boot.console);
      for (const l of summaryLines(run)) log(l);
      log(`  console: ${logFile}`);
      if (run.errors.length) failed = true;
      if (Object.keys(run.data).length) fixture.runs[t.key] = run.data;
      if (Object.keys(run.times).length) times.runs[t.key] = run.times;
      if (run.hotplug) hotplug += run.hotplug;
      if (run.nic) nic += run.nic;
    }
  }
  const measured = o.kernels.filter((t) => fixture.runs[t.key]);
  fixture.about =
    `Real Linux kernels under QEMU (TCG, ${SMP} vCPUs, 1 GiB), measured by softnet-emu's npm run ground-truth on ${new Date().toISOString().slice(0, 10)}: ` +
    `UDP over loopback from a closed-loop sender pinned to CPU 0 to a receiver on CPU 1. Packages: ` +
    measured.map((t) => `${t.key}=${packages.get(t.key)}${t.bootArgs.length ? `+${t.bootArgs.join("+")}` : ""}`).join(", ") +
    `. Per phase and CPU, deltas of /proc/net/softnet_stat, NET_RX runs and CAL IPIs; see scripts/ground-truth/README.md.`;
  FixtureSchema.parse(fixture);
  times.about =
    `Where each CPU's time went in the loopback phases of the same boots (${new Date().toISOString().slice(0, 10)}): /proc/stat per CPU ` +
    `(10 ms ticks; idle includes the drain after the sender stopped), ksoftirqd's and the sender's schedstat; see scripts/ground-truth/README.md.`;
  TimesSchema.parse(times);
  return { fixture, times, hotplug, nic, failed };
}

/**
 * An output written whole or not at all (its folder created first), and said so. A write that
 * fails (a full disk) is one line and false: the other outputs of the boots are still written.
 */
export function writeOut(file: string, text: string, log: (line: string) => void): boolean {
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileAtomic(file, text);
  } catch (e) {
    log(`ground-truth: could not write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return false;
  }
  log(`wrote ${file}`);
  return true;
}

/** Runs the command; progress and errors go to `log` (stderr), the JSON to --out. Returns the exit code. */
export async function main(args: readonly string[], log: (line: string) => void = (l) => void process.stderr.write(`${l}\n`)): Promise<number> {
  try {
    const o = parseOptions(args);
    const { fixture, times, hotplug, nic, failed } = await groundTruth(o, log);
    let written = true;
    // The fixture first: it is what the boots were for.
    const text = `${JSON.stringify(fixture, null, 1)}\n`;
    if (Object.keys(fixture.runs).length === 0) {
      if (o.phases.loopback.length) log(`nothing measured${o.out === "-" ? "" : `: ${o.out} left as it was`}`);
    } else if (o.out === "-") process.stdout.write(text);
    else written = writeOut(o.out, text, log);
    if (hotplug) written = writeOut(o.hotplugOut, hotplug, log) && written;
    if (nic) written = writeOut(o.nicOut, nic, log) && written;
    if (Object.keys(times.runs).length) written = writeOut(o.timesOut, `${JSON.stringify(times, null, 1)}\n`, log) && written;
    return failed || !written ? 1 : 0;
  } catch (e) {
    if (e instanceof CommanderError) return 0; // --help
    if (e instanceof GroundTruthUsage) {
      log(`ground-truth: error: ${e.message}`);
      return 2;
    }
    if (e instanceof KernelUnavailable) {
      log(`ground-truth: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  process.exitCode = await main(process.argv.slice(2));
}
