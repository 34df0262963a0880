// CPU stalls: a vCPU losing its host processor (the host runs another guest or a host task, a
// noisy neighbour), or a host CPU taken by SMIs or firmware. While stalled the CPU runs nothing —
// not its hardirqs, softirqs or tasks — yet the rest of the machine goes on: peers enqueue to its
// backlog, the NIC fills its ring, timers come due. That is where a real kernel's squeezes and
// small-backlog drops below saturation come from (docs/MODEL.md, "Stalls").
//
// The schedule is a pure function of the run's seed and the CPU, drawn lazily stall by stall:
// gaps between stalls are exponential (a memoryless host scheduler), lengths log-normal (most
// stalls short, a heavy-ish tail of long ones: the host's time slices and their occasional pile-ups),
// cut at max_ns.
import type { StallConfig } from "./config.ts";
import { Rng, subSeed } from "./rng.ts";

/** Shape of the log-normal stall lengths (σ of the underlying normal): median 0.61 ×, p99 6.2 × the mean. */
export const STALL_SIGMA = 1;

/** Seed streams of the stall schedules: one per CPU, apart from the load sources' streams. */
const STALL_STREAM = 0x57a1_0000;

export class StallSchedule {
  private readonly rng: Rng;
  private readonly mu: number;

  constructor(
    private readonly cfg: StallConfig,
    seed: number,
    cpu: number,
  ) {
    this.rng = new Rng(subSeed(seed, STALL_STREAM + cpu));
    // E[exp(N(mu, σ²))] = exp(mu + σ²/2) = mean_ns (before the cut at max_ns).
    this.mu = Math.log(cfg.mean_ns) - (STALL_SIGMA * STALL_SIGMA) / 2;
  }

  /** Start of the next stall after `fromNs` (the end of the previous one, or 0). */
  nextStartNs(fromNs: number): number {
    return fromNs + Math.max(1, Math.round(this.rng.exponential(this.cfg.every_ns)));
  }

  /** Length of a stall: log-normal with the configured mean, at least 1 ns, at most max_ns. */
  lengthNs(): number {
    // Box–Muller: one standard normal from two uniforms (1 - u keeps the log finite).
    const u1 = 1 - this.rng.next();
    const u2 = this.rng.next();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.min(this.cfg.max_ns, Math.max(1, Math.round(Math.exp(this.mu + STALL_SIGMA * z))));
  }
}

/** Whether `cpu` is subject to stalls under `cfg`. */
export function stallsOn(cfg: StallConfig | undefined, cpu: number): cfg is StallConfig {
  return cfg !== undefined && cfg.cpus.includes(cpu);
}
