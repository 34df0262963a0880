// The figures of the `inprocess` and `distributed` benches, read back from the text they print. Text,
// not a machine-readable line: a base revision prints only that, and both trees must be read alike.
// Columns are found by their header names, so a reordered table still reads right.

/** One measured figure. `better` says which way is an improvement, for the reader of the table. */
export interface Figure {
  bench: string;
  name: string;
  unit: string;
  better: "higher" | "lower";
  value: number;
}

/** "2,801,234" or "68 MB" or "0.357 s" → a number; NaN when it is none. */
export function num(text: string): number {
  const m = /-?[\d,]*\.?\d+/.exec(text);
  return m ? Number(m[0].replace(/,/g, "")) : NaN;
}

/** The number after `label` at the start of a line (after any spaces), or an error naming the line. */
function after(text: string, label: RegExp, bench: string): number {
  const m = new RegExp(`^${label.source}\\s+(\\S+)`, "m").exec(text);
  const v = m ? num(m[1]!) : NaN;
  if (Number.isNaN(v)) throw new Error(`${bench}: no figure on a line matching /${label.source}/ in its output`);
  return v;
}

/** `npm run bench -- inprocess`: the best of its repeats. */
export function inprocessFigures(text: string): Figure[] {
  const f = (name: string, unit: string, better: Figure["better"], label: RegExp): Figure => ({ bench: "inprocess", name, unit, better, value: after(text, label, "inprocess") });
  return [
    f("packets per wall-second", "pps", "higher", /packets per wall-second/),
    f("packets per CPU-second", "pps", "higher", /packets per CPU-second/),
    f("wall time (best)", "s", "lower", /wall time \(best of \d+\)/),
    f("peak RSS", "MB", "lower", /peak RSS/),
  ];
}

/** The table's columns worth comparing: header name → figure name, unit, direction. */
const WINDOW_COLUMNS: [string, string, string, Figure["better"]][] = [
  ["distrib pps", "distributed pps", "pps", "higher"],
  ["in-proc pps", "in-process pps", "pps", "higher"],
  ["ratio", "ratio", "×", "higher"],
  ["ratio to warm", "ratio to warm", "×", "higher"],
  ["bytes/pkt", "bytes per packet", "B", "lower"],
  ["CPU RSS max", "CPU RSS max", "MB", "lower"],
  ["coord RSS", "coordinator RSS", "MB", "lower"],
];

const cells = (line: string): string[] => line.split(" | ").map((c) => c.trim());

/** Rows of a " | " table whose header is the line `header` matches, up to the first line that is no row of it. */
function table(lines: string[], header: (cols: string[]) => boolean): { cols: string[]; rows: string[][] } | null {
  const at = lines.findIndex((l) => header(cells(l)));
  if (at < 0) return null;
  const cols = cells(lines[at]!);
  const rows: string[][] = [];
  for (const l of lines.slice(at + 1)) {
    const c = cells(l);
    if (c.length !== cols.length) break;
    rows.push(c);
  }
  return { cols, rows };
}

/** The WINDOW_COLUMNS of each row, named "<first cell of a windows row>: <figure>" or "<figure>". */
function column(cols: string[], rows: string[][], bench: string): Figure[] {
  const out: Figure[] = [];
  for (const row of rows)
    for (const [col, name, unit, better] of WINDOW_COLUMNS) {
      const i = cols.indexOf(col);
      const value = i < 0 ? NaN : num(row[i]!);
      if (!Number.isNaN(value)) out.push({ bench, name: cols[0] === "window" ? `${row[0]}: ${name}` : name, unit, better, value });
    }
  return out;
}

/**
 * `npm run bench -- distributed`: each window's row, the long run's row and the many-CPU run.
 * Also `unequal`: the windows whose distributed results differed from the in-process ones (a bench
 * says "NO" there), which no speed-up excuses.
 */
export function distributedFigures(text: string): { figures: Figure[]; unequal: string[] } {
  const bench = "distributed";
  const lines = text.split("\n");
  const windows = table(lines, (c) => c[0] === "window" && c.includes("distrib pps"));
  if (!windows || windows.rows.length === 0) throw new Error(`${bench}: no table of windows in its output`);
  const figures = column(windows.cols, windows.rows, bench);
  const eq = windows.cols.indexOf("equal");
  const unequal = eq < 0 ? [] : windows.rows.filter((r) => r[eq] !== "yes").map((r) => r[0]!);

  // The long run's table follows its own "== the same at W over T virtual ms" line.
  const longAt = lines.findIndex((l) => /^== the same at .* over \d+ virtual ms/.test(l));
  if (longAt >= 0) {
    const long = table(lines.slice(longAt + 1), (c) => c[0] === "in-proc pps");
    const label = /over (\d+) virtual ms/.exec(lines[longAt]!)![1];
    if (long) figures.push(...column(long.cols, long.rows, bench).map((f) => ({ ...f, name: `long ${label} ms: ${f.name}` })));
  }

  // "== N CPU processes, ... ==" then "wall W s (start-up S s, run R s); total peak RSS M MB ...".
  const bigAt = lines.findIndex((l) => /^== \d+ CPU processes/.test(l));
  if (bigAt >= 0) {
    const n = /^== (\d+)/.exec(lines[bigAt]!)![1];
    const m = /^wall ([\d.]+) s \(start-up ([\d.]+) s, run ([\d.]+) s\); total peak RSS ([\d,]+) MB/.exec(lines[bigAt + 1] ?? "");
    if (!m) throw new Error(`${bench}: the ${n} CPU processes' line does not read as expected`);
    const big = (name: string, unit: string, v: string): Figure => ({ bench, name: `${n} CPUs: ${name}`, unit, better: "lower", value: num(v) });
    figures.push(big("wall", "s", m[1]!), big("start-up", "s", m[2]!), big("run", "s", m[3]!), big("total peak RSS", "MB", m[4]!));
  }
  return { figures, unequal };
}
