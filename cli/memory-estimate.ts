// How much memory `--engine processes` will take, before it starts one Node process per CPU.
// A 256-CPU run needs ~18 GB; on a smaller machine it used to start and then thrash or meet the
// OOM killer half-way through registration. Refuse above what the machine has, warn above half.
import { freemem, totalmem } from "node:os";
import { UsageError } from "../config/errors.ts";

/**
 * Peak RSS of one CPU process: 68–69 MB per CPU measured over 10 seeds of a 64-CPU standard run
 * (`npm run bench -- distributed`, 4.37–4.40 GB in all), rounded up.
 */
export const CPU_PROCESS_BYTES = 70e6;
/** The coordinator and the CLI process around it. */
export const COORDINATOR_BYTES = 150e6;

export function processesEngineBytes(cpus: number): number {
  return COORDINATOR_BYTES + cpus * CPU_PROCESS_BYTES;
}

/**
 * The memory a run may plan for: the machine's, or its cgroup's limit when that is lower (a
 * container sees the host's total). `SOFTNET_EMU_MEMORY` (bytes, or with a K/M/G suffix) says
 * it outright, for a host shared with other work.
 */
export function availableBytes(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.SOFTNET_EMU_MEMORY;
  if (given !== undefined && given !== "") {
    const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?$/i.exec(given.trim());
    if (!m) throw new UsageError(`SOFTNET_EMU_MEMORY: '${given}' is not a size: expected bytes or e.g. 8G, 512M`);
    const scale = { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2]!.toUpperCase()]!;
    return Number(m[1]) * scale;
  }
  const cgroup = process.constrainedMemory?.() ?? 0;
  // cgroup v1 reports "no limit" as a huge number; 0 means none either.
  return cgroup > 0 && cgroup < totalmem() ? cgroup : totalmem();
}

/** A warning line, or nothing; throws a UsageError when the run cannot fit. */
export function checkProcessesMemory(cpus: number, available = availableBytes()): string | undefined {
  const need = processesEngineBytes(cpus);
  const gb = (b: number): string => `${(b / 1e9).toFixed(1)} GB`;
  if (need > available)
    throw new UsageError(
      `--cpus ${cpus}: the process engine needs about ${gb(need)} (${CPU_PROCESS_BYTES / 1e6} MB per CPU process) and this machine has ${gb(available)}; use fewer CPUs or --engine inprocess`,
    );
  if (need > available / 2)
    return `--cpus ${cpus}: the process engine needs about ${gb(need)} of this machine's ${gb(available)} (${gb(freemem())} free now)`;
  return undefined;
}
