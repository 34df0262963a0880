// The before/after table: each figure's samples from both trees, their medians, the ratio after/before
// and the spread of each side, printed as lines of " | " like the other benches, or kept as JSON.
import type { Figure } from "./figures.ts";

export type Side = "before" | "after";

export interface Row {
  bench: string;
  figure: string;
  unit: string;
  better: Figure["better"];
  before: number[];
  after: number[];
  beforeMedian: number | null;
  afterMedian: number | null;
  /** afterMedian / beforeMedian. */
  ratio: number | null;
  /** Half the range of the samples over their median, in %: ±spread. */
  spreadBeforePct: number | null;
  spreadAfterPct: number | null;
}

export function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

function spreadPct(xs: number[]): number | null {
  const m = median(xs);
  if (m === null || xs.length < 2 || m === 0) return null;
  return (50 * (Math.max(...xs) - Math.min(...xs))) / Math.abs(m);
}

/** Collects samples in the order figures first appear, so the table follows the benches' own order. */
export class Samples {
  private readonly rows = new Map<string, { meta: Figure; before: number[]; after: number[] }>();

  add(side: Side, figures: Figure[]): void {
    for (const f of figures) {
      const key = `${f.bench}\u0000${f.name}`;
      let row = this.rows.get(key);
      if (!row) this.rows.set(key, (row = { meta: f, before: [], after: [] }));
      row[side].push(f.value);
    }
  }

  summary(): Row[] {
    return [...this.rows.values()].map(({ meta, before, after }) => {
      const b = median(before);
      const a = median(after);
      return {
        bench: meta.bench,
        figure: meta.name,
        unit: meta.unit,
        better: meta.better,
        before,
        after,
        beforeMedian: b,
        afterMedian: a,
        ratio: a !== null && b !== null && b !== 0 ? a / b : null,
        spreadBeforePct: spreadPct(before),
        spreadAfterPct: spreadPct(after),
      };
    });
  }
}

/** Enough digits for the figure's size: 2.80 M pps reads as 2,801,234, a ratio as 0.58. */
function show(v: number | null): string {
  if (v === null) return "-";
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const pct = (v: number | null): string => (v === null ? "-" : `±${v.toFixed(1)} %`);

/** The table as aligned " | " lines, a header first. */
export function renderTable(rows: Row[]): string[] {
  const head = ["bench", "figure", "unit", "better", "before median", "after median", "after/before", "spread before", "spread after"];
  const body = rows.map((r) => [
    r.bench,
    r.figure,
    r.unit,
    r.better,
    show(r.beforeMedian),
    show(r.afterMedian),
    r.ratio === null ? "-" : r.ratio.toFixed(3),
    pct(r.spreadBeforePct),
    pct(r.spreadAfterPct),
  ]);
  const width = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 4 ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join(" | ").trimEnd();
  return [line(head), ...body.map(line)];
}
