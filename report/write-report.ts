// Writes a report folder: one SVG file per chart and index.html with the same SVGs inline.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderSvg, type ChartSpec } from "./charts.ts";
import { renderHtml, type ReportPage } from "./html.ts";

export interface WrittenReport {
  index: string;
  files: string[];
}

export async function writeReport(dir: string, page: Omit<ReportPage, "charts">, charts: readonly (ChartSpec & { note?: string })[]): Promise<WrittenReport> {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const pageCharts: ReportPage["charts"] = [];
  // One at a time: each render is short, and the page lists them in this order.
  for (const chart of charts) {
    const svg = await renderSvg(chart);
    const file = `${chart.name}.svg`;
    writeFileSync(join(dir, file), svg);
    files.push(join(dir, file));
    pageCharts.push({ title: chart.title, svg, file, note: chart.note });
  }
  const index = join(dir, "index.html");
  writeFileSync(index, renderHtml({ ...page, charts: pageCharts }));
  return { index, files: [index, ...files] };
}
