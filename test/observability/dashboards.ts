// Every PromQL query the shipped Grafana dashboards and alert rules run, with Grafana's variables
// substituted, so tests can execute them against a real Prometheus.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const REPO = new URL("../../", import.meta.url).pathname;
export const DASHBOARD_DIR = join(REPO, "grafana", "dashboards");
export const ALERTS_FILE = join(REPO, "prometheus", "alerts.yml");

export interface NamedQuery {
  /** dashboard file / panel title / refId, or the alert name. */
  where: string;
  expr: string;
  /** Table panels and instant targets. */
  instant: boolean;
}

interface Target {
  expr?: string;
  refId?: string;
  instant?: boolean;
}
interface Panel {
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  panels?: Panel[];
  annotations?: { list?: { name?: string; expr?: string }[] };
  templating?: { list?: { name: string; type: string; query?: string | { query?: string } }[] };
}

export function dashboardFiles(): string[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort();
}

export function loadDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(join(DASHBOARD_DIR, file), "utf8")) as Dashboard;
}

/** Panel targets and annotation queries of every dashboard. */
export function dashboardQueries(): NamedQuery[] {
  const out: NamedQuery[] = [];
  for (const file of dashboardFiles()) {
    const d = loadDashboard(file);
    const walk = (panels: Panel[]): void => {
      for (const p of panels) {
        for (const t of p.targets ?? []) {
          if (t.expr) out.push({ where: `${file} / ${p.title} / ${t.refId}`, expr: t.expr, instant: t.instant === true });
        }
        walk(p.panels ?? []);
      }
    };
    walk(d.panels ?? []);
    for (const a of d.annotations?.list ?? []) {
      if (a.expr) out.push({ where: `${file} / annotation ${a.name}`, expr: a.expr, instant: false });
    }
  }
  return out;
}

/**
 * Template variable queries, as PromQL: Grafana's `label_values(selector, label)` becomes
 * `count by (label) (selector)`, which returns one sample per value the variable would offer.
 */
export function variableQueries(): NamedQuery[] {
  const out: NamedQuery[] = [];
  for (const file of dashboardFiles()) {
    for (const v of loadDashboard(file).templating?.list ?? []) {
      if (v.type !== "query") continue;
      const q = typeof v.query === "string" ? v.query : (v.query?.query ?? "");
      const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q.trim());
      if (!m) throw new Error(`${file}: variable ${v.name} has a query the test cannot translate: ${q}`);
      out.push({ where: `${file} / variable ${v.name}`, expr: `count by (${m[2]}) (${m[1]})`, instant: true });
    }
  }
  return out;
}

export interface AlertRule {
  alert: string;
  expr: string;
}

export function alertRules(): AlertRule[] {
  const doc = parse(readFileSync(ALERTS_FILE, "utf8")) as { groups: { rules: AlertRule[] }[] };
  return doc.groups.flatMap((g) => g.rules).filter((r) => r.alert);
}

export interface Variables {
  scenario?: string;
  run?: string;
  profile?: string;
  cpu?: string;
  /** Replaces $__rate_interval and $__interval. */
  rateInterval: string;
}

/** Substitute Grafana's variables the way it does for a Prometheus datasource (regex values). */
export function substitute(expr: string, vars: Variables): string {
  return expr
    .replaceAll("$__rate_interval", vars.rateInterval)
    .replaceAll("$__interval", vars.rateInterval)
    .replaceAll("$__range", vars.rateInterval)
    .replaceAll("$scenario", vars.scenario ?? ".*")
    .replaceAll("$run", vars.run ?? ".*")
    .replaceAll("$profile", vars.profile ?? ".*")
    .replaceAll("$cpu", vars.cpu ?? ".*");
}
