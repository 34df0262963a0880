// npm run ground-truth [-- --kernels K,... --phases p1,... --secs S --out FILE --cache DIR]
// Boots Debian's own kernels under QEMU and measures the loopback phases (phases.ts) in each, writing
// the results in the fixture format (format.ts). Not part of the test suite (a full run takes minutes);
// test/ground-truth/boot.test.ts boots one kernel for one short phase.
// Exit: 0 every boot gave every phase, 1 some boot failed (the others are written), 2 bad input or a
// missing tool (one line naming it).
import { existsSync, mkdirSync, statSync, writeFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { Command, CommanderError } from "commander";
import { GroundTruthUsage, KernelUnavailable } from "./errors.ts";
import { FixtureSchema, type Fixture, type PhaseData } from "./format.ts";
import { buildInitramfs } from "./initramfs.ts";
import { aptImageNames, choosePackages, fetchKernel, KERNELS, type KernelTarget, type UnpackedKernel } from "./kernels.ts";
import { hotplugText, parseConsole, phaseData, phaseExtras, type ConsoleRecord } from "./parse.ts";
import { HOTPLUG_PHASES, phaseDesc, PHASES, selectPhases, type PhaseSelection } from "./phases.ts";
import { bootKernel, QEMU, SMP, type Boot } from "./qemu.ts";

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
}

/** The command line → options; every mistake is a GroundTruthUsage naming the flag. */
export function parseOptions(args: readonly string[]): GroundTruthOptions {
  const program = new Command("ground-truth")
    .description("Boot Debian's kernels under QEMU and measure the loopback phases (fixture format)")
    .option("--kernels <list>", `kernel keys (${KERNELS.map((k) => k.key).join(",")})`, KERNELS.map((k) => k.key).join(","))
    .option("--phases <list>", `phases (${PHASES.map((p) => p.name).join(",")}; hotplug: ${HOTPLUG_PHASES.map((p) => p.name).join(",")})`, PHASES.map((p) => p.name).join(","))
    .option("--secs <n>", "seconds of sending per phase (1-600)", "5")
    .option("--cache <dir>", "downloaded packages, unpacked kernels, initramfs, console logs", DEFAULT_CACHE)
    .option("--out <file>", "the JSON (default: <cache>/loopback.json; - for stdout)")
    .option("--hotplug-out <file>", "the hotplug phases' text (default: <cache>/hotplug-loopback.txt)")
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
  const o = program.opts<{ kernels: string; phases: string; secs: string; cache: string; out?: string; hotplugOut?: string }>();
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
  const checkFile = (flag: string, file: string) => {
    const dir = dirname(file);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new GroundTruthUsage(`${flag}: folder ${dir} does not exist`);
    if (existsSync(file) && statSync(file).isDirectory()) throw new GroundTruthUsage(`${flag}: ${file} is a directory`);
  };
  if (out !== "-" && o.out !== undefined) checkFile("--out", out);
  if (o.hotplugOut !== undefined) checkFile("--hotplug-out", hotplugOut);
  return { kernels, phases: selectPhases(o.phases), secs: Number(o.secs), cache, out, hotplugOut };
}

const TOOLS: ReadonlyArray<readonly [string, string]> = [
  [QEMU, "qemu-system-x86"],
  ["gcc", "gcc"],
  ["cpio", "cpio"],
  ["apt-get", "apt"],
  ["apt-cache", "apt"],
  ["dpkg-deb", "dpkg"],
];

function onPath(tool: string): boolean {
  return (process.env.PATH ?? "").split(delimiter).some((d) => d && existsSync(join(d, tool)));
}

/** The host tools the script runs; a missing one is named with its Debian package. */
export function checkTools(): void {
  for (const [tool, pkg] of TOOLS) if (!onPath(tool)) throw new GroundTruthUsage(`${tool} not found: install Debian's ${pkg} (.ci/setup does)`);
}

export interface KernelRun {
  readonly target: KernelTarget;
  readonly kernel: UnpackedKernel;
  readonly boot: Boot;
  readonly record: ConsoleRecord;
  /** The loopback phases the console gave whole, in the fixture format. */
  readonly data: Record<string, PhaseData>;
  /** The hotplug phases in hotplug-loopback.txt's format, when they were asked for and are whole. */
  readonly hotplug?: string;
  /** Why a phase is missing, or the boot failed. */
  readonly errors: string[];
}

/** Boot one kernel with the phases and read its console. */
export async function runKernel(
  target: KernelTarget,
  kernel: UnpackedKernel,
  initramfs: string,
  sel: PhaseSelection,
  secs: number,
  log: (line: string) => void = () => {},
): Promise<KernelRun> {
  const phases = sel.loopback;
  const boot = await bootKernel({ vmlinuz: kernel.vmlinuz, initramfs, bootArgs: target.bootArgs, phases, secs, hotplug: sel.hotplug, onLine: (l) => log(`  [${target.key}] ${l}`) });
  const errors: string[] = [];
  let record: ConsoleRecord = { phases: new Map(), done: false, warnings: [] };
  try {
    record = parseConsole(boot.console);
  } catch (e) {
    errors.push((e as Error).message);
  }
  if (boot.timedOut) errors.push(`QEMU killed after ${Math.round(boot.wallMs / 1000)} s (liveness limit): the guest never finished`);
  else if (!record.done) errors.push(`the guest stopped before its last phase (QEMU exit ${boot.exitCode}); see the console log`);
  if (record.cpus !== undefined && record.cpus !== SMP) errors.push(`the guest saw ${record.cpus} CPUs, not ${SMP}`);
  const data: Record<string, PhaseData> = {};
  for (const p of phases) {
    const cp = record.phases.get(p.name);
    if (!cp) {
      errors.push(`phase ${p.name}: not in the console`);
      continue;
    }
    try {
      data[p.name] = phaseData(cp, phaseDesc(p, secs));
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  let hotplug: string | undefined;
  if (sel.hotplug.length) {
    try {
      hotplug = hotplugText(target.key, sel.hotplug, record);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return { target, kernel, boot, record, data, hotplug, errors };
}

function summaryLines(run: KernelRun): string[] {
  const lines = [`${run.target.key}: ${run.kernel.pkg}, host wall ${(run.boot.wallMs / 1000).toFixed(1)} s`];
  for (const [name, d] of Object.entries(run.data)) {
    const x = phaseExtras(run.record.phases.get(name)!);
    const cpus = Object.entries(d.cpus).map(([c, r]) => `cpu${c} proc=${r.proc} drop=${r.drop} rrps=${r.rrps} netrx=${r.netrx} fl=${r.fl}`);
    lines.push(`  ${name} sent=${d.sent} rate=${d.rate} received=${x.received ?? "?"} rcvbuf_errors=${x.rcvbufErrors ?? "?"} dmesg_warnings=${x.dmesgWarnings} | ${cpus.join(" | ")}`);
  }
  if (Object.keys(run.data).length) lines.push(`  sender rate (pps): ${Object.entries(run.data).map(([n, d]) => `${n} ${d.rate}`).join(", ")}`);
  if (run.hotplug) lines.push(...run.hotplug.trimEnd().split("\n").map((l) => `  ${l}`));
  for (const w of run.record.warnings) lines.push(`  guest: ${w}`);
  for (const e of run.errors) lines.push(`  error: ${e}`);
  return lines;
}

export async function groundTruth(o: GroundTruthOptions, log: (line: string) => void): Promise<{ fixture: Fixture; hotplug: string; failed: boolean }> {
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
  const fixture: Fixture = { about: "", runs: {} };
  let hotplug = "";
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
    // Loopback and hotplug phases boot separately: a hotplug phase's counters start from its boot.
    const boots: Array<[string, PhaseSelection]> = [];
    if (o.phases.loopback.length) boots.push(["", { loopback: o.phases.loopback, hotplug: [] }]);
    if (o.phases.hotplug.length) boots.push(["-hotplug", { loopback: [], hotplug: o.phases.hotplug }]);
    for (const [suffix, sel] of boots) {
      log(`booting ${t.key} (${sel.loopback.length ? `${sel.loopback.length} phase(s) of ${o.secs} s` : `${sel.hotplug.length} hotplug phase(s) of 6 s`})`);
      const run = await runKernel(t, kernel, initramfs, sel, o.secs, log);
      const logFile = join(o.cache, "logs", `${t.key}${suffix}.log`);
      writeFileSync(logFile, run.boot.console);
      for (const l of summaryLines(run)) log(l);
      log(`  console: ${logFile}`);
      if (run.errors.length) failed = true;
      if (Object.keys(run.data).length) fixture.runs[t.key] = run.data;
      if (run.hotplug) hotplug += run.hotplug;
    }
  }
  const measured = o.kernels.filter((t) => fixture.runs[t.key]);
  fixture.about =
    `Real Linux kernels under QEMU (TCG, ${SMP} vCPUs, 1 GiB), measured by softnet-emu's npm run ground-truth on ${new Date().toISOString().slice(0, 10)}: ` +
    `UDP over loopback from a closed-loop sender pinned to CPU 0 to a receiver on CPU 1. Packages: ` +
    measured.map((t) => `${t.key}=${packages.get(t.key)}${t.bootArgs.length ? `+${t.bootArgs.join("+")}` : ""}`).join(", ") +
    `. Per phase and CPU, deltas of /proc/net/softnet_stat, NET_RX runs and CAL IPIs; see scripts/ground-truth/README.md.`;
  FixtureSchema.parse(fixture);
  return { fixture, hotplug, failed };
}

export async function main(args: readonly string[]): Promise<number> {
  const log = (l: string) => void process.stderr.write(`${l}\n`);
  try {
    const o = parseOptions(args);
    const { fixture, hotplug, failed } = await groundTruth(o, log);
    if (hotplug) {
      mkdirSync(dirname(o.hotplugOut), { recursive: true });
      writeFileSync(`${o.hotplugOut}.tmp`, hotplug);
      renameSync(`${o.hotplugOut}.tmp`, o.hotplugOut);
      log(`wrote ${o.hotplugOut}`);
    }
    const text = `${JSON.stringify(fixture, null, 1)}\n`;
    if (Object.keys(fixture.runs).length === 0) {
      if (o.phases.loopback.length) log(`nothing measured${o.out === "-" ? "" : `: ${o.out} left as it was`}`);
    } else if (o.out === "-") process.stdout.write(text);
    else {
      mkdirSync(dirname(o.out), { recursive: true });
      writeFileSync(`${o.out}.tmp`, text);
      renameSync(`${o.out}.tmp`, o.out);
      log(`wrote ${o.out}`);
    }
    return failed ? 1 : 0;
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
