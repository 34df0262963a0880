// Offline checks of Kubernetes resources, for test/k8s/manifests.test.ts.
//
// Built-in kinds and the ServiceMonitor are checked against the JSON schemas that
// kubernetes-models and @kubernetes-models/prometheus-operator compile from the Kubernetes and
// Prometheus Operator OpenAPI specs (types, enums, required fields, formats). Those schemas allow
// unknown fields, as the OpenAPI spec does; the API server does not (kubectl's default field
// validation is Strict), so a misspelt field is found here too: each field of a valid resource is
// replaced in turn by a value no schema accepts, and a field whose replacement raises no error at
// its own path is one the schema does not know.
//
// Chaos Mesh publishes no schema on npm: its resources are checked by hand against the fields of
// its API (chaos-mesh.org/v1alpha1, Chaos Mesh 2.x), for what k8s/chaos/ uses.
import { parseAllDocuments } from "yaml";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

export type Resource = Record<string, any>;

interface SchemaError {
  instancePath: string;
  message?: string;
}

/** The models this folder uses, by apiVersion and kind. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  "v1/Namespace": Namespace,
  "v1/Service": Service,
  "v1/Secret": Secret,
  "v1/ConfigMap": ConfigMap,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor,
};

export function describeResource(r: Resource): string {
  return `${r["kind"] ?? "?"}/${r["metadata"]?.["name"] ?? "?"}`;
}

/** Every YAML document of a text, as plain objects; a YAML syntax error throws. */
export function parseResources(text: string, where: string): Resource[] {
  const out: Resource[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors.map((e) => e.message).join("; ")}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${where}: a document that is not a mapping`);
    out.push(value as Resource);
  }
  return out;
}

/** Schema errors of one resource (empty: valid), as "Kind/name: /path message". */
export function schemaErrors(r: Resource): string[] {
  const key = `${r["apiVersion"]}/${r["kind"]}`;
  if (String(r["apiVersion"]).startsWith("chaos-mesh.org/")) return chaosMeshErrors(r);
  const model = MODELS[key];
  if (!model) return [`${describeResource(r)}: no schema here for ${key} (add its model to test/k8s/schema.ts)`];
  // Secret data is base64, which kustomize wraps at 70 columns; the API server decodes it with Go's
  // encoding/base64, which skips line breaks, while the schema's "byte" format does not.
  if (key === "v1/Secret" && r["data"]) r = { ...r, data: Object.fromEntries(Object.entries(r["data"]).map(([k, v]) => [k, typeof v === "string" ? v.replace(/[\r\n]/g, "") : v])) };
  const errors = validateWith(model, r);
  if (errors.length > 0) return errors.map((e) => `${describeResource(r)}: ${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  return unknownFields(model, r).map((path) => `${describeResource(r)}: ${path}: unknown field (not in the ${key} schema)`);
}

function validateWith(model: new (data: never) => { validate(): void }, r: Resource): SchemaError[] {
  try {
    new model(r as never).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors)) throw e;
    return errors;
  }
}

/** JSON Pointer escaping, as ajv writes instancePath. */
const pointer = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** Paths of the fields of a valid resource that its schema does not constrain at all. */
function unknownFields(model: new (data: never) => { validate(): void }, r: Resource): string[] {
  const unknown: string[] = [];
  const visit = (node: unknown, path: string[]): void => {
    if (Array.isArray(node)) return node.forEach((item, i) => visit(item, [...path, String(i)]));
    if (node === null || typeof node !== "object") return;
    for (const [key, value] of Object.entries(node)) {
      const at = [...path, key];
      const copy = structuredClone(r);
      let parent: Resource = copy;
      for (const step of path) parent = parent[step];
      parent[key] = Symbol("no schema accepts this");
      const atPointer = at.map(pointer).map((s) => `/${s}`).join("");
      const hit = validateWith(model, copy).some((e) => e.instancePath === atPointer || e.instancePath.startsWith(`${atPointer}/`));
      if (!hit) unknown.push(atPointer);
      else visit(value, at);
    }
  };
  visit(r, []);
  return unknown;
}

// ----------------------------------------------------------------------------- Chaos Mesh

const CHAOS_MODES = ["one", "all", "fixed", "fixed-percent", "random-max-percent"];
const POD_SELECTOR = ["namespaces", "nodes", "pods", "nodeSelectors", "fieldSelectors", "labelSelectors", "annotationSelectors", "expressionSelectors", "podPhaseSelectors"];
const CHAOS_SPECS: Record<string, { fields: string[]; actions: string[] }> = {
  PodChaos: {
    fields: ["selector", "mode", "value", "containerNames", "action", "duration", "gracePeriod", "remoteCluster"],
    actions: ["pod-kill", "pod-failure", "container-kill"],
  },
  NetworkChaos: {
    fields: ["selector", "mode", "value", "action", "duration", "direction", "target", "targetDevice", "externalTargets", "device", "delay", "loss", "duplicate", "corrupt", "bandwidth", "rate", "remoteCluster"],
    actions: ["netem", "delay", "loss", "duplicate", "corrupt", "partition", "bandwidth"],
  },
};
const DELAY = ["latency", "jitter", "correlation", "reorder"];
/** Go's time.ParseDuration, which Chaos Mesh uses, without the sign. */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

function chaosMeshErrors(r: Resource): string[] {
  const errors: string[] = [];
  const at = describeResource(r);
  const bad = (path: string, what: string): void => void errors.push(`${at}: ${path} ${what}`);
  const onlyKnown = (obj: unknown, path: string, known: string[]): void => {
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return bad(path, "must be an object");
    for (const k of Object.keys(obj)) if (!known.includes(k)) bad(`${path}/${k}`, "unknown field");
  };
  const stringMap = (obj: unknown, path: string): void => {
    if (obj === undefined) return;
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return bad(path, "must be a map of strings");
    for (const [k, v] of Object.entries(obj)) if (typeof v !== "string") bad(`${path}/${k}`, "must be a string");
  };
  const selector = (sel: unknown, path: string): void => {
    onlyKnown(sel, path, POD_SELECTOR);
    const s = (sel ?? {}) as Resource;
    if (s["namespaces"] !== undefined && !(Array.isArray(s["namespaces"]) && s["namespaces"].every((n: unknown) => typeof n === "string")))
      bad(`${path}/namespaces`, "must be a list of strings");
    stringMap(s["labelSelectors"], `${path}/labelSelectors`);
  };
  const mode = (m: unknown, path: string): void => {
    if (!CHAOS_MODES.includes(m as string)) bad(path, `must be one of ${CHAOS_MODES.join(", ")}`);
  };

  if (r["apiVersion"] !== "chaos-mesh.org/v1alpha1") bad("/apiVersion", "must be chaos-mesh.org/v1alpha1");
  const spec = CHAOS_SPECS[r["kind"] as string];
  if (!spec) return [`${at}: /kind: not a Chaos Mesh kind checked here (${Object.keys(CHAOS_SPECS).join(", ")})`];
  onlyKnown(r, "", ["apiVersion", "kind", "metadata", "spec"]);
  const meta = (r["metadata"] ?? {}) as Resource;
  if (typeof meta["name"] !== "string" || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(meta["name"])) bad("/metadata/name", "must be a DNS label");
  if (typeof meta["namespace"] !== "string") bad("/metadata/namespace", "is required (the experiment runs in a namespace)");
  const s = r["spec"] as Resource | undefined;
  if (!s || typeof s !== "object") return [...errors, `${at}: /spec is required`];
  onlyKnown(s, "/spec", spec.fields);
  if (!spec.actions.includes(s["action"])) bad("/spec/action", `must be one of ${spec.actions.join(", ")}`);
  mode(s["mode"], "/spec/mode");
  if (s["selector"] === undefined) bad("/spec/selector", "is required");
  else selector(s["selector"], "/spec/selector");
  if (s["duration"] !== undefined && !(typeof s["duration"] === "string" && GO_DURATION.test(s["duration"]))) bad("/spec/duration", "must be a Go duration string (30s, 2m)");
  if (s["gracePeriod"] !== undefined && !(Number.isInteger(s["gracePeriod"]) && s["gracePeriod"] >= 0)) bad("/spec/gracePeriod", "must be an integer >= 0");
  if (s["action"] === "pod-failure" && s["duration"] === undefined) bad("/spec/duration", "is required for pod-failure");
  if (s["action"] === "container-kill" && !Array.isArray(s["containerNames"])) bad("/spec/containerNames", "is required for container-kill");
  if (r["kind"] === "NetworkChaos") {
    if (s["direction"] !== undefined && !["to", "from", "both"].includes(s["direction"])) bad("/spec/direction", "must be to, from or both");
    if (s["target"] !== undefined) {
      onlyKnown(s["target"], "/spec/target", ["selector", "mode", "value"]);
      selector(s["target"]?.["selector"], "/spec/target/selector");
      mode(s["target"]?.["mode"], "/spec/target/mode");
    }
    if (s["action"] === "partition" && s["target"] === undefined && s["externalTargets"] === undefined) bad("/spec/target", "is required for a partition (or externalTargets)");
    if (s["action"] === "delay") {
      if (s["delay"] === undefined) bad("/spec/delay", "is required for delay");
      else {
        onlyKnown(s["delay"], "/spec/delay", DELAY);
        for (const k of ["latency", "jitter"])
          if (s["delay"][k] !== undefined && !(typeof s["delay"][k] === "string" && GO_DURATION.test(s["delay"][k]))) bad(`/spec/delay/${k}`, "must be a Go duration string");
        if (s["delay"]["latency"] === undefined) bad("/spec/delay/latency", "is required");
        if (s["delay"]["correlation"] !== undefined && !(typeof s["delay"]["correlation"] === "string" && /^\d+(\.\d+)?$/.test(s["delay"]["correlation"])))
          bad("/spec/delay/correlation", 'must be a percentage as a string ("0" to "100")');
      }
    }
  }
  return errors;
}
