// A chaos run on the distributed engine (one OS process per CPU). The model faults travel as the
// same commands as in-process, so they land at the same virtual times; `kill` and `pause` act on
// the CPU processes themselves — SIGKILL, or SIGSTOP then SIGCONT after `wall` — once the slowest
// CPU has reached their virtual time, as seen in the reports (every 10 ms of wall time in a run
// with process faults), and the coordinator's crash policy takes over (a CPU silent
// for the CPU timeout is declared dead; what it held is counted as lost_on_crash). Process faults
// happen on the wall clock, so where exactly they land in virtual time is not reproducible; each
// one's fault entry records the virtual time it actually hit (`hit_ns`).
import type { Fault, RunResults } from "../model/results.ts";
import type { ProcessesRunOptions, RunningRun } from "../coordinator/run-processes.ts";
import { partialOf } from "../engine/partial.ts";
import { checkerFor, type ChaosPlan } from "./runner.ts";
import { formatNemesis } from "./spec.ts";

/** Lease span (virtual time CPUs may run ahead of the slowest) while process faults are pending. */
export const PROCESS_FAULT_LEASE_NS = 2_000_000;

/** The engine's options a chaos run leaves to its caller (the schedule is the plan's; hooks are chained). */
export interface ChaosProcessesOptions extends Omit<ProcessesRunOptions, "commands"> {
  /** A process fault hit: every fault so far, `hit_ns` set on those that did (for fault metrics). */
  onFaultHit?: (faults: readonly Fault[]) => void;
}

export async function runChaosProcesses(plan: ChaosPlan, { onFaultHit, ...opts }: ChaosProcessesOptions = {}): Promise<RunResults> {
  const { runProcesses } = await import("../coordinator/run-processes.ts");
  const checker = checkerFor(plan, false);
  const faults = plan.faults.map((f) => ({ ...f, params: { ...f.params } }));
  const pending = faults.filter((f) => f.kind === "kill" || f.kind === "pause");
  const timers: NodeJS.Timeout[] = [];
  let running: RunningRun | null = null;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));

  const fire = (virtualNs: number): void => {
    while (running && pending.length > 0 && pending[0]!.at_ns <= virtualNs) {
      const f = pending.shift()!;
      const cpu = Number(f.target.replace("cpu ", ""));
      const child = running.children.find((c) => c.cpu === cpu);
      if (!child) continue;
      f.params.hit_ns = virtualNs;
      onFaultHit?.(faults);
      log(`[chaos] ${f.kind} cpu ${cpu} (pid ${child.pid}) at virtual ${virtualNs} ns`);
      try {
        process.kill(child.pid, f.kind === "kill" ? "SIGKILL" : "SIGSTOP");
      } catch {
        continue; // already gone
      }
      if (f.kind === "pause") {
        const t = setTimeout(() => {
          try {
            process.kill(child.pid, "SIGCONT");
          } catch {
            /* gone meanwhile */
          }
        }, Number(f.params.wall_ns) / 1e6);
        t.unref();
        timers.push(t);
      }
    }
  };

  try {
    const results = await runProcesses(plan.runCfg, {
      ...opts,
      // Short leases and frequent reports (progress and snapshots every 10 ms of wall time), so
      // process faults land close to their virtual time.
      ...(pending.length > 0 ? { leaseSpanNs: PROCESS_FAULT_LEASE_NS, heartbeatMs: 10 } : {}),
      commands: plan.commands,
      // Conservation at the in-process chaos run's checkpoints.
      checkIntervalNs: plan.checkIntervalNs,
      onRunning: (r) => {
        running = r;
        opts.onRunning?.(r);
        fire(0);
      },
      // Progress comes with every CPU report, snapshots every tick: fire at whichever is first.
      onProgress: (virtualNs, totalNs) => {
        fire(virtualNs);
        opts.onProgress?.(virtualNs, totalNs);
      },
      onSnapshot: (counters, status) => {
        checker.onSnapshot(counters, status.dead);
        opts.onSnapshot?.(counters, status);
        fire(status.virtual_ns_min);
      },
    });
    for (const f of pending) f.params.hit_ns = -1; // the run ended first
    checker.finish(results, faults, plan.nemeses.map(formatNemesis));
    return results;
  } catch (err) {
    // Stopped (a signal, a failure): its results so far are judged too, faults and verdict included.
    const partial = partialOf(err);
    if (partial) checker.finish(partial, faults.filter((f) => f.at_ns <= partial.virtual_ns), plan.nemeses.map(formatNemesis));
    throw err;
  } finally {
    for (const t of timers) clearTimeout(t);
  }
}
