// The console → fixture path of `npm run ground-truth` (scripts/ground-truth), on a console one of its
// boots printed, and the pieces that need no QEMU: phase table, package choice, flags, static ELF check.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { FixtureSchema, TimesSchema } from "../../scripts/ground-truth/format.ts";
import { isStaticElf, BUSYBOX, moduleDepends } from "../../scripts/ground-truth/initramfs.ts";
import { choosePackage, KERNELS } from "../../scripts/ground-truth/kernels.ts";
import { main } from "../../scripts/ground-truth/main.ts";
import { parseOptions } from "../../scripts/ground-truth/options.ts";
import { hotplugText, nicText, parseConsole, phaseData, phaseExtras, phaseTimes } from "../../scripts/ground-truth/parse.ts";
import { HOTPLUG_PHASES, NIC_PHASES, phaseDesc, PHASES, phasesCmdline, selectPhases } from "../../scripts/ground-truth/phases.ts";
import { GroundTruthUsage } from "../../scripts/ground-truth/errors.ts";
import { hostCpuLine, hostSummary, sampleThreads, taskCpuMs, type ThreadSample } from "../../scripts/ground-truth/host-cpu.ts";
import { qemuArgs } from "../../scripts/ground-truth/qemu.ts";
import { guestPanic } from "../../scripts/ground-truth/run.ts";
import { parseHotplug, parseLoopback, parseNicFlood } from "../../validate/reference.ts";

const ROOT = join(import.meta.dirname, "../..");
const CONSOLE = readFileSync(join(import.meta.dirname, "fixtures/console-6.12-p2.txt"), "latin1");
const P2 = PHASES.find((p) => p.name === "p2")!;
const P3 = PHASES.find((p) => p.name === "p3")!;
/** The console's lines without the serial line's carriage returns, for the tests that edit it. */
const LINES = CONSOLE.replace(/\r/g, "").split("\n");

describe("ground-truth console parsing", () => {
  it("reads the boot line, the phase and the end marker through the firmware's escapes", () => {
    const rec = parseConsole(CONSOLE);
    assert.equal(rec.kernel, "6.12.118+deb12-amd64");
    assert.equal(rec.cpus, 4);
    assert.equal(rec.done, true);
    assert.deepEqual([...rec.phases.keys()], ["p2"]);
    const p = rec.phases.get("p2")!;
    assert.match(p.settings!, /^rps_cpus=e flows=64 secs=2 netdev_max_backlog=1000 netdev_budget=300 flow_limit_cpu_bitmap=0$/);
    assert.deepEqual(p.tx, { sent: 73152, errors: 0, elapsedNs: 2001282669 });
    assert.deepEqual(p.rx, { received: 19466 });
  });

  it("knows a guest kernel's crash (booted again) from a console that is whole or merely cut short", () => {
    const panic = readFileSync(join(import.meta.dirname, "fixtures/console-6.12-int3-panic.txt"), "latin1");
    assert.equal(parseConsole(panic).done, false);
    assert.equal(guestPanic(panic, false), "[    3.416860] Oops: int3: 0000 [#2] PREEMPT SMP NOPTI");
    assert.equal(guestPanic(CONSOLE, parseConsole(CONSOLE).done), undefined, "a whole boot");
    const cut = LINES.slice(0, LINES.findIndex((l) => l.includes("p2"))).join("\n");
    assert.equal(guestPanic(cut, parseConsole(cut).done), undefined, "stopped early without a crash: an error, not a retry");
  });

  it("turns the snapshots into per-CPU deltas (values read off the hex by hand)", () => {
    const d = phaseData(parseConsole(CONSOLE).phases.get("p2")!, phaseDesc(P2, 2));
    assert.deepEqual(d.cpus, {
      "0": { proc: 0, drop: 0, sq: 0, rrps: 0, fl: 0, bl: 0, netrx: 8189, cal: 13 },
      "1": { proc: 0x4f82, drop: 0xe41, sq: 13, rrps: 0x605, fl: 0, bl: 0, netrx: 1763, cal: 2118 - 344 },
      "2": { proc: 0x5448, drop: 0xdf2, sq: 12, rrps: 0xda7, fl: 0, bl: 0, netrx: 3711, cal: 3735 - 197 },
      "3": { proc: 0x52e1, drop: 0xae2, sq: 13, rrps: 0xc51, fl: 0, bl: 0, netrx: 3372, cal: 3459 - 306 },
    });
    assert.equal(d.sent, 73152);
    assert.equal(d.rate, Math.round(73152 / 2.001282669));
    // The kernel's own bookkeeping, which the parse must not break: every accepted packet was processed
    // or dropped, and the sender's NET_RX runs are the IPIs the targets received.
    const sum = (f: (r: (typeof d.cpus)[string]) => number) => Object.values(d.cpus).reduce((a, r) => a + f(r), 0);
    assert.equal(sum((r) => r.proc + r.drop + r.bl), d.sent);
    assert.equal(d.cpus["0"]!.netrx, sum((r) => r.rrps));
    // A console from before the script snapshotted /proc/stat: no CPU times, nothing invented.
    assert.deepEqual(phaseExtras(parseConsole(CONSOLE).phases.get("p2")!), { received: 19466, sendErrors: 0, rcvbufErrors: 43681, dmesgWarnings: 0, cpuTime: new Map() });
    FixtureSchema.parse({ about: "t", runs: { "6.12-generic": { p2: d } } });
  });

  it("reads where each CPU's time went: /proc/stat's ticks, ksoftirqd's and the sender's schedstat", () => {
    const p = parseConsole(readFileSync(join(import.meta.dirname, "fixtures/console-6.12-p3-times.txt"), "latin1")).phases.get("p3")!;
    assert.deepEqual(p.tx, { sent: 151872, errors: 0, elapsedNs: 5000333433, cpu: 0, runNs: 5007433788, waitNs: 7011483 });
    const t = phaseExtras(p).cpuTime;
    assert.deepEqual([...t.keys()], [0, 1, 2, 3]);
    // cpu0 after "112 0 1003 477 0 0 540" − before "85 0 836 406 0 0 267", in 10 ms ticks; ksoftirqd/0
    // ran 15397944 − 10150034 ns.
    assert.deepEqual(t.get(0), { user: 270, system: 1670, irq: 0, softirq: 2730, idle: 710, ksoftirqd: 5 });
    assert.deepEqual(t.get(2), { user: 10, system: 340, irq: 0, softirq: 1540, idle: 2990, ksoftirqd: 73 });
    // The sender's CPU was never idle while it sent (idle is the drain after it), and it spent more
    // in softirq than in its own system calls: the four CPUs delivered to one socket (rps_cpus=f).
    const cpu0 = t.get(0)!;
    assert.ok(cpu0.user + cpu0.system + cpu0.softirq >= 0.9 * (p.tx!.elapsedNs / 1e6));
    assert.ok(cpu0.softirq > cpu0.system);
    // The same in --times-out's format, beside the counts they are spent on.
    const times = phaseTimes(p, phaseData(p, phaseDesc(P3, 5)))!;
    TimesSchema.parse({ about: "t", runs: { "6.12-generic": { p3: times } } });
    assert.deepEqual(times.sender, { elapsed_ns: 5000333433, run_ns: 5007433788, wait_ns: 7011483 });
    assert.deepEqual(times.cpus["0"], { user_ms: 270, system_ms: 1670, irq_ms: 0, softirq_ms: 2730, idle_ms: 710, ksoftirqd_ms: 5 });
    assert.equal(times.sent, 151872);
    assert.deepEqual(times.processed, { "0": 42714, "1": 37968, "2": 33222, "3": 37968 });
    assert.equal(times.host, undefined, "this console predates the host's per-vCPU line");
    // A console without CPU times gives none.
    assert.equal(phaseTimes(parseConsole(CONSOLE).phases.get("p2")!, phaseData(parseConsole(CONSOLE).phases.get("p2")!, phaseDesc(P2, 2))), undefined);
  });

  it("reads the host's view of a phase: each vCPU thread's host CPU while the sender ran", () => {
    // A /proc/PID/task/TID/stat line of a QEMU vCPU thread: its comm has a space and a slash, utime
    // and stime are fields 14 and 15 (USER_HZ ticks).
    const stat = (utime: number, stime: number) =>
      `27394 (CPU 0/TCG) R 1 27394 27394 0 -1 4194368 300 0 0 0 ${utime} ${stime} 0 0 20 0 7 0 100 0 0 18446744073709551615`;
    assert.equal(taskCpuMs(stat(420, 80)), 5000);
    assert.throws(() => taskCpuMs("garbage"), /not a \/proc task stat line/);
    const at = (ms: number, cpu: Record<string, number>): ThreadSample => ({ atMs: ms, cpuMs: new Map(Object.entries(cpu)) });
    const before = at(1000, { "qemu-system-x86#1": 50, "CPU 0/TCG#2": 100, "CPU 1/TCG#3": 0, "CPU 2/TCG#4": 0, "CPU 3/TCG#5": 10 });
    // A thread that appeared meanwhile (QEMU's worker) counts from zero.
    const after = at(6020, { "qemu-system-x86#1": 90, "CPU 0/TCG#2": 4900, "CPU 1/TCG#3": 2500, "CPU 2/TCG#4": 1700, "CPU 3/TCG#5": 1790, "worker#9": 30 });
    const line = hostCpuLine(before, after, 4);
    assert.equal(line, "wall_ms=5020 vcpu_ms=4800,2500,1700,1780 other_ms=70");
    // parse.ts takes it from the console (qemu.ts writes it there) into --times-out's record.
    const text = readFileSync(join(import.meta.dirname, "fixtures/console-6.12-p3-times.txt"), "latin1") + `\nGT p3 go\nGT p3 hostcpu ${line}\n`;
    const p = parseConsole(text).phases.get("p3")!;
    assert.deepEqual(p.hostCpu, { wallMs: 5020, vcpuMs: [4800, 2500, 1700, 1780], otherMs: 70 });
    const times = phaseTimes(p, phaseData(p, phaseDesc(P3, 5)))!;
    TimesSchema.parse({ about: "t", runs: { "6.12-generic": { p3: times } } });
    assert.deepEqual(times.host, { wall_ms: 5020, vcpu_ms: [4800, 2500, 1700, 1780], other_ms: 70 });
    // On a real process: this one's threads, each with what it has used so far.
    const self = sampleThreads(process.pid, Date.now());
    assert.ok(self.cpuMs.size >= 1 && [...self.cpuMs.values()].every((ms) => ms >= 0), JSON.stringify([...self.cpuMs]));
  });

  it("prints the host's view per phase, and warns when the host starved the guest", () => {
    // 6.1's #host4 p2: four busy vCPU threads on the 2-core host, 1.87 cores.
    const quiet = { wallMs: 5027, vcpuMs: [3290, 2520, 1820, 1790], otherMs: 90 };
    assert.deepEqual(hostSummary("p2", quiet, 2), ["  p2 host (ms of host CPU): cpu0=3290 cpu1=2520 cpu2=1820 cpu3=1790 qemu-other=90 of 5027 wall: 1.87 cores"]);
    // 6.12's #host5 p1: the host ran the guest on 0.86 cores, busy elsewhere.
    const starved = hostSummary("p1", { wallMs: 5187, vcpuMs: [2630, 1690, 100, 20], otherMs: 130 }, 2);
    assert.equal(starved.length, 2);
    assert.match(starved[1]!, /warning: p1: the guest's vCPU threads got 0\.86 host cores \(under 1\.2\).*not comparable/);
    // On a one-core host two busy vCPUs get one core at most: 0.86 is no starvation there.
    assert.equal(hostSummary("p1", { wallMs: 5187, vcpuMs: [2630, 1690, 100, 20], otherMs: 130 }, 1).length, 1);
    assert.equal(hostSummary("p1", { wallMs: 0, vcpuMs: [0, 0, 0, 0], otherMs: 0 }, 2)[1]?.includes("0.00 host cores"), true);
  });

  it("keys CPUs by softnet_stat's index column, not by row (an offline CPU has no row)", () => {
    // CPU 2 offline: its rows vanish from both snapshots; CPU 3 keeps its own numbers.
    const text = LINES.filter((l) => !/softnet_stat .* 00000002 00000000 00000000$/.test(l)).join("\n");
    const d = phaseData(parseConsole(text).phases.get("p2")!, "x");
    assert.deepEqual(Object.keys(d.cpus), ["0", "1", "3"]);
    assert.equal(d.cpus["3"]!.proc, 0x52e1);
  });

  it("reads 6.1's 13-column softnet_stat and survives a 32-bit counter wrap", () => {
    // Strip 6.12's two extra columns, and start CPU 1's processed count just below 2^32.
    const text = LINES
      .map((l) => l.replace(/^(.*softnet_stat(?: [0-9a-f]{8}){13}) [0-9a-f]{8} [0-9a-f]{8}$/, "$1"))
      .map((l) => l.replace(/(before softnet_stat )00000000( (?:[0-9a-f]{8} ){11}00000001)$/, "$1fffffff0$2"))
      .join("\n");
    assert.ok(/before softnet_stat fffffff0/.test(text), "the wrap edit applied");
    const d = phaseData(parseConsole(text).phases.get("p2")!, "x");
    assert.equal(d.cpus["1"]!.proc, 0x4f82 + 0x10);
    assert.equal(d.cpus["2"]!.proc, 0x5448);
  });

  it("a console cut short names what it lacks", () => {
    const cut = CONSOLE.slice(0, CONSOLE.indexOf("GT p2 after"));
    const rec = parseConsole(cut);
    assert.equal(rec.done, false);
    assert.throws(() => phaseData(rec.phases.get("p2")!, "x"), /phase p2: the console has no 'after' snapshot/);
    assert.deepEqual(parseConsole("GT boot kernel=k cpus=4\nGT p1 tx sent=12x errors=0 elapsed_ns=1\n").malformed, ["line 2: console: p1 tx sent is '12x', not a count"]);
  });

  it("a kernel message cut into a softnet_stat line loses that line, and the phase says so", () => {
    // As the guest's reboot once printed into the middle of a line: the row is unreadable, not misread.
    const text = LINES.map((l) => l.replace(/^(GT p2 after softnet_stat 0000)(5448 .*)$/, "$1[   16.877734] reboot: Restarting system\n$2")).join("\n");
    const rec = parseConsole(text);
    assert.equal(rec.malformed.length, 1);
    assert.match(rec.malformed[0]!, /softnet_stat line '0000\[\s+16\.877734\] reboot.*' is not 13\+ columns of 8 hex digits/);
    assert.throws(() => phaseData(rec.phases.get("p2")!, "x"), /phase p2: softnet_stat has CPUs 0,1,2,3 before and 0,1,3 after \(a line lost\?\)/);
  });

  it("writes what the shipped reference is: its file fits the schema, validate's reader reads ours", () => {
    const shipped = readFileSync(join(ROOT, "validate/reference/loopback.json"), "utf8");
    FixtureSchema.parse(JSON.parse(shipped));
    const d = phaseData(parseConsole(CONSOLE).phases.get("p2")!, phaseDesc(P2, 2));
    const read = parseLoopback(JSON.stringify({ about: "t", runs: { "6.12-generic": { p2: d } } }), "ours.json");
    const p = read["6.12-generic"]!.p2!;
    assert.deepEqual([p.rps, p.flows, p.backlog, p.flowLimit, p.sent, p.rate], ["e", 64, 1000, "0", 73152, d.rate]);
    assert.deepEqual(p.cpus.map((c) => c.proc), [0, 0x4f82, 0x5448, 0x52e1]);
  });

  it("the fixture schema refuses a missing counter, an extra key and a negative count", () => {
    const row = { proc: 1, drop: 0, sq: 0, rrps: 0, fl: 0, bl: 0, netrx: 1, cal: 0 };
    const phase = (r: object) => ({ about: "", runs: { k: { p1: { desc: "d", cpus: { "0": r }, sent: 1, rate: 1 } } } });
    assert.doesNotThrow(() => FixtureSchema.parse(phase(row)));
    const { cal: _cal, ...noCal } = row;
    assert.throws(() => FixtureSchema.parse(phase(noCal)));
    assert.throws(() => FixtureSchema.parse(phase({ ...row, extra: 1 })));
    assert.throws(() => FixtureSchema.parse(phase({ ...row, drop: -1 })));
  });
});

describe("ground-truth hotplug phases", () => {
  const HP = readFileSync(join(import.meta.dirname, "fixtures/console-6.12-hotplug-h1.txt"), "utf8");
  const H1 = HOTPLUG_PHASES.find((h) => h.name === "h1")!;

  it("writes the reference's hotplug-loopback.txt format, which validate's reader reads back", () => {
    const text = hotplugText("6.12-generic", [H1], parseConsole(HP));
    assert.match(text, /^#### 6\.12-generic\.log\n ## h1 rps_cpus=f offline_cpu=2 netdev_max_backlog=1000\n  t0_before_start rel=0\.01  0:0\/0\/0\/0\/0\/0  1:/);
    const h1 = parseHotplug(text, "ours.txt")["6.12-generic"]!.h1!;
    assert.deepEqual([h1.rps, h1.offlineCpu, h1.backlog, h1.sent, h1.received], ["f", 2, 1000, 85888, 50843]);
    // CPU 2's row is absent while it is offline, as the kernel prints softnet_stat; values off the hex.
    const present = Object.fromEntries(Object.entries(h1.steps).map(([s, st]) => [s, st.rows.map((r) => r !== null)]));
    assert.deepEqual(present, {
      t0_before_start: [true, true, true, true],
      imm_before_off: [true, true, true, true],
      imm_after_off: [true, true, false, true],
      off_mid: [true, true, false, true],
      imm_before_on: [true, true, false, true],
      imm_after_on: [true, true, true, true],
      final: [true, true, true, true],
    });
    assert.deepEqual(h1.steps.imm_after_off.rows[1], { proc: 7660, drop: 0, sq: 4, rrps: 212, fl: 0, bl: 78 });
    assert.equal(h1.steps.imm_after_off.rel, 2.81);
    // Counters are cumulative and never go back, across the CPU's absence too.
    const steps = Object.values(h1.steps);
    for (let cpu = 0; cpu < 4; cpu++) {
      const procs = steps.map((st) => st.rows[cpu]?.proc).filter((v): v is number => v !== undefined);
      assert.deepEqual(procs, [...procs].sort((a, b) => a - b), `CPU ${cpu}`);
    }
  });

  it("a hotplug phase without its last step is refused, naming the step", () => {
    const cut = HP.split("\n").filter((l) => !/^GT h1 (step final|final softnet_stat)/.test(l)).join("\n");
    assert.throws(() => hotplugText("k", [H1], parseConsole(cut)), /hotplug h1: no final step/);
  });
});

describe("ground-truth NIC phases", () => {
  const NIC = readFileSync(join(import.meta.dirname, "fixtures/console-6.12-nic-n2.txt"), "utf8");
  const N2 = NIC_PHASES.find((n) => n.name === "n2")!;

  it("writes the reference's nic-flood.txt format, which validate's reader reads back (values off the console by hand)", () => {
    const text = nicText("6.12-generic", "6.12.118+deb12-amd64", [], [N2], 2, parseConsole(NIC));
    assert.match(text, /^=== 6\.12-generic: 6\.12\.118\+deb12-amd64 extra='' phases=e:1000:300 secs=2 flows=64\n## p2: rps_cpus=e netdev_max_backlog=1000 netdev_budget=300 irq=25 affinity=1 receiver_cpu=1 dev=eth0\n {3}HOST sent=315712 send_errors=0 elapsed=2\.001s /);
    const p2 = parseNicFlood(text, "ours.txt")["6.12-generic"]!.p2!;
    assert.deepEqual([p2.rps, p2.backlog, p2.budget, p2.rxPackets, p2.virtioIrqs, p2.seconds], ["e", 1000, 300, 142622 - 63803, 876 - 390, 2.001]);
    // Per CPU: softnet_stat deltas, NET_RX from /proc/softirqs; CPU 0 takes the interrupts, the targets the IPIs.
    assert.deepEqual(p2.cpus[0], { proc: 0, drop: 0, sq: 12, rrps: 0, fl: 0, bl: 0, netrx: 3005 - 1342 });
    assert.deepEqual([p2.cpus[1]!.rrps, p2.cpus[3]!.netrx], [583, 720 - 1]);
    assert.equal(p2.cpus.reduce((s, c) => s + c.proc, 0), p2.rxPackets, "every packet the device took was processed");
    assert.match(text, /\n +1 +23398 +0 +4 +583 +0 +0 +757 +0 +931 +52\n/);
    assert.match(text, /\n {3}guest UDP delta: InDatagrams=59686 RcvbufErrors=19133\n/);
  });

  it("a NIC phase without the host's flood result is refused, naming it", () => {
    const cut = NIC.split("\n").filter((l) => !/^GT n2 host /.test(l)).join("\n");
    assert.throws(() => nicText("k", "r", [], [N2], 2, parseConsole(cut)), /nic n2: the console has no host sender result/);
  });

  it("reads a module's dependencies from its .modinfo strings (the package ships no modules.dep)", () => {
    const ko = (info: string) => Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from(info, "latin1"), Buffer.from([0, 0])]);
    assert.deepEqual(moduleDepends(ko("license=GPL\0depends=virtio_ring,virtio,net_failover\0retpoline=Y")), ["virtio_ring", "virtio", "net_failover"]);
    assert.deepEqual(moduleDepends(ko("license=GPL\0depends=\0intree=Y")), []);
    assert.deepEqual(moduleDepends(ko("license=GPL")), []);
  });

  it("asks QEMU for the reference's NIC: virtio-net on user-mode networking, the host's port forwarded", () => {
    const args = qemuArgs({ vmlinuz: "/k", initramfs: "/i", bootArgs: [], phases: [], secs: 5, nic: { phases: [N2], hostSender: "/s", hostPort: 40000 } });
    assert.deepEqual(args.slice(10, 14), ["-netdev", "user,id=n0,hostfwd=udp:127.0.0.1:40000-:15000", "-device", "virtio-net-pci,netdev=n0"]);
    assert.match(args.at(-1)!, / gt_secs=5 gt_phases= gt_nic=n2:e:1000:300$/);
    assert.deepEqual(selectPhases("n5,p1").nic.map((n) => [n.name, n.textName, n.rpsCpus, n.backlog, n.budget]), [["n5", "p5", "e", 1000, 8]]);
  });
});

describe("ground-truth phases, kernels and flags", () => {
  it("describes a phase in the reference's words and passes the table to the guest", () => {
    assert.equal(phaseDesc(P2, 5), "rps_cpus=e flows=64 secs=5 netdev_max_backlog=1000 flow_limit_cpu_bitmap=0 sender_cpu=0 receiver_cpu=1");
    assert.deepEqual(PHASES.map((p) => [p.name, p.rpsCpus, p.flows, p.backlog, p.flowLimitBitmap]), [
      ["p1", "0", 64, 1000, "0"],
      ["p2", "e", 64, 1000, "0"],
      ["p3", "f", 64, 1000, "0"],
      ["p4", "e", 1, 1000, "0"],
      ["p5", "e", 64, 32, "0"],
      ["p6", "e", 1, 64, "e"],
      ["p7", "e", 1, 64, "1"],
    ]);
    // The extra masks run only when named; the default is the reference's seven.
    assert.deepEqual(selectPhases("p9,p10").loopback.map((p) => [p.name, p.rpsCpus]), [["p9", "7"], ["p10", "3"]]);
    assert.deepEqual(parseOptions([]).phases.loopback.map((p) => p.name), ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    const sel = selectPhases("p7,h3,p1");
    assert.deepEqual([sel.loopback.map((p) => p.name), sel.hotplug.map((h) => h.name)], [["p7", "p1"], ["h3"]]);
    assert.equal(phasesCmdline(sel.loopback, 3), "gt_secs=3 gt_phases=p7:e:1:64:1,p1:0:64:1000:0");
    assert.equal(phasesCmdline([], 3, sel.hotplug), "gt_secs=3 gt_phases= gt_hotplug=h3:e:1:1000");
    const args = qemuArgs({ vmlinuz: "/k", initramfs: "/i", bootArgs: ["thread_backlog_napi"], phases: [P2], secs: 2 });
    assert.deepEqual(args.slice(0, 8), ["-accel", "tcg", "-smp", "4", "-m", "1024", "-nographic", "-no-reboot"]);
    assert.match(args.at(-1)!, /^console=ttyS0 panic=-1 .*thread_backlog_napi gt_secs=2 gt_phases=p2:e:64:1000:0$/);
  });

  it("picks the newest build of each series and flavour, by number, never -dbg, -unsigned or -cloud", () => {
    const names = [
      "linux-image-6.1.0-9-amd64",
      "linux-image-6.1.0-57-amd64",
      "linux-image-6.1.0-57-amd64-dbg",
      "linux-image-6.1.0-58-amd64-unsigned",
      "linux-image-6.1.0-60-cloud-amd64",
      "linux-image-6.1.0-56-rt-amd64",
      "linux-image-6.12.9+deb12-amd64",
      "linux-image-6.12.118+deb12-amd64",
      "linux-image-6.12.117+deb12-rt-amd64",
      "linux-image-6.12-amd64",
    ];
    const pick = (key: string) => choosePackage(names, KERNELS.find((k) => k.key === key)!);
    assert.equal(pick("6.1-generic"), "linux-image-6.1.0-57-amd64");
    assert.equal(pick("6.1-rt"), "linux-image-6.1.0-56-rt-amd64");
    assert.equal(pick("6.12-generic"), "linux-image-6.12.118+deb12-amd64");
    assert.equal(pick("6.12-generic-threaded"), "linux-image-6.12.118+deb12-amd64");
    assert.equal(pick("6.12-rt"), "linux-image-6.12.117+deb12-rt-amd64");
    assert.equal(choosePackage(["linux-image-amd64"], KERNELS[0]!), undefined);
    assert.deepEqual(KERNELS.find((k) => k.key === "6.12-generic-threaded")!.bootArgs, ["thread_backlog_napi"]);
  });

  it("refuses bad flags with one message naming the flag", () => {
    const bad: Array<[string[], RegExp]> = [
      [["--secs", "0"], /^--secs: '0'/],
      [["--secs", "2.5"], /^--secs: '2.5'/],
      [["--phases", "p1,p11"], /^--phases: unknown phase 'p11'/],
      [["--phases", "p1,p1"], /^--phases: phase 'p1' given twice/],
      [["--phases", "h5"], /^--phases: unknown phase 'h5' \(known: p1,p2,p3,p4,p5,p6,p7,p8,p9,p10,h1,h2,h3,h4,n1,n2,n3,n4,n5\)/],
      [["--hotplug-out", "/nonexistent-dir/h.txt"], /^--hotplug-out \/nonexistent-dir\/h.txt: directory '\/nonexistent-dir' does not exist/],
      [["--times-out", "/nonexistent-dir/t.json"], /^--times-out \/nonexistent-dir\/t.json: directory '\/nonexistent-dir' does not exist/],
      [["--times-out", "/tmp"], /^--times-out \/tmp: is a directory/],
      // Not writable, even for root: found before any boot, not when the results are written.
      [["--times-out", "/proc/t.json"], /^--times-out \/proc\/t.json: (cannot create a file in '\/proc'|directory '\/proc' is not writable)/],
      [["--hotplug-out", "/proc/h.txt"], /^--hotplug-out \/proc\/h.txt: (cannot create a file in '\/proc'|directory '\/proc' is not writable)/],
      [["--nic-out", "/proc/n.txt"], /^--nic-out \/proc\/n.txt: (cannot create a file in '\/proc'|directory '\/proc' is not writable)/],
      [["--kernels", "5.10-generic"], /^--kernels: unknown kernel '5.10-generic'/],
      [["--out", "/nonexistent-dir/x.json"], /^--out \/nonexistent-dir\/x.json: directory '\/nonexistent-dir' does not exist/],
      [["--out", "/proc/x.json"], /^--out \/proc\/x.json: (cannot create a file in '\/proc'|directory '\/proc' is not writable)/],
      [["--cache", "/etc/hostname"], /^--cache: \/etc\/hostname is not a directory/],
      [["--bogus"], /unknown option '--bogus'/],
    ];
    for (const [args, re] of bad) assert.throws(() => parseOptions(args), (e: unknown) => e instanceof GroundTruthUsage && re.test(e.message), args.join(" "));
    const o = parseOptions(["--kernels", "6.1-rt,6.12-generic", "--phases", "p3", "--secs", "2", "--out", "-"]);
    assert.deepEqual(o.kernels.map((k) => k.key), ["6.1-rt", "6.12-generic"]);
    assert.deepEqual([o.phases.loopback.map((p) => p.name), o.phases.hotplug, o.secs, o.out], [["p3"], [], 2, "-"]);
  });

  it("main() on a bad flag: exit code 2 and one line, before anything is checked or started", async () => {
    const lines: string[] = [];
    assert.equal(await main(["--kernels", "6.12-generic", "--phases", "p0"], (l) => lines.push(l)), 2);
    assert.deepEqual(lines, ["ground-truth: error: --phases: unknown phase 'p0' (known: p1,p2,p3,p4,p5,p6,p7,p8,p9,p10,h1,h2,h3,h4,n1,n2,n3,n4,n5)"]);
  });

  it("npm run ground-truth with a bad flag: one line on stderr, exit 2, nothing started", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "scripts/ground-truth/main.ts", "--secs", "-3"], { cwd: ROOT, encoding: "utf8" });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, "");
    assert.deepEqual(r.stderr.trimEnd().split("\n"), ["ground-truth: error: --secs: '-3' is not a whole number of seconds from 1 to 600"]);
  });

  it("tells a static ELF (busybox-static) from a dynamic one (node)", { skip: existsSync(BUSYBOX) ? false : `${BUSYBOX} absent (busybox-static, .ci/setup)` }, () => {
    assert.equal(isStaticElf(BUSYBOX), true);
    assert.equal(isStaticElf(process.execPath), false);
    assert.equal(isStaticElf(join(ROOT, "package.json")), false);
  });
});
