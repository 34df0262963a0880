// A self-contained report page: plain HTML with the charts' SVG inline (no script, no external
// style sheet, no fonts), so it opens from a file, in a mail or a CI artefact alike.
import { escapeXml as esc } from "./charts.ts";
import type { Matrix } from "./compare-table.ts";

export interface PageChart {
  title: string;
  /** The SVG document (inlined). */
  svg: string;
  /** Its file beside the page. */
  file: string;
  note?: string;
}

export interface ReportPage {
  title: string;
  /** Paragraphs of plain text under the title. */
  intro: string[];
  /** What was run: scenario, seed, CPUs, duration, engine, command line. */
  meta: [string, string][];
  tables: { title: string; matrix: Matrix }[];
  charts: PageChart[];
  /** Extra sections, e.g. failed assertions (plain text lines). */
  notes: { title: string; lines: string[] }[];
}

const STYLE = `
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px; color: #222; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 28px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.intro { color: #444; max-width: 900px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 14px; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; font-family: ui-monospace, monospace; }
div.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0 16px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
thead th { white-space: normal; vertical-align: bottom; }
th:first-child, td:first-child { text-align: left; color: #444; }
thead th { border-bottom: 2px solid #bbb; }
td.fail { color: #b00020; font-weight: 600; } td.pass { color: #1b7f2a; font-weight: 600; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 18px; }
figure { margin: 0; border: 1px solid #e4e4e4; border-radius: 6px; padding: 8px; background: #fff; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; }
ul.notes { font-family: ui-monospace, monospace; font-size: 13px; }
`;

function cellClass(text: string): string {
  if (/\bFAIL(ED)?\b/.test(text)) return ' class="fail"';
  if (text === "PASS") return ' class="pass"';
  return "";
}

function table(m: Matrix): string {
  const head = `<thead><tr><th></th>${m.head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>`;
  const body = m.rows.map((r) => `<tr>${r.map((c, i) => (i === 0 ? `<td>${esc(c)}</td>` : `<td${cellClass(c)}>${esc(c)}</td>`)).join("")}</tr>`).join("\n");
  return `<div class="table"><table>${head}<tbody>\n${body}\n</tbody></table></div>`;
}

/** The SVG documents lose their XML prolog (if any) to sit inside the HTML. */
function inline(svg: string): string {
  return svg.replace(/^<\?xml[^>]*>\s*/, "");
}

export function renderHtml(page: ReportPage): string {
  const meta = page.meta.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
  const tables = page.tables.map((t) => `<h2>${esc(t.title)}</h2>\n${table(t.matrix)}`).join("\n");
  const notes = page.notes
    .filter((n) => n.lines.length > 0)
    .map((n) => `<h2>${esc(n.title)}</h2>\n<ul class="notes">${n.lines.map((l) => `<li>${esc(l)}</li>`).join("")}</ul>`)
    .join("\n");
  const charts = page.charts
    .map(
      (c) =>
        `<figure>${inline(c.svg)}<figcaption>${c.note ? `${esc(c.note)} · ` : ""}<a href="${esc(c.file)}">${esc(c.file)}</a></figcaption></figure>`,
    )
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(page.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${esc(page.title)}</h1>
${page.intro.map((p) => `<p class="intro">${esc(p)}</p>`).join("\n")}
<dl class="meta">${meta}</dl>
${tables}
${notes}
${page.charts.length ? `<h2>Charts</h2>\n<div class="charts">\n${charts}\n</div>` : ""}
</body>
</html>
`;
}
