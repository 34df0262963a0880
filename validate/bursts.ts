// The NIC phases' bursts, replayed. Under TCG, QEMU's I/O thread fills virtio-net's receive ring
// while the vCPU runs and interrupts once the driver re-arms (virtnet_poll completes): how many
// packets one interrupt brings is QEMU's doing and the host's, and it varies far more than any
// kernel mechanism — 14.6 per interrupt in 6.12-generic's p1, 151 in p2 of the same boot, 33.6 in
// the same code path's p1 on the next boot. So validate replays it, as it replays the arrival rate:
// each NIC run's `rx_usecs` is chosen so that the model's packets per interrupt are the kernel's
// phase's (rx_packets / virtio interrupts). What the kernel does with a burst (NET_RX runs per
// interrupt, packets per IPI, drops, squeezes) is then the model's to reproduce.
import type { EmuConfig } from "../model/config.ts";
import type { RunResults } from "../model/results.ts";
import type { NicPhase } from "./reference.ts";

/** Where the search looks, in µs, and how close to the kernel's packets per interrupt it stops. */
export const RX_USECS_MIN = 1;
export const RX_USECS_MAX = 20_000;
const CLOSE_ENOUGH = 1.02;

/** The kernel's packets per virtio interrupt in a phase; undefined when it counted no interrupt. */
export function kernelPacketsPerIrq(p: NicPhase): number | undefined {
  return p.virtioIrqs > 0 ? p.rxPackets / p.virtioIrqs : undefined;
}

/** The model's: packets the NIC DMA'd into its rings per interrupt it raised. */
export function modelPacketsPerIrq(r: RunResults): number {
  let irqs = 0;
  for (const c of r.cpus) for (const n of c.nic_irqs) irqs += n;
  return irqs > 0 ? r.totals.injected / irqs : Infinity;
}

/** The run with every NIC queue coalescing for `rxUsecs`. */
export function withRxUsecs(cfg: EmuConfig, rxUsecs: number): EmuConfig {
  return { ...cfg, queues: cfg.queues.map((q) => ({ ...q, rx_usecs: rxUsecs })) };
}

export interface BurstFit {
  rxUsecs: number;
  /** The kernel's packets per interrupt (the target) and the model's at rxUsecs. */
  kernel: number;
  model: number;
}

/**
 * Search each run's rx_usecs until the model's packets per interrupt are within 2 % of the target:
 * packets per interrupt grow with rx_usecs, roughly as a power, so each step interpolates between
 * the bracket's ends on a log-log scale (bisecting instead when that would barely move an end).
 * All runs advance together, one batch per step, so `runAll` can run a batch in parallel. Every
 * run is seeded: the same inputs give the same fit.
 */
export async function fitRxUsecs(
  cfgs: readonly EmuConfig[],
  targets: readonly number[],
  runAll: (cfgs: EmuConfig[]) => Promise<RunResults[]>,
): Promise<BurstFit[]> {
  const at = async (us: number[]) => (await runAll(cfgs.map((c, i) => withRxUsecs(c, us[i]!)))).map(modelPacketsPerIrq);
  const lo = cfgs.map(() => RX_USECS_MIN);
  const hi = cfgs.map(() => RX_USECS_MAX);
  const loV = await at(lo);
  const hiV = await at(hi);
  const miss = (v: number, t: number) => Math.abs(Math.log(v / t));
  const close = (i: number) => Math.min(miss(loV[i]!, targets[i]!), miss(hiV[i]!, targets[i]!)) < Math.log(CLOSE_ENOUGH);
  const open = (i: number) => loV[i]! < targets[i]! && hiV[i]! > targets[i]! && hi[i]! - lo[i]! > 1 && !close(i);
  const next = (i: number) => {
    const [a, b] = [Math.log(lo[i]!), Math.log(hi[i]!)];
    const f = (Math.log(targets[i]!) - Math.log(loV[i]!)) / (Math.log(hiV[i]!) - Math.log(loV[i]!));
    const g = f > 0.05 && f < 0.95 ? f : 0.5;
    return Math.min(hi[i]! - 1, Math.max(lo[i]! + 1, Math.round(Math.exp(a + g * (b - a)))));
  };
  for (;;) {
    const idx = cfgs.map((_, i) => i).filter(open);
    if (idx.length === 0) break;
    const mid = idx.map(next);
    const v = await runAll(idx.map((i, j) => withRxUsecs(cfgs[i]!, mid[j]!)));
    idx.forEach((i, j) => {
      const m = modelPacketsPerIrq(v[j]!);
      if (m < targets[i]!) {
        lo[i] = mid[j]!;
        loV[i] = m;
      } else {
        hi[i] = mid[j]!;
        hiV[i] = m;
      }
    });
  }
  return cfgs.map((_, i) => {
    const t = targets[i]!;
    const useHi = miss(hiV[i]!, t) < miss(loV[i]!, t);
    return { rxUsecs: useHi ? hi[i]! : lo[i]!, kernel: t, model: useHi ? hiV[i]! : loV[i]! };
  });
}
