// Charts as Vega-Lite specs, rendered to SVG in Node by vega's headless View (renderer 'none',
// view.toSVG()): no browser and no canvas. Without node-canvas vega estimates text widths, which
// is close enough for axis labels and legends. Every chart colours a profile the same way: the
// colour scale's domain is the list of profiles, in the order given on the command line.
import type { TopLevelSpec } from "vega-lite";
import type { CpuPoint, SeriesPoint } from "./chart-data.ts";

/** A chart: its file name stem, title and spec. */
export interface ChartSpec {
  name: string;
  title: string;
  spec: TopLevelSpec;
}

const WIDTH = 520;
const HEIGHT = 200;

const LEGEND = { orient: "bottom" as const, columns: 4, symbolStrokeWidth: 2.5, symbolSize: 200 };

function colour(profiles: readonly string[]) {
  return { field: "profile", type: "nominal" as const, title: "profile", scale: { domain: [...profiles], scheme: "tableau10" }, legend: LEGEND };
}

/** Dashes as well as colours: profiles that behave alike draw on top of each other, and a dashed
 *  line lets the one below show through (and helps readers who do not tell the colours apart). */
function dashes(profiles: readonly string[]) {
  return { field: "profile", type: "nominal" as const, title: "profile", scale: { domain: [...profiles] }, legend: LEGEND };
}

/** A y axis that starts at 0 and, when every value is 0, still spans 0..1 rather than a point. */
function yAxis(field: string, title: string, values: readonly (number | null)[]) {
  const allZero = values.every((v) => v === null || v === 0);
  return { field, type: "quantitative" as const, title, scale: { zero: true, ...(allZero ? { domain: [0, 1] } : {}) } };
}

/** "(none in any run)" for a chart whose values are all zero. */
function noneNote(subtitle: string, values: readonly (number | null)[]): string {
  return values.every((v) => v === null || v === 0) ? `${subtitle} · zero in every run` : subtitle;
}

export function base(title: string, subtitle: string) {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: title, subtitle, anchor: "start" as const, subtitleColor: "#555" },
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    config: { font: "sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 260 } },
  };
}

/** A moment worth a vertical line on a time chart: a hotplug event or an injected fault. */
export interface Marker {
  t_ms: number;
  /** Short: `cpu 2 offline`, `irq_off cpu 1`. */
  label: string;
}

/** One line per profile of `field` against virtual time, with a grey rule at each marker. */
export function timeSeriesChart(
  name: string,
  points: readonly SeriesPoint[],
  profiles: readonly string[],
  field: keyof Omit<SeriesPoint, "profile" | "t_ms">,
  title: string,
  yTitle: string,
  subtitle: string,
  markers: readonly Marker[] = [],
): ChartSpec {
  const values = points.map((p) => p[field]);
  const lines = {
    data: { values: points.map((p) => ({ profile: p.profile, t_ms: p.t_ms, value: p[field] })) },
    mark: { type: "line", point: points.length <= 40 * Math.max(1, profiles.length), strokeWidth: 2, interpolate: "linear" },
    encoding: {
      x: { field: "t_ms", type: "quantitative", title: "virtual time (ms)" },
      y: yAxis("value", yTitle, values),
      color: colour(profiles),
      strokeDash: dashes(profiles),
    },
  };
  if (markers.length === 0) return { name, title, spec: { ...base(title, noneNote(subtitle, values)), ...lines } as TopLevelSpec };
  const marks = { values: markers.map((m) => ({ ...m })) };
  const x = { field: "t_ms", type: "quantitative" };
  return {
    name,
    title,
    spec: {
      ...base(title, noneNote(subtitle, values)),
      layer: [
        lines,
        { data: marks, mark: { type: "rule", color: "#888", strokeDash: [3, 3] }, encoding: { x } },
        // Labels along the top, turned up the rule so neighbouring events do not overlap.
        { data: marks, mark: { type: "text", angle: 270, align: "right", baseline: "bottom", dx: -2, dy: -2, fontSize: 10, color: "#555", y: 0 }, encoding: { x, text: { field: "label" } } },
      ],
    } as TopLevelSpec,
  };
}

/** Grouped bars: `field` per CPU, one bar per profile in each group. */
export function perCpuChart(name: string, points: readonly CpuPoint[], profiles: readonly string[], field: "processed" | "dropped", title: string, yTitle: string, subtitle: string): ChartSpec {
  const values = points.map((p) => p[field]);
  return {
    name,
    title,
    spec: {
      ...base(title, noneNote(subtitle, values)),
      data: { values: points.map((p) => ({ profile: p.profile, cpu: p.cpu, value: p[field] })) },
      mark: { type: "bar" },
      encoding: {
        x: { field: "cpu", type: "nominal", title: "CPU", axis: { labelAngle: 0 }, sort: null },
        xOffset: { field: "profile", type: "nominal", scale: { domain: [...profiles] } },
        y: yAxis("value", yTitle, values),
        color: colour(profiles),
      },
    } as TopLevelSpec,
  };
}

export interface SweepPoint {
  profile: string;
  value: number;
  y: number;
}

/**
 * `y` against the swept knob, one line per profile. The x axis is logarithmic "always" (when every
 * value is > 0) or when "wide": the values span 10× or more.
 */
export function sweepChart(
  name: string,
  points: readonly SweepPoint[],
  profiles: readonly string[],
  knobTitle: string,
  title: string,
  yTitle: string,
  subtitle: string,
  logX: "always" | "wide" = "wide",
): ChartSpec {
  const xs = points.map((p) => p.value);
  const ys = points.map((p) => p.y);
  const positive = xs.length > 1 && xs.every((v) => v > 0);
  const log = positive && (logX === "always" || Math.max(...xs) / Math.min(...xs) >= 10);
  return {
    name,
    title,
    spec: {
      ...base(title, noneNote(subtitle, ys)),
      data: { values: points.map((p) => ({ ...p })) },
      mark: { type: "line", point: { size: 50 }, strokeWidth: 2 },
      encoding: {
        x: { field: "value", type: "quantitative", title: knobTitle, scale: log ? { type: "log" } : { zero: false } },
        y: yAxis("y", yTitle, ys),
        color: colour(profiles),
        strokeDash: dashes(profiles),
      },
    } as TopLevelSpec,
  };
}

/** The SVG document of a chart. */
export async function renderSvg(chart: ChartSpec): Promise<string> {
  // Loaded on first use: vega and vega-lite take ~0.3 s to load, which no other command should pay.
  const [{ parse, View }, { compile }] = await Promise.all([import("vega"), import("vega-lite")]);
  const { spec } = compile(chart.spec);
  const view = new View(parse(spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    // vega puts no title element in the document: add one for viewers and screen readers.
    return svg.replace(/^<svg([^>]*)>/, (m) => `${m}<title>${escapeXml(chart.title)}</title>`);
  } finally {
    view.finalize();
  }
}

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}
