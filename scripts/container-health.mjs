// @ts-check
// The compose services' health checks (docker-compose.yml), run inside their containers by Docker or
// by `podman healthcheck run`: plain Node, as the images have node but neither curl nor wget, and no
// tsx start-up on every check. Exit 0 healthy, 1 not, with one line saying why.
//
//   node scripts/container-health.mjs coordinator http://127.0.0.1:9100
//   node scripts/container-health.mjs cpu 2 http://coordinator:9100
//
// Both read the coordinator's GET /control/status (open without the control token) twice, SAMPLE_MS
// apart:
// - the coordinator is healthy while it waits for its CPUs (they start once it is healthy), while
//   its run advances (the slowest live CPU's virtual time grows between the two reads), while it
//   finishes and once its run is done; not when the run is stalled or failed, or it does not answer;
// - CPU N is healthy when the coordinator has it registered and not dead and, once the run is
//   running, its own virtual time grows between the two reads (registered is enough while the
//   coordinator still waits for the others).
// A paused CPU stalls the whole run (time is conservative), so every service turns unhealthy until
// it resumes or is declared dead; a dead CPU's check fails for good.

const SAMPLE_MS = Number(process.env["SOFTNET_HEALTH_SAMPLE_MS"] ?? 1000);

/** @param {string} why */
function unhealthy(why) {
  process.stdout.write(`unhealthy: ${why}\n`);
  process.exit(1);
}

/** @param {string} why */
function healthy(why) {
  process.stdout.write(`healthy: ${why}\n`);
  process.exit(0);
}

/**
 * @typedef {{ phase: string, registered: number[], dead: number[], virtual_ns_min: number,
 *   virtual_ns_by_cpu?: Record<string, number> }} Status
 * @param {string} base
 * @returns {Promise<Status>}
 */
async function status(base) {
  const r = await fetch(`${base}/control/status`, { signal: AbortSignal.timeout(1500) });
  if (!r.ok) throw new Error(`GET /control/status: HTTP ${r.status}`);
  return /** @type {Status} */ (await r.json());
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @param {Status} s
 * @param {number | undefined} cpu
 */
function clock(s, cpu) {
  if (cpu === undefined) return s.virtual_ns_min;
  // Coordinators without the per-CPU clocks: the slowest CPU's.
  return s.virtual_ns_by_cpu?.[String(cpu)] ?? s.virtual_ns_min;
}

async function main() {
  const [role, ...rest] = process.argv.slice(2);
  if (role !== "coordinator" && role !== "cpu") return unhealthy("usage: container-health.mjs coordinator URL | cpu ID URL");
  const cpu = role === "cpu" ? Number(rest.shift()) : undefined;
  const base = (rest[0] ?? "").replace(/\/+$/, "");
  if ((cpu !== undefined && !Number.isInteger(cpu)) || !/^https?:\/\//.test(base)) return unhealthy("usage: container-health.mjs coordinator URL | cpu ID URL");
  const who = cpu === undefined ? "coordinator" : `cpu ${cpu}`;

  let first;
  try {
    first = await status(base);
  } catch (e) {
    return unhealthy(`${who}: the coordinator at ${base} does not answer (${e instanceof Error ? e.message : String(e)})`);
  }
  if (cpu !== undefined) {
    if (!first.registered.includes(cpu)) return unhealthy(`cpu ${cpu} is not registered (phase ${first.phase})`);
    if (first.dead.includes(cpu)) return unhealthy(`cpu ${cpu} was declared dead`);
  }
  if (first.phase === "registering") return healthy(`${who}: waiting for the CPUs (registered ${JSON.stringify(first.registered)})`);
  if (first.phase === "failed") return unhealthy(`${who}: the run failed`);
  if (first.phase !== "running") return healthy(`${who}: the run is ${first.phase}`);

  await sleep(SAMPLE_MS);
  let second;
  try {
    second = await status(base);
  } catch (e) {
    return unhealthy(`${who}: the coordinator at ${base} stopped answering (${e instanceof Error ? e.message : String(e)})`);
  }
  if (cpu !== undefined && second.dead.includes(cpu)) return unhealthy(`cpu ${cpu} was declared dead`);
  if (second.phase === "failed") return unhealthy(`${who}: the run failed`);
  const [t0, t1] = [clock(first, cpu), clock(second, cpu)];
  if (second.phase === "running" && !(t1 > t0)) return unhealthy(`${who}: virtual time stuck at ${t1} ns for ${SAMPLE_MS} ms`);
  return healthy(`${who}: virtual time ${t0} → ${t1} ns in ${SAMPLE_MS} ms (${second.phase})`);
}

await main();
