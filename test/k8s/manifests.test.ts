// k8s/ without a cluster. Every file's resources pass their schema (test/k8s/schema.ts:
// kubernetes-models' JSON schemas, strictly, and Chaos Mesh's fields by hand), and a broken copy
// does not. Then the kustomization is built by a real kustomize (kubectl kustomize, or a
// standalone kustomize) and what it builds is checked the same way and wired up: Services select
// their pods, the CPU count is one number, the Secret reaches both processes, the chaos
// experiments select real pods. Last, the built coordinator and CPU commands run as plain
// processes with the built environment and the generated Secret, the addresses moved to loopback.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { accessSync, constants, cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CPU_NODE_FLAGS } from "../../coordinator/run-processes.ts";
import { freePort } from "../support/net.ts";
import { describeResource, parseResources, schemaErrors, type Resource } from "./schema.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const K8S = join(REPO, "k8s");
const CLI = join(REPO, "bin", "softnet-emu.js");
const NAMESPACE = "softnet-emu";

/** Every .yaml file under k8s/ but the kustomization (a kustomize config, checked by building it). */
function manifestFiles(dir = K8S): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? manifestFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) && e.name !== "kustomization.yaml" ? [join(dir, e.name)] : [],
  );
}

function resourcesOf(file: string): Resource[] {
  return parseResources(readFileSync(file, "utf8"), file.slice(REPO.length));
}

function allErrors(resources: Resource[]): string[] {
  return resources.flatMap(schemaErrors);
}

function findBinary(name: string): string | undefined {
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A real kustomize: a standalone one, else kubectl's (kubectl kustomize, v5 since kubectl 1.27). */
const KUSTOMIZE: { cmd: string; args: string[] } | undefined = findBinary("kustomize")
  ? { cmd: "kustomize", args: ["build"] }
  : findBinary("kubectl")
    ? { cmd: "kubectl", args: ["kustomize"] }
    : undefined;
const NO_KUSTOMIZE = KUSTOMIZE ? false : "neither kubectl nor kustomize is installed: the kustomization cannot be built here";

function kustomizeBuild(dir: string): { status: number | null; output: string; resources: Resource[] } {
  const r = spawnSync(KUSTOMIZE!.cmd, [...KUSTOMIZE!.args, dir], { encoding: "utf8", timeout: 60_000, env: { ...process.env, KUBECONFIG: "/dev/null" } });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  return { status: r.status, output, resources: r.status === 0 ? parseResources(r.stdout, `${KUSTOMIZE!.cmd} build ${dir}`) : [] };
}

/** A copy of k8s/ in a temp dir, without any secrets.env of the working tree. */
function copyOfK8s(): string {
  const dir = mkdtempSync(join(tmpdir(), "softnet-k8s-"));
  cpSync(K8S, dir, { recursive: true, filter: (src) => !src.endsWith("secrets.env") });
  return dir;
}

function one(resources: Resource[], kind: string, name?: string): Resource {
  const found = resources.filter((r) => r["kind"] === kind && (name === undefined || r["metadata"]["name"] === name || r["metadata"]["name"].startsWith(`${name}-`)));
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ""} (found ${found.map(describeResource).join(", ") || "none"})`);
  return found[0]!;
}

function flag(args: string[], name: string): string | undefined {
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function container(workload: Resource): Resource {
  const containers = workload["spec"]["template"]["spec"]["containers"] as Resource[];
  assert.equal(containers.length, 1, `${describeResource(workload)}: one container`);
  return containers[0]!;
}

/** Kubernetes' $(VAR) expansion of command and args ($$ escapes a dollar; unknown names stay). */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string | undefined) => (name === undefined ? "$" : (env[name] ?? m)));
}

/** The environment a container of this pod gets: values, downward API fields, keys of the built Secrets. */
function podEnv(c: Resource, pod: { name: string; labels: Record<string, string> }, resources: Resource[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c["env"] as Resource[]) {
    if (e["value"] !== undefined) env[e["name"]] = expand(e["value"], env);
    else if (e["valueFrom"]?.["fieldRef"]) {
      const path = e["valueFrom"]["fieldRef"]["fieldPath"] as string;
      const label = /^metadata\.labels\['(.+)'\]$/.exec(path);
      if (path === "metadata.name") env[e["name"]] = pod.name;
      else if (label) env[e["name"]] = pod.labels[label[1]!] ?? "";
      else assert.fail(`${e["name"]}: downward API field ${path} not modelled by this test`);
    } else if (e["valueFrom"]?.["secretKeyRef"]) {
      const ref = e["valueFrom"]["secretKeyRef"];
      const secret = resources.find((r) => r["kind"] === "Secret" && r["metadata"]["name"] === ref["name"]);
      assert.ok(secret, `${e["name"]}: the Secret ${ref["name"]} is built by the kustomization`);
      assert.ok(secret["data"]?.[ref["key"]] !== undefined, `${e["name"]}: the Secret ${ref["name"]} has the key ${ref["key"]}`);
      env[e["name"]] = Buffer.from(String(secret["data"][ref["key"]]).replace(/\s/g, ""), "base64").toString("utf8");
    } else assert.fail(`${e["name"]}: an env source not modelled by this test`);
  }
  return env;
}

const MB = 1e6;
function bytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(quantity);
  assert.ok(m, `a memory quantity: ${quantity}`);
  const unit = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

describe("k8s/: every manifest passes its schema", () => {
  it("each resource of each file, strictly (unknown fields too); Chaos Mesh's by hand", () => {
    const files = manifestFiles();
    const names = files.map((f) => f.slice(K8S.length + 1)).sort();
    for (const expected of ["namespace.yaml", "coordinator.yaml", "cpus.yaml", "monitoring/servicemonitor.yaml", "chaos/pod-kill.yaml", "chaos/pod-failure.yaml", "chaos/network-partition.yaml", "chaos/network-delay.yaml"])
      assert.ok(names.includes(expected), `k8s/${expected} exists (found ${names.join(", ")})`);
    const resources = files.flatMap(resourcesOf);
    assert.ok(resources.length >= files.length);
    assert.deepEqual(allErrors(resources), []);
  });

  it("fails on a broken copy: wrong types, a misspelt field, a missing required field, a bad chaos action", () => {
    const [deployment] = resourcesOf(join(K8S, "coordinator.yaml")).filter((r) => r["kind"] === "Deployment");
    assert.ok(deployment);
    const broken = (edit: (d: Resource) => void, doc: Resource = deployment): string[] => {
      const copy = structuredClone(doc);
      edit(copy);
      return schemaErrors(copy);
    };
    assert.deepEqual(broken(() => {}), []);
    assert.match(broken((d) => (d["spec"]["replicas"] = "one")).join("\n"), /Deployment\/softnet-coordinator: \/spec\/replicas must be integer/);
    assert.match(broken((d) => (container(d)["ports"][0]["containerPort"] = "5555")).join("\n"), /containers\/0\/ports\/0\/containerPort must be integer/);
    assert.match(broken((d) => (container(d)["imagePullPolcy"] = "IfNotPresent")).join("\n"), /containers\/0\/imagePullPolcy: unknown field/);
    assert.match(broken((d) => delete d["spec"]["selector"]).join("\n"), /\/spec must have required property selector/);
    assert.match(broken((d) => (d["spec"]["strategy"]["type"] = "Sometimes")).join("\n"), /\/spec\/strategy\/type must be equal to one of the allowed values/);

    const [podKill] = resourcesOf(join(K8S, "chaos", "pod-kill.yaml"));
    assert.match(broken((c) => (c["spec"]["action"] = "pod-explode"), podKill).join("\n"), /PodChaos\/softnet-cpu-2-kill: \/spec\/action must be one of/);
    assert.match(broken((c) => (c["spec"]["selector"]["labelSelector"] = {}), podKill).join("\n"), /\/spec\/selector\/labelSelector unknown field/);

    // A whole file, as the YAML a person would write: the first wrong type fails it.
    const text = readFileSync(join(K8S, "cpus.yaml"), "utf8").replace("replicas: 4", 'replicas: "4"');
    assert.match(allErrors(parseResources(text, "broken cpus.yaml")).join("\n"), /StatefulSet\/softnet-cpu: \/spec\/replicas must be integer/);
  });
});

describe("k8s/: the kustomization, built", { skip: NO_KUSTOMIZE }, () => {
  let dir: string;
  let built: Resource[];

  before(() => {
    dir = copyOfK8s();
    const secrets = spawnSync("sh", [join(dir, "secrets.sh")], { encoding: "utf8" });
    assert.equal(secrets.status, 0, secrets.stderr);
    const r = kustomizeBuild(dir);
    assert.equal(r.status, 0, r.output);
    built = r.resources;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds the namespace, the Secret, the coordinator and the CPUs; every resource passes its schema", () => {
    assert.deepEqual(built.map((r) => r["kind"]).sort(), ["Deployment", "Namespace", "Secret", "Service", "Service", "StatefulSet"]);
    for (const r of built) if (r["kind"] !== "Namespace") assert.equal(r["metadata"]["namespace"], NAMESPACE, describeResource(r));
    assert.deepEqual(allErrors(built), []);
    // ...and the pipeline fails on a broken copy, too.
    const broken = copyOfK8s();
    try {
      writeFileSync(join(broken, "secrets.env"), readFileSync(join(dir, "secrets.env")));
      const file = join(broken, "coordinator.yaml");
      writeFileSync(file, readFileSync(file, "utf8").replace("containerPort: 9100", 'containerPort: "9100"'));
      const r = kustomizeBuild(broken);
      assert.equal(r.status, 0, r.output);
      assert.match(allErrors(r.resources).join("\n"), /Deployment\/softnet-coordinator: \/spec\/template\/spec\/containers\/0\/ports\/1\/containerPort must be integer/);
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });

  it("the CPU count is one number: the StatefulSet's replicas and the coordinator's --cpus", () => {
    const cpus = one(built, "StatefulSet", "softnet-cpu");
    const coordinator = container(one(built, "Deployment", "softnet-coordinator"));
    assert.equal(flag(coordinator["args"], "cpus"), "$(SOFTNET_CPUS)");
    const env = (coordinator["env"] as Resource[]).find((e) => e["name"] === "SOFTNET_CPUS");
    assert.equal(env?.["value"], String(cpus["spec"]["replicas"]));

    // Scaling: the kustomization's replicas entry moves both.
    const scaled = copyOfK8s();
    try {
      writeFileSync(join(scaled, "secrets.env"), readFileSync(join(dir, "secrets.env")));
      const file = join(scaled, "kustomization.yaml");
      const text = readFileSync(file, "utf8");
      assert.match(text, /replicas:\n {2}- name: softnet-cpu\n {4}count: 4\n/);
      writeFileSync(file, text.replace(/(- name: softnet-cpu\n {4}count: )4/, "$17"));
      const r = kustomizeBuild(scaled);
      assert.equal(r.status, 0, r.output);
      assert.equal(one(r.resources, "StatefulSet", "softnet-cpu")["spec"]["replicas"], 7);
      const env7 = (container(one(r.resources, "Deployment", "softnet-coordinator"))["env"] as Resource[]).find((e) => e["name"] === "SOFTNET_CPUS");
      assert.equal(env7?.["value"], "7", "a string, as env values must be");
      assert.deepEqual(allErrors(r.resources), []);
    } finally {
      rmSync(scaled, { recursive: true, force: true });
    }
  });

  it("without k8s/secrets.env it does not build, and says which file is missing", () => {
    const bare = copyOfK8s();
    try {
      const r = kustomizeBuild(bare);
      assert.notEqual(r.status, 0);
      assert.match(r.output, /secrets\.env/);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it("Services select their pods; the CPUs reach the coordinator and advertise <pod>.<headless Service>", () => {
    const deployment = one(built, "Deployment", "softnet-coordinator");
    const statefulset = one(built, "StatefulSet", "softnet-cpu");
    const coordSvc = one(built, "Service", "softnet-coordinator");
    const headless = one(built, "Service", "softnet-cpu");
    const coord = container(deployment);
    const cpu = container(statefulset);

    assert.equal(deployment["spec"]["replicas"], 1);
    assert.equal(deployment["spec"]["strategy"]["type"], "Recreate");
    assert.ok(selects(coordSvc["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]));
    assert.ok(!selects(coordSvc["spec"]["selector"], statefulset["spec"]["template"]["metadata"]["labels"]), "the coordinator's Service does not select CPUs");
    assert.ok(selects(headless["spec"]["selector"], statefulset["spec"]["template"]["metadata"]["labels"]));
    assert.ok(!selects(headless["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"]), "the headless Service does not select the coordinator");
    assert.ok(selects(deployment["spec"]["selector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"]));
    assert.ok(selects(statefulset["spec"]["selector"]["matchLabels"], statefulset["spec"]["template"]["metadata"]["labels"]));

    // Ports: the coordinator binds what its Service targets.
    const containerPort = (c: Resource, name: string): number => (c["ports"] as Resource[]).find((p) => p["name"] === name)?.["containerPort"];
    const svcPort = (s: Resource, name: string): Resource => (s["spec"]["ports"] as Resource[]).find((p) => p["name"] === name)!;
    assert.equal(flag(coord["args"], "bind"), `tcp://0.0.0.0:${containerPort(coord, svcPort(coordSvc, "zmq")["targetPort"])}`);
    assert.equal(flag(coord["args"], "metrics-port"), String(containerPort(coord, svcPort(coordSvc, "metrics")["targetPort"])));
    assert.equal(flag(coord["args"], "metrics-host"), "0.0.0.0", "reachable by Prometheus and the probes");
    assert.equal(svcPort(coordSvc, "zmq")["port"], 5555);
    assert.equal(svcPort(coordSvc, "metrics")["port"], 9100);
    assert.equal(coord["readinessProbe"]["httpGet"]["path"], "/healthz");
    assert.equal(coord["readinessProbe"]["httpGet"]["port"], "metrics");
    const annotations = deployment["spec"]["template"]["metadata"]["annotations"];
    assert.equal(annotations["prometheus.io/scrape"], "true");
    assert.equal(annotations["prometheus.io/port"], String(svcPort(coordSvc, "metrics")["port"]));
    assert.equal(annotations["prometheus.io/path"], "/metrics");

    // The CPUs: the coordinator's Service by name, the headless one for peers.
    assert.equal(statefulset["spec"]["serviceName"], headless["metadata"]["name"]);
    assert.equal(headless["spec"]["clusterIP"], "None");
    assert.equal(headless["spec"]["publishNotReadyAddresses"], true);
    assert.equal(statefulset["spec"]["podManagementPolicy"], "Parallel");
    assert.equal(statefulset["spec"]["updateStrategy"]["type"], "OnDelete", "a new run replaces every CPU at once");
    assert.deepEqual(cpu["command"], ["softnet-emu"]);
    assert.equal(cpu["args"][0], "cpu");
    assert.equal(flag(cpu["args"], "coordinator"), `tcp://${coordSvc["metadata"]["name"]}:${svcPort(coordSvc, "zmq")["port"]}`);
    assert.equal(flag(cpu["args"], "advertise-host"), `$(POD_NAME).${headless["metadata"]["name"]}`);
    assert.equal(flag(cpu["args"], "bind"), `tcp://0.0.0.0:${containerPort(cpu, svcPort(headless, "peer")["targetPort"])}`);
    assert.equal(flag(cpu["args"], "id"), "$(SOFTNET_CPU_ID)");
    const cpuEnv = Object.fromEntries((cpu["env"] as Resource[]).map((e) => [e["name"], e]));
    assert.equal(cpuEnv["SOFTNET_CPU_ID"]?.["valueFrom"]["fieldRef"]["fieldPath"], "metadata.labels['apps.kubernetes.io/pod-index']");
    assert.equal(cpuEnv["POD_NAME"]?.["valueFrom"]["fieldRef"]["fieldPath"], "metadata.name");
    assert.equal(cpuEnv["NODE_OPTIONS"]?.["value"], CPU_NODE_FLAGS.join(" "), "the node flags `run` gives its CPU processes");
    assert.deepEqual(coord["command"], ["softnet-emu"]);
    assert.equal(coord["args"][0], "coordinator");
  });

  it("one Secret carries the run's secret to both and the control token to the coordinator", () => {
    const secret = one(built, "Secret", "softnet-emu-secrets");
    assert.match(secret["metadata"]["name"], /^softnet-emu-secrets-[a-z0-9]+$/, "named after its content: new secrets roll the pods");
    const decoded = (k: string): string => Buffer.from(String(secret["data"][k]).replace(/\s/g, ""), "base64").toString("utf8");
    assert.match(decoded("SOFTNET_SECRET"), /^[0-9a-f]{64}$/, "32 random bytes, hex (transport/auth.ts takes at least 16)");
    assert.match(decoded("SOFTNET_CONTROL_TOKEN"), /^[\x21-\x7e]{32,}$/, "printable ASCII without spaces (cli/control-token.ts)");
    const refs = (c: Resource): Record<string, string> =>
      Object.fromEntries((c["env"] as Resource[]).filter((e) => e["valueFrom"]?.["secretKeyRef"]).map((e) => [e["name"], `${e["valueFrom"]["secretKeyRef"]["name"]}/${e["valueFrom"]["secretKeyRef"]["key"]}`]));
    const name = secret["metadata"]["name"];
    assert.deepEqual(refs(container(one(built, "Deployment", "softnet-coordinator"))), { SOFTNET_SECRET: `${name}/SOFTNET_SECRET`, SOFTNET_CONTROL_TOKEN: `${name}/SOFTNET_CONTROL_TOKEN` });
    assert.deepEqual(refs(container(one(built, "StatefulSet", "softnet-cpu"))), { SOFTNET_SECRET: `${name}/SOFTNET_SECRET` }, "the CPUs never get the control token");
  });

  it("requests cover the measured peak RSS (CPU process 117 MB, coordinator 136 MB); no CPU limits", () => {
    const cpu = container(one(built, "StatefulSet", "softnet-cpu"))["resources"];
    const coord = container(one(built, "Deployment", "softnet-coordinator"))["resources"];
    assert.ok(bytes(cpu["requests"]["memory"]) >= 117 * MB, cpu["requests"]["memory"]);
    assert.ok(bytes(coord["requests"]["memory"]) >= 136 * MB, coord["requests"]["memory"]);
    // The limit also holds the CPU's readiness probe, a second node process (~50 MB).
    assert.ok(bytes(cpu["limits"]["memory"]) >= bytes(cpu["requests"]["memory"]) + 50 * MB);
    assert.ok(bytes(coord["limits"]["memory"]) > bytes(coord["requests"]["memory"]));
    assert.equal(cpu["limits"]["cpu"], undefined);
    assert.equal(coord["limits"]["cpu"], undefined);
  });

  it("the ServiceMonitor scrapes the coordinator's Service; the chaos experiments select pods that exist", () => {
    const coordSvc = one(built, "Service", "softnet-coordinator");
    const [monitor] = resourcesOf(join(K8S, "monitoring", "servicemonitor.yaml"));
    assert.equal(monitor?.["metadata"]["namespace"], NAMESPACE);
    assert.ok(selects(monitor!["spec"]["selector"]["matchLabels"], coordSvc["metadata"]["labels"]));
    for (const endpoint of monitor!["spec"]["endpoints"] as Resource[])
      assert.ok((coordSvc["spec"]["ports"] as Resource[]).some((p) => p["name"] === endpoint["port"]), `port ${endpoint["port"]}`);

    // Pods as the controllers label them: the template's labels (plus the pod index for CPUs).
    const statefulset = one(built, "StatefulSet", "softnet-cpu");
    const pods: Record<string, string>[] = [
      one(built, "Deployment", "softnet-coordinator")["spec"]["template"]["metadata"]["labels"],
      ...Array.from({ length: statefulset["spec"]["replicas"] }, (_, i) => ({ ...statefulset["spec"]["template"]["metadata"]["labels"], "apps.kubernetes.io/pod-index": String(i) })),
    ];
    const chaos = readdirSync(join(K8S, "chaos")).flatMap((f) => resourcesOf(join(K8S, "chaos", f)));
    assert.deepEqual(chaos.map((c) => `${c["kind"]}:${c["spec"]["action"]}`).sort(), ["NetworkChaos:delay", "NetworkChaos:partition", "PodChaos:pod-failure", "PodChaos:pod-kill"]);
    for (const c of chaos) {
      assert.equal(c["metadata"]["namespace"], NAMESPACE, describeResource(c));
      for (const sel of [c["spec"]["selector"], c["spec"]["target"]?.["selector"]].filter(Boolean)) {
        assert.deepEqual(sel["namespaces"], [NAMESPACE], describeResource(c));
        const matched = pods.filter((labels) => selects(sel["labelSelectors"], labels));
        assert.ok(matched.length > 0, `${describeResource(c)}: ${JSON.stringify(sel["labelSelectors"])} selects no pod`);
        if (c["spec"]["mode"] === "one" && sel === c["spec"]["selector"]) assert.ok(matched.every((l) => l["app.kubernetes.io/component"] === "cpu"), `${describeResource(c)}: hits CPUs only`);
      }
    }
  });

  it("the built commands run: the coordinator with its env and Secret, a CPU registers, the probe says so", async () => {
    const deployment = one(built, "Deployment", "softnet-coordinator");
    const statefulset = one(built, "StatefulSet", "softnet-cpu");
    const coordC = container(deployment);
    const cpuC = container(statefulset);
    const [zmqPort, httpPort] = [await freePort(), await freePort()];
    // What the cluster's network provides, moved to loopback: the Service names and the ports.
    const toLoopback = (a: string): string =>
      a
        .replace(/^--bind=tcp:\/\/0\.0\.0\.0:5555$/, `--bind=tcp://127.0.0.1:${zmqPort}`)
        .replace(/^--metrics-port=9100$/, `--metrics-port=${httpPort}`)
        .replace(/^--metrics-host=0\.0\.0\.0$/, "--metrics-host=127.0.0.1")
        .replace(/^--coordinator=tcp:\/\/softnet-coordinator:5555$/, `--coordinator=tcp://127.0.0.1:${zmqPort}`)
        .replace(/^--bind=tcp:\/\/0\.0\.0\.0:6000$/, "--bind=tcp://127.0.0.1:*");
    const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("SOFTNET_") && k !== "NODE_OPTIONS"));
    const procs: ChildProcess[] = [];
    const logs: string[] = [];
    const start = (c: Resource, env: Record<string, string>, tag: string): ChildProcess => {
      assert.deepEqual(c["command"], ["softnet-emu"]);
      const args = (c["args"] as string[]).map((a) => toLoopback(expand(a, env)));
      const p = spawn(process.execPath, [CLI, ...args], { env: { ...baseEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
      p.stdout!.on("data", (d: Buffer) => logs.push(`[${tag}] ${d}`));
      p.stderr!.on("data", (d: Buffer) => logs.push(`[${tag}] ${d}`));
      procs.push(p);
      return p;
    };
    const url = `http://127.0.0.1:${httpPort}`;
    const until = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
      const deadline = performance.now() + 30_000;
      for (;;) {
        const exited = procs.find((p) => p.exitCode !== null);
        if (exited) assert.fail(`a process exited (${exited.exitCode}) before ${what}:\n${logs.join("")}`);
        const v = await check().catch(() => undefined);
        if (v !== undefined) return v;
        if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}:\n${logs.join("")}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    try {
      const coordPod = { name: "softnet-coordinator-0", labels: deployment["spec"]["template"]["metadata"]["labels"] };
      const coordEnv = podEnv(coordC, coordPod, built);
      assert.equal(coordEnv["SOFTNET_CPUS"], String(statefulset["spec"]["replicas"]));
      start(coordC, coordEnv, "coordinator");
      // CPU 1, as the StatefulSet starts it (at the same time: it waits for the coordinator), its
      // id from the pod index and the run's secret from the Secret.
      const cpuPod = (i: number) => ({ name: `softnet-cpu-${i}`, labels: { ...statefulset["spec"]["template"]["metadata"]["labels"], "apps.kubernetes.io/pod-index": String(i) } });
      const cpuEnv = podEnv(cpuC, cpuPod(1), built);
      assert.equal(cpuEnv["SOFTNET_CPU_ID"], "1");
      assert.equal(cpuEnv["NODE_OPTIONS"], CPU_NODE_FLAGS.join(" "));
      start(cpuC, cpuEnv, "cpu 1");
      await until("/healthz", async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));

      // The control token from the Secret is the one the coordinator wants.
      const post = (headers: Record<string, string>) => fetch(`${url}/control/offline`, { method: "POST", headers, body: '{"cpu": 2}' });
      assert.equal((await post({})).status, 401);
      assert.equal((await post({ Authorization: "Bearer not-the-token" })).status, 401);
      assert.notEqual((await post({ Authorization: `Bearer ${coordEnv["SOFTNET_CONTROL_TOKEN"]}` })).status, 401);

      await until("cpu 1 registered", async () => {
        const s = (await (await fetch(`${url}/control/status`)).json()) as { registered?: number[] };
        return s.registered?.includes(1) ? true : undefined;
      });

      // The readiness probe, run as the kubelet would in each pod: ready for CPU 1, not for CPU 2.
      const probe = cpuC["readinessProbe"]["exec"]["command"] as string[];
      assert.equal(probe[0], "node");
      const runProbe = (i: number) =>
        new Promise<number | null>((resolve) => {
          const p = spawn(process.execPath, probe.slice(1).map((a) => a.replace("http://softnet-coordinator:9100", url)), { env: { ...baseEnv, ...podEnv(cpuC, cpuPod(i), built) }, stdio: "ignore" });
          p.on("exit", (code) => resolve(code));
        });
      assert.deepEqual(await Promise.all([runProbe(1), runProbe(2)]), [0, 1]);
    } finally {
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once("exit", () => resolve());
              p.kill("SIGTERM");
              setTimeout(() => p.kill("SIGKILL"), 5_000).unref();
            }),
        ),
      );
    }
  });
});
