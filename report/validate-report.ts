// What `validate --report DIR` draws: per relation with one number per kernel, each kernel's figure
// with its tolerance band (a relation over a kernel's boots: their median, and each boot's figure as
// a tick), and the model's figure beside it — where the model sits against the kernels and against
// how far their boots spread; then the NIC bursts the
// runs replayed. Every row, vectors and yes/no relations included, is in the table.
import type { TopLevelSpec } from "vega-lite";
import type { ReplayedBurst } from "../validate/stages.ts";
import type { RelationRow } from "../validate/relations.ts";
import { formatValue, kernelLabel } from "../validate/render.ts";
import { base, type ChartSpec } from "./charts.ts";
import type { Matrix } from "./compare-table.ts";

interface Point {
  kernel: string;
  who: "kernel" | "boot" | "model";
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
      const verdict = r.pass ? "PASS" : "FAIL";
      points.push({ kernel: r.kernel, who: "kernel", value: r.kernel_value as number, ...(r.band ? { lo: r.band[0], hi: r.band[1] } : {}), verdict });
      // A relation over a kernel's boots: each boot's figure beside the median compared.
      for (const b of r.boots ?? []) if (typeof b.value === "number") points.push({ kernel: r.kernel, who: "boot", value: b.value, verdict });
      if (typeof r.model_value === "number") points.push({ kernel: r.kernel, who: "model", value: r.model_value, verdict });
    }
    const log = rs[0]!.tolerance.startsWith("×") && points.every((p) => p.value > 0);
    const y = { type: "quantitative" as const, title: id, scale: log ? { type: "log" as const } : { zero: false } };
    const x = { field: "kernel", type: "nominal" as const, title: null, sort: null, axis: { labelAngle: -30, labelLimit: 200 } };
    const failed = rs.filter((r) => !r.pass).length;
    const tolerances = [...new Set(rs.map((r) => r.tolerance))];
    charts.push({
      name: `relation-${id.replace(/[^A-Za-z0-9]+/g, "_")}`,
      title: id,
      spec: {
        ...base(id, `${rs[0]!.what} · ◆ the model${rs.some((r) => r.boots) ? " · – each boot" : ""} · tolerance ${tolerances.length === 1 ? tolerances[0] : "per kernel (the band)"} · ${failed === 0 ? "every kernel passes" : `${failed} of ${rs.length} fail`}`),
        data: { values: points },
        layer: [
          // The band a model figure must fall in to pass against that kernel.
          { transform: [{ filter: "datum.who === 'kernel' && isValid(datum.lo)" }], mark: { type: "rule", strokeWidth: 7, opacity: 0.25, color: "#4c78a8" }, encoding: { x, y: { ...y, field: "lo" }, y2: { field: "hi" } } },
          {
            transform: [{ filter: "datum.who === 'kernel'" }],
            mark: { type: "point", filled: true, size: 70 },
            encoding: { x, y: { ...y, field: "value" }, color: { field: "verdict", type: "nominal", title: "model vs kernel", scale: { domain: ["PASS", "FAIL"], range: ["#1b7f2a", "#b00020"] }, legend: { orient: "bottom" } } },
          },
          { transform: [{ filter: "datum.who === 'boot'" }], mark: { type: "tick", color: "#4c78a8", opacity: 0.8 }, encoding: { x, y: { ...y, field: "value" } } },
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
    rows: rows.map((r) => [r.id, kernelLabel(r), formatValue(r.kernel_value), formatValue(r.model_value), r.tolerance, r.pass ? "PASS" : "FAIL"]),
  };
}
