// The shipped Prometheus files pass promtool: config, rules, and the rules' unit tests.
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { REPO, alertRules } from "./dashboards.ts";
import { runTool, skipUnless } from "./harness.ts";

const PROM_DIR = join(REPO, "prometheus");

describe("prometheus files", { skip: skipUnless("promtool") }, () => {
  it("prometheus.yml passes promtool check config (with its rule file)", () => {
    const r = runTool("promtool", ["check", "config", "prometheus.yml"], { cwd: PROM_DIR });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: 1 rule files found/);
  });

  it("alerts.yml passes promtool check rules", () => {
    const r = runTool("promtool", ["check", "rules", "alerts.yml"], { cwd: PROM_DIR });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: \d+ rules found/);
  });

  it("every alert has a promtool unit test, and they pass", () => {
    const tests = parse(readFileSync(join(PROM_DIR, "alerts.test.yml"), "utf8")) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[];
    };
    const firing = new Set(
      tests.tests.flatMap((t) => (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)),
    );
    for (const rule of alertRules()) assert.ok(firing.has(rule.alert), `no unit test shows ${rule.alert} firing`);
    const r = runTool("promtool", ["test", "rules", "alerts.test.yml"], { cwd: PROM_DIR });
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });
});
