// A result of the right shape for a configuration, every counter zero: assertion and claim
// expressions are checked on it before a run, so a misspelt path or a CPU index out of range
// costs no run. (Its own file: it needs the model, which the CLI loads only when it runs.)
import type { EmuConfig } from "../model/config.ts";
import { Cpu } from "../model/cpu.ts";
import type { RunResults } from "../model/results.ts";
import { emptyLiveness } from "../chaos/liveness.ts";
import { snapshotAt } from "./checked-run.ts";

/** With the liveness verdict every finished run has (not the snapshots abort conditions see). */
export function templateResults(cfg: EmuConfig): RunResults {
  const counters = Array.from({ length: cfg.cpus }, (_, i) => new Cpu(i, cfg).counters());
  return { ...snapshotAt(cfg, counters, 0, []), liveness: emptyLiveness(cfg) };
}
