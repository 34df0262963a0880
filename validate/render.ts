// The validate table: per relation, per kernel, the kernel's figure, the model's, the tolerance and
// PASS/FAIL, as text for a terminal or as a Markdown table (the README's).
import type { RelationRow, Value } from "./relations.ts";
import type { ReplayedBurst } from "./stages.ts";

export function formatValue(v: Value | null): string {
  if (v === null) return "n/a";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (Array.isArray(v)) return v.map((x) => x.toFixed(2)).join("/");
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** "6.12-generic (6.6-patched)"; a row over several boots says how many (its kernel figure is their median). */
export function kernelLabel(r: RelationRow): string {
  return `${r.kernel}${r.boots ? `, ${r.boots.length} boots` : ""} (${r.profile})`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function renderText(rows: readonly RelationRow[]): string {
  const out: string[] = [];
  let current = "";
  const kw = Math.max(...rows.map((r) => kernelLabel(r).length), 10);
  const vw = Math.max(...rows.flatMap((r) => [formatValue(r.kernel_value).length, formatValue(r.model_value).length]), 6);
  const tw = Math.max(...rows.map((r) => r.tolerance.length), 7);
  for (const r of rows) {
    if (r.id !== current) {
      current = r.id;
      out.push(`${r.id}: ${r.what}`);
    }
    out.push(
      `  ${pad(kernelLabel(r), kw)}  kernel ${pad(formatValue(r.kernel_value), vw)}  model ${pad(formatValue(r.model_value), vw)}  ${pad(r.tolerance, tw)} ${r.pass ? "PASS" : "FAIL"}`,
    );
    // A row over several boots compares their median: each boot's own figure beneath it.
    if (r.boots) out.push(`  ${" ".repeat(kw)}  boots  ${r.boots.map((b) => formatValue(b.value)).join(" ")}`);
  }
  const failed = rows.filter((r) => !r.pass);
  out.push("");
  out.push(
    failed.length === 0
      ? `validate: all ${rows.length} relations hold within their tolerances`
      : `validate: ${failed.length} of ${rows.length} relations FAIL: ${[...new Set(failed.map((r) => r.id))].join(", ")}`,
  );
  return `${out.join("\n")}\n`;
}

export function renderMarkdown(rows: readonly RelationRow[]): string {
  const out = ["| relation | kernel (profile) | kernel | model | tolerance | |", "|---|---|---|---|---|---|"];
  for (const r of rows)
    out.push(
      `| \`${r.id}\` | ${kernelLabel(r)} | ${formatValue(r.kernel_value)} | ${formatValue(r.model_value)} | ${r.tolerance} | ${r.pass ? "PASS" : "**FAIL**"} |`,
    );
  return `${out.join("\n")}\n`;
}

/** The replayed NIC bursts, one line per kernel: `p1 14.6→14.5 @43us` per phase. */
export function renderBursts(bursts: readonly ReplayedBurst[]): string {
  const kernels = [...new Set(bursts.map((b) => b.kernel_name))];
  const kw = Math.max(...kernels.map((k) => k.length));
  return kernels
    .map((k) => `  ${pad(k, kw)}  ${bursts.filter((b) => b.kernel_name === k).map((b) => `${b.phase} ${formatValue(b.kernel)}→${formatValue(b.model)} @${b.rxUsecs}us`).join("  ")}\n`)
    .join("");
}
