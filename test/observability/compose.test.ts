// docker-compose.yml without a Docker engine: docker-compose validates it, its wiring is checked
// against the Prometheus and Grafana files, and every softnet-emu service's command runs as a
// plain process with the compose environment. Service names resolve to 127.0.0.1 and the
// container ports are moved to free host ports: what Docker's network would otherwise provide.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { CPU_NODE_FLAGS } from "../../coordinator/run-processes.ts";
import { REPO } from "./dashboards.ts";
import { Daemon, GiveUp, Prometheus, freePort, runTool, skipUnless, waitFor } from "./harness.ts";

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, unknown>;
  volumes?: (string | { source: string; target: string })[];
  ports?: unknown[];
}
interface Compose {
  services: Record<string, Service>;
  networks: Record<string, unknown>;
}

const CLI = join(REPO, "bin", "softnet-emu.js");

function composeConfig(): Compose {
  const r = runTool("docker-compose", ["-f", join(REPO, "docker-compose.yml"), "config"], { cwd: REPO });
  assert.equal(r.status, 0, r.output);
  return parse(r.stdout) as Compose;
}

/** `--name=value` or `--name value` in a command. */
function flag(command: string[], name: string): string | undefined {
  for (let i = 0; i < command.length; i++) {
    const a = command[i]!;
    if (a.startsWith(`--${name}=`)) return a.slice(name.length + 3);
    if (a === `--${name}`) return command[i + 1];
  }
  return undefined;
}

function volumeTargets(s: Service): Map<string, string> {
  return new Map(
    (s.volumes ?? []).map((v) => (typeof v === "string" ? [v.split(":")[1]!, v.split(":")[0]!] : [v.target, v.source])),
  );
}

/** Does the CLI have this command yet? (coordinator and cpu come with the distributed engine.) */
function cliHas(command: string): boolean {
  const r = runTool(process.execPath, [CLI, command, "--help"]);
  return r.status === 0 && r.stdout.includes(`Usage: softnet-emu ${command}`);
}

describe("docker-compose.yml", { skip: skipUnless("docker-compose") }, () => {
  it("passes docker-compose config -q", () => {
    const r = runTool("docker-compose", ["-f", join(REPO, "docker-compose.yml"), "config", "-q"], { cwd: REPO });
    assert.equal(r.status, 0, r.output);
    assert.equal(r.output.trim(), "");
  });

  it("wires a coordinator, one service per CPU, Prometheus and Grafana on one network", () => {
    const c = composeConfig();
    const names = Object.keys(c.services).sort();
    assert.deepEqual(names, ["coordinator", "cpu0", "cpu1", "cpu2", "cpu3", "grafana", "prometheus"]);
    assert.deepEqual(Object.keys(c.networks), ["softnet"]);
    for (const [name, s] of Object.entries(c.services)) {
      assert.deepEqual(Object.keys(s.networks ?? {}), ["softnet"], `${name} on the one network`);
      assert.ok(s.healthcheck?.test?.length, `${name} has a healthcheck`);
    }
    const coord = c.services["coordinator"]!.command!;
    const cpus = Number(flag(coord, "cpus"));
    const zmqPort = /:(\d+)$/.exec(flag(coord, "bind") ?? "")?.[1];
    const metricsPort = flag(coord, "metrics-port");
    assert.equal(cpus, 4);
    // Prometheus scrapes from its own container: every interface; the control API keeps a token.
    assert.equal(flag(coord, "metrics-host"), "0.0.0.0");
    assert.ok("SOFTNET_CONTROL_TOKEN" in (c.services["coordinator"]!.environment ?? {}), "the coordinator takes its token from SOFTNET_CONTROL_TOKEN");
    // One secret for the run: the coordinator writes it on a shared volume, the CPUs read it there.
    const secretFile = flag(coord, "secret-file");
    assert.equal(secretFile, "/run/softnet/secret");
    assert.equal(volumeTargets(c.services["coordinator"]!).get("/run/softnet"), "softnet-secret");
    for (let id = 0; id < cpus; id++) {
      const s = c.services[`cpu${id}`]!;
      assert.equal(flag(s.command!, "secret-file"), secretFile, `cpu${id} reads the coordinator's secret`);
      assert.equal(volumeTargets(s).get("/run/softnet"), "softnet-secret");
      assert.equal(flag(s.command!, "coordinator"), `tcp://coordinator:${zmqPort}`);
      assert.equal(flag(s.command!, "id"), String(id));
      assert.equal(flag(s.command!, "advertise-host"), `cpu${id}`, "peers dial the service name");
      assert.equal(s.depends_on?.["coordinator"]?.condition, "service_healthy");
      assert.equal(s.environment?.["NODE_OPTIONS"], CPU_NODE_FLAGS.join(" "), "the node flags `run` gives its CPU processes");
    }
    // Prometheus scrapes the coordinator's metrics port, with the rules next to its config.
    const prom = c.services["prometheus"]!;
    assert.equal(volumeTargets(prom).get("/etc/prometheus"), join(REPO, "prometheus"));
    const promCfg = parse(readFileSync(join(REPO, "prometheus", "prometheus.yml"), "utf8")) as {
      scrape_configs: { static_configs: { targets: string[] }[] }[];
      rule_files: string[];
    };
    assert.deepEqual(promCfg.scrape_configs[0]!.static_configs[0]!.targets, [`coordinator:${metricsPort}`]);
    assert.deepEqual(promCfg.rule_files, ["alerts.yml"]);
    // Grafana: provisioning mounted where Grafana reads it; dashboards where the provider looks.
    const graf = c.services["grafana"]!;
    const mounts = volumeTargets(graf);
    assert.equal(mounts.get("/etc/grafana/provisioning"), join(REPO, "grafana", "provisioning"));
    const provider = parse(readFileSync(join(REPO, "grafana", "provisioning", "dashboards", "dashboards.yml"), "utf8")) as {
      providers: { options: { path: string } }[];
    };
    assert.equal(mounts.get(provider.providers[0]!.options.path), join(REPO, "grafana", "dashboards"));
    const ds = parse(readFileSync(join(REPO, "grafana", "provisioning", "datasources", "prometheus.yml"), "utf8")) as {
      datasources: { url: string }[];
    };
    assert.equal(ds.datasources[0]!.url, "http://prometheus:9090");
    assert.ok(graf.environment?.["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]?.startsWith(provider.providers[0]!.options.path));
  });

  it("builds a small non-root image from node:20-slim in two stages", () => {
    const dockerfile = readFileSync(join(REPO, "Dockerfile"), "utf8");
    const froms = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    assert.deepEqual(froms, ["node:20-slim", "node:20-slim"]);
    assert.match(dockerfile, /npm ci --omit=dev/);
    assert.match(dockerfile, /^USER node$/m);
    const ignored = readFileSync(join(REPO, ".dockerignore"), "utf8").split("\n");
    for (const p of ["node_modules", ".git", "test"]) assert.ok(ignored.includes(p), `.dockerignore lists ${p}`);
  });

  describe("the softnet-emu services as plain processes", () => {
    const missing = ["coordinator", "cpu"].filter((cmd) => !cliHas(cmd));
    const notYet = missing.length ? `softnet-emu ${missing.join(" and ")}: not in the CLI yet` : false;
    const daemons: Daemon[] = [];
    let prom: Prometheus | undefined;
    let compose: Compose;
    let metricsUrl = "";
    /** Container ports → free host ports; service names → 127.0.0.1. */
    const ports = new Map<string, string>();
    const secretDir = mkdtempSync(join(tmpdir(), "softnet-compose-secret-"));

    const localise = (arg: string): string => {
      // A host name follows "//", "=" or a quote; the `coordinator` subcommand does not.
      let out = arg.replace(/(?<=[/="'])(coordinator|cpu\d+)(?=[:/"']|$)/g, "127.0.0.1");
      // The shared secret volume: a private folder of this test.
      out = out.replace(/(?<==)\/run\/softnet\//, `${secretDir}/`);
      for (const [from, to] of ports) out = out.replace(new RegExp(`:${from}\\b`, "g"), `:${to}`).replace(new RegExp(`=${from}$`), `=${to}`);
      return out;
    };
    /** The service's command with `softnet-emu` run from this checkout. */
    const start = (name: string): Daemon => {
      const s = compose.services[name]!;
      const [bin, ...args] = s.command!;
      assert.equal(bin, "softnet-emu");
      const d = Daemon.start(name, process.execPath, [CLI, ...args.map(localise)], { ...process.env, ...s.environment });
      daemons.push(d);
      return d;
    };
    /** Run a service's healthcheck (CMD form) the way Docker would, with names localised. */
    const healthy = (name: string): boolean => {
      const [kind, cmd, ...args] = compose.services[name]!.healthcheck!.test;
      assert.equal(kind, "CMD");
      const exe = cmd === "node" ? process.execPath : cmd!;
      return runTool(exe, args.map(localise)).status === 0;
    };

    /** The token the compose file hands the coordinator (SOFTNET_CONTROL_TOKEN, interpolated by docker-compose). */
    const TOKEN = "compose-test-token";
    const savedToken = process.env["SOFTNET_CONTROL_TOKEN"];

    before(async () => {
      if (notYet) return;
      process.env["SOFTNET_CONTROL_TOKEN"] = TOKEN;
      compose = composeConfig();
      if (savedToken === undefined) delete process.env["SOFTNET_CONTROL_TOKEN"];
      else process.env["SOFTNET_CONTROL_TOKEN"] = savedToken;
      assert.equal(compose.services["coordinator"]!.environment?.["SOFTNET_CONTROL_TOKEN"], TOKEN);
      const coord = compose.services["coordinator"]!.command!;
      ports.set(/:(\d+)$/.exec(flag(coord, "bind")!)![1]!, String(await freePort()));
      ports.set(flag(coord, "metrics-port")!, String(await freePort()));
      metricsUrl = `http://127.0.0.1:${ports.get(flag(coord, "metrics-port")!)}`;
    });
    after(async () => {
      await prom?.stop();
      for (const d of daemons.reverse()) await d.stop();
    });

    it("the coordinator serves /metrics and passes its healthcheck", { skip: notYet }, async () => {
      const coord = start("coordinator");
      await waitFor("coordinator /healthz", async () => {
        if (!coord.running) throw new GiveUp(`coordinator exited: ${coord.output}`);
        return (await fetch(`${metricsUrl}/healthz`).catch(() => undefined))?.ok ? true : undefined;
      });
      assert.ok(healthy("coordinator"), "the coordinator's healthcheck command passes");
    });

    it("the CPUs reach the coordinator and each passes its healthcheck", { skip: notYet }, async () => {
      const cpus = Object.keys(compose.services).filter((n) => /^cpu\d+$/.test(n));
      for (const name of cpus) start(name);
      await waitFor("all CPUs registered", async () => {
        const s = (await (await fetch(`${metricsUrl}/control/status`)).json()) as { registered: number[] };
        return s.registered.length === cpus.length ? s : undefined;
      }, 20_000);
      for (const name of cpus) assert.ok(healthy(name), `${name}'s healthcheck passes`);
      const text = await waitFor("per-CPU counters on /metrics", async () => {
        const t = await (await fetch(`${metricsUrl}/metrics`)).text();
        return (t.match(/^node_softnet_processed_total\{cpu="\d+"/gm) ?? []).length === cpus.length ? t : undefined;
      }, 20_000);
      assert.match(text, /^softnet_emu_cpu_online\{cpu="3"[^}]*\} 1$/m);
    });

    it("the shipped prometheus.yml scrapes it and loads the alert rules", { skip: notYet || skipUnless("prometheus") }, async () => {
      const cfg = readFileSync(join(REPO, "prometheus", "prometheus.yml"), "utf8").split("\n").map(localise).join("\n");
      prom = await Prometheus.fromConfig(cfg, { "alerts.yml": readFileSync(join(REPO, "prometheus", "alerts.yml"), "utf8") });
      const up = await prom.waitForData('up{job="softnet-emu"} == 1', 1, 20_000);
      assert.equal(up.length, 1);
      const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: unknown[] }[] } };
      assert.ok(rules.data.groups[0]!.rules.length >= 5);
    });

    it("the control API takes a CPU offline and stops the run", { skip: notYet }, async () => {
      const post = (action: string, body: object, token: string | null = TOKEN) =>
        fetch(`${metricsUrl}/control/${action}`, { method: "POST", body: JSON.stringify(body), headers: token ? { Authorization: `Bearer ${token}` } : {} });
      // Listening on every interface: no command without the token.
      assert.equal((await post("offline", { cpu: 2 }, null)).status, 401);
      assert.equal((await post("offline", { cpu: 2 }, "not-the-token")).status, 401);
      const off = await post("offline", { cpu: 2 });
      assert.equal(off.status, 200, await off.clone().text());
      await waitFor("cpu 2 offline on /metrics", async () => {
        const t = await (await fetch(`${metricsUrl}/metrics`)).text();
        return /^softnet_emu_cpu_online\{cpu="2"[^}]*\} 0$/m.test(t) && !/^node_softnet_processed_total\{cpu="2"/m.test(t) ? true : undefined;
      }, 20_000);
      const bad = await post("offline", { cpu: 9 });
      assert.equal(bad.status, 404);
      assert.equal((await post("stop", {})).status, 200);
      // The CPUs finish; the coordinator (--keep-alive) keeps serving /metrics.
      await waitFor("cpus to exit", () => (daemons.filter((d) => d.name.startsWith("cpu")).every((d) => !d.running) ? true : undefined), 20_000);
      assert.equal((await fetch(`${metricsUrl}/metrics`)).status, 200);
    });
  });
});
