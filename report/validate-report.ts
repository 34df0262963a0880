// What `validate --report DIR` draws: per relation with one number per kernel, each kernel's (and
// each later boot's) figure with its tolerance band, and the model's figure beside it — where the
// model sits against the kernels and against how far their boots spread; then the NIC bursts the
// runs replayed. Every row, vectors and yes/no relations included, is in the table.
import type { TopLevelSpec } from "vega-lite";
import type { ReplayedBurst } from "../validate/stages.ts";
import { RELATIONS, toleranceBand, type RelationRow } from "../validate/relations.ts";
import { formatValue } from "../validate/render.ts";
import { base, type ChartSpec } from "./charts.ts";
import type { Matrix } from "./compare-table.ts";

const TOLERANCES = new Map(RELATIONS.map((d) => [d.id, d.tol]));

interface Point {
  kernel: string;
  who: "kernel" | "model";
  value: number;
  lo?: number;
  hi?: number;
  verdict: "PASS" | "FAIL";
}

/** One chart per relation whose figure is one number on each kernel. */
export function relationCharts(rows: readonly RelationRow[]): ChartSpec[] {
  const ids = [...new Set(rows.map((r) => r.id))];
  const charts: ChartSpec[] = [];
  for (const id of ids) {
    const rs = rows.filter((r) => r.id === id && typeof r.kernel_value === "number");
    if (rs.length === 0) continue;
    const points: Point[] = [];
    for (const r of rs) {
      const k = r.kernel_value as number;
      const tol = TOLERANCES.get(r.id);
      const b = tol ? toleranceBand(k, tol) : undefined;
      const verdict = r.pass ? "PASS" : "FAIL";
      points.push({ kernel: r.kernel, who: "kernel", value: k, ...(b ? { lo: b[0], hi: b[1] } : {}), verdict });
      if (typeof r.model_value === "number") points.push({ kernel: r.kernel, who: "model", value: r.model_value, verdict });
    }
    const log = rs[0]!.tolerance.startsWith("×") && points.every((p) => p.value > 0);
    const y = { type: "quantitative" as const, title: id, scale: log ? { type: "log" as const } : { zero: false } };
    const x = { field: "kernel", type: "nominal" as const, title: null, sort: null, axis: { labelAngle: -30, labelLimit: 200 } };
    const failed = rs.filter((r) => !r.pass).length;
    charts.push({
      name: `relation-${id.replace(/[^A-Za-z0-9]+/g, "_")}`,
      title: id,
      spec: {
        ...base(id, `${rs[0]!.what} · ◆ the model · tolerance ${rs[0]!.tolerance} · ${failed === 0 ? "every kernel passes" : `${failed} of ${rs.length} fail`}`),
        data: { values: points },
        layer: [
          // The band a model figure must fall in to pass against that kernel.
          { transform: [{ filter: "datum.who === 'kernel' && isValid(datum.lo)" }], mark: { type: "rule", strokeWidth: 7, opacity: 0.25, color: "#4c78a8" }, encoding: { x, y: { ...y, field: "lo" }, y2: { field: "hi" } } },
          {
            transform: [{ filter: "datum.who === 'kernel'" }],
            mark: { type: "point", filled: true, size: 70 },
            encoding: { x, y: { ...y, field: "value" }, color: { field: "verdict", type: "nominal", title: "model vs kernel", scale: { domain: ["PASS", "FAIL"], range: ["#1b7f2a", "#b00020"] }, legend: { orient: "bottom" } } },
          },
          { transform: [{ filter: "datum.who === 'model'" }], mark: { type: "point", shape: "diamond", filled: true, size: 90, color: "#222" }, encoding: { x, y: { ...y, field: "value" } } },
        ],
      } as TopLevelSpec,
    });
  }
  return charts;
}

/** Packets per virtio interrupt: each kernel phase's, and the model's at the rx_usecs fitted to it. */
export function burstChart(bursts: readonly ReplayedBurst[]): ChartSpec {
  const values = bursts.flatMap((b) => [
    { phase: `${b.kernel_name} ${b.phase}`, who: "kernel", value: b.kernel },
    { phase: `${b.kernel_name} ${b.phase}`, who: `model (rx_usecs fitted)`, value: b.model },
  ]);
  const title = "NIC bursts replayed";
  return {
    name: "nic-bursts",
    title,
    spec: {
      ...base(title, "packets per virtio interrupt on the IRQ CPU: the kernel's phase, and the model's at the rx_usecs validate fitted to it"),
      data: { values },
      mark: { type: "point", filled: true, size: 60 },
      encoding: {
        x: { field: "phase", type: "nominal", title: null, sort: null, axis: { labelAngle: -45, labelLimit: 320 } },
        y: { field: "value", type: "quantitative", title: "packets per interrupt", scale: { type: "log" } },
        color: { field: "who", type: "nominal", title: null, legend: { orient: "bottom" } },
        shape: { field: "who", type: "nominal", title: null },
      },
    } as TopLevelSpec,
  };
}

/** Every row: relation, kernel (profile), both figures, tolerance, verdict. */
export function relationMatrix(rows: readonly RelationRow[]): Matrix {
  return {
    head: ["kernel (profile)", "kernel", "model", "tolerance", "verdict"],
    rows: rows.map((r) => [r.id, `${r.kernel} (${r.profile})`, formatValue(r.kernel_value), formatValue(r.model_value), r.tolerance, r.pass ? "PASS" : "FAIL"]),
  };
}
