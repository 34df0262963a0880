// The before/after bench reads the `inprocess` and `distributed` benches' printed text back into
// figures: each figure where the bench printed it, columns found by their header, an engine mismatch
// noticed, a missing table an error; and the summary's medians, ratio and spread.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { distributedFigures, inprocessFigures, num, type Figure } from "../../bench/figures.ts";
import { median, renderTable, Samples } from "../../bench/summary.ts";

// Printed by bench/inprocess.ts and bench/distributed.ts (BENCH_REPEATS=1 BENCH_VIRTUAL_MS=20
// BENCH_WINDOWS_US=2,100 BENCH_LONG_MS=40 BENCH_BIG_CPUS=4 for the latter), on a loaded machine.
const INPROCESS = `== in-process engine, standard scenario (examples/standard-bench.yaml) ==
emulated packets          999,955 in 1.0 virtual s
wall time (best of 2)     1.698 s   (all: 1.699, 1.698)
packets per wall-second   588,911   target 2,000,000  ratio 0.29
packets per CPU-second    1,658,385
speed factor              0.589 (virtual s per wall s)
peak RSS                  166.3 MB
`;

const DISTRIBUTED = `== distributed engine, standard scenario (examples/standard-bench.yaml), 20 virtual ms per run ==
exact window 2 µs (smallest cross-CPU latency); deviations are against the run at that window
window | in-proc pps | distrib pps | ratio | in-proc warm pps | ratio to warm | windows/s | msgs/window | msgs/pkt | bytes/pkt | CPU RSS max | coord RSS | equal | dev processed/dropped/rps/squeeze %
2 µs | 44,729 | 10,795 | 0.24 | 83,591 | 0.13 | 5,413 | 0.051 | 0.0257 | 14.9 | 66 MB | 125 MB | yes | 0.00 / 0.00 / 0.00 / 0.00
100 µs | 55,998 | 20,065 | 0.36 | 126,926 | 0.16 | 201 | 2.595 | 0.0260 | 15.1 | 67 MB | 115 MB | yes | 0.55 / 0.00 / 11.80 / 0.00
(pps: emulated packets per wall-second, best of 1, each run in a fresh process; distributed: after the CPU processes registered, start-up is extra;
 warm: the in-process run repeated in one process, JIT already optimised)
== the same at 100 µs over 40 virtual ms (JIT warm-up spread over a longer run) ==
in-proc pps | distrib pps | ratio | in-proc warm pps | ratio to warm
65,350 | 28,966 | 0.44 | 108,427 | 0.27
== 4 CPU processes, 5 virtual ms, rps to all ==
wall 6.3 s (start-up 2.7 s, run 0.5 s); total peak RSS 373 MB (CPU processes max 67 MB, coordinator 116 MB); checker ok; 4,978 packets
`;

const byName = (figures: Figure[]) => Object.fromEntries(figures.map((f) => [f.name, f.value]));

describe("bench figures", () => {
  it("reads numbers with thousands separators and units", () => {
    assert.equal(num("1,658,385"), 1658385);
    assert.equal(num("66 MB"), 66);
    assert.equal(num("1.698 s"), 1.698);
    assert.ok(Number.isNaN(num("yes")));
  });

  it("reads the in-process bench's best-of figures", () => {
    assert.deepEqual(byName(inprocessFigures(INPROCESS)), {
      "packets per wall-second": 588911,
      "packets per CPU-second": 1658385,
      "wall time (best)": 1.698,
      "peak RSS": 166.3,
    });
    assert.throws(() => inprocessFigures(INPROCESS.replace(/^packets per wall-second.*$/m, "")), /inprocess: no figure on a line matching/);
  });

  it("reads every window's row, the long run and the many-CPU run of the distributed bench", () => {
    const { figures, unequal } = distributedFigures(DISTRIBUTED);
    const f = byName(figures);
    assert.equal(f["2 µs: distributed pps"], 10795);
    assert.equal(f["100 µs: in-process pps"], 55998);
    assert.equal(f["100 µs: ratio to warm"], 0.16);
    assert.equal(f["100 µs: coordinator RSS"], 115);
    assert.equal(f["2 µs: bytes per packet"], 14.9);
    assert.equal(f["long 40 ms: distributed pps"], 28966);
    assert.equal(f["long 40 ms: ratio"], 0.44);
    assert.equal(f["4 CPUs: wall"], 6.3);
    assert.equal(f["4 CPUs: run"], 0.5);
    assert.equal(f["4 CPUs: total peak RSS"], 373);
    assert.equal(figures.length, 2 * 7 + 4 + 4);
    assert.deepEqual(unequal, []);
    assert.equal(figures.find((x) => x.name === "100 µs: distributed pps")!.better, "higher");
    assert.equal(figures.find((x) => x.name === "4 CPUs: wall")!.better, "lower");
  });

  it("finds columns by their header, notices engines that disagree, and fails without a table", () => {
    // The first two speed columns swapped, and "NO" where the engines' results differed.
    const swapped = DISTRIBUTED.replace("window | in-proc pps | distrib pps |", "window | distrib pps | in-proc pps |").replace(
      "100 µs | 55,998 | 20,065 | 0.36 |",
      "100 µs | 20,065 | 55,998 | 0.36 |",
    ).replace("| 115 MB | yes |", "| 115 MB | NO |");
    const { figures, unequal } = distributedFigures(swapped);
    assert.equal(byName(figures)["100 µs: distributed pps"], 20065);
    assert.equal(byName(figures)["2 µs: distributed pps"], 44729); // the unswapped row now reads as the header says
    assert.deepEqual(unequal, ["100 µs"]);
    assert.throws(() => distributedFigures("== distributed engine ==\n"), /distributed: no table of windows/);
    assert.throws(() => distributedFigures(DISTRIBUTED.replace("wall 6.3 s (start-up", "wall 6.3 s (startup")), /the 4 CPU processes' line/);
  });
});

describe("before/after summary", () => {
  it("medians, ratio after/before and spread per figure, in the benches' order", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([]), null);
    const s = new Samples();
    const fig = (name: string, value: number): Figure => ({ bench: "inprocess", name, unit: "pps", better: "higher", value });
    s.add("before", [fig("a", 100), fig("b", 10)]);
    s.add("after", [fig("a", 90), fig("b", 10)]);
    s.add("before", [fig("a", 110), fig("b", 10)]);
    s.add("after", [fig("a", 110), fig("b", 10), fig("c", 1)]);
    const rows = s.summary();
    assert.deepEqual(rows.map((r) => r.figure), ["a", "b", "c"]);
    const a = rows[0]!;
    assert.deepEqual([a.before, a.after], [[100, 110], [90, 110]]);
    assert.equal(a.beforeMedian, 105);
    assert.equal(a.afterMedian, 100);
    assert.equal(a.ratio, 100 / 105);
    assert.equal(a.spreadBeforePct!.toFixed(3), ((50 * 10) / 105).toFixed(3));
    assert.equal(a.spreadAfterPct, 10);
    assert.equal(rows[2]!.ratio, null, "a figure only one side printed has no ratio");
    const table = renderTable(rows);
    assert.equal(table.length, 4);
    assert.match(table[1]!, /^inprocess \| a\s+\| pps\s+\| higher \|\s+105 \|\s+100 \|\s+0\.952 \|\s+±4\.8 % \|\s+±10\.0 %$/);
    assert.match(table[3]!, /\| c .*\|\s+- \|\s+1\.00 \|\s+- \|/);
  });
});
