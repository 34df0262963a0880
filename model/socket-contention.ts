// Contention on the receiving socket: every CPU that processes packets for it writes the same
// lines — sk_receive_queue.lock, sk_rmem_alloc, the wake-up — so a delivery costs more the more
// CPUs deliver to it at once. Under a TCG guest on fewer host cores than vCPUs the lock's holder
// loses its host processor now and then, and every other deliverer spins until it runs again.
//
// Measured (the kernels' /proc/stat, docs/CALIBRATION.md "Where the CPUs' time goes"): a packet
// processed and delivered costs 4–5 µs of CPU time when the sender's CPU alone delivers
// (rps_cpus=0), 12–26 µs on each of three (e), 27–57 µs on each of four (f) — about a constant per
// pair of deliverers, not per other deliverer. So: `receiver.contention_ns` per delivery per pair
// of delivering CPUs. (A lone remote target paid 13–18 µs: remote processing is dearer by itself,
// which rps_remote_enqueue_ns charges to the enqueuer instead.)
//
// Which CPUs deliver is what get_rps_cpu() gives each source's flows (the hash over its online
// rps_cpus; without RPS, or on an offline target, the source's own CPU): known to every CPU from
// the configuration and the commands it has seen, so both engines charge the same without asking
// the socket's CPU. Left out: RFS's steering (no reference phase uses it), and a source's load
// phases with fewer flows than its largest (all of its flows count for the whole run).
import type { CpuState } from "./cpu-state.ts";
import { FLOWS_PER_SOURCE } from "./load.ts";
import { flowHash, reciprocalScale } from "./rng.ts";
import { rpsCpusOf } from "./rps.ts";
import { phasesOf, sourceCount, sourceOwner } from "./sources.ts";

/**
 * Which CPUs process packets for the socket (mask) and how many, under the current rps_cpus and
 * online CPUs; cached on the CPU until an rps, IRQ affinity or hotplug change.
 */
export function socketDeliverers(cpu: CpuState): { mask: Uint8Array; n: number } {
  if (cpu.socketDeliverers) return cpu.socketDeliverers;
  const cfg = cpu.cfg;
  const online = cpu.onlineMask;
  const mask = new Uint8Array(cfg.cpus);
  for (let s = 0; s < sourceCount(cfg); s++) {
    const flows = Math.max(0, ...phasesOf(cfg, s).map((p) => p.flows));
    if (flows === 0) continue;
    const home = sourceOwner(cfg, s, online);
    const rps = rpsCpusOf(cpu, s);
    for (let f = 0; f < flows; f++) {
      let target = home;
      if (rps.length > 0) {
        const t = rps[reciprocalScale(flowHash(s * FLOWS_PER_SOURCE + f, cfg.seed), rps.length)]!;
        if (online[t]) target = t;
      }
      if (target >= 0) mask[target] = 1;
    }
  }
  return (cpu.socketDeliverers = { mask, n: mask.reduce((n, d) => n + d, 0) });
}

/**
 * The contention part of one delivery at atNs: contention_ns per pair of delivering CPUs (0 for
 * one), and on a host, the spin on the lock while its holder waits for a core (model/host.ts).
 */
export function socketContentionNs(cpu: CpuState, atNs: number): number {
  const perPair = cpu.cfg.receiver?.contention_ns ?? 0;
  const host = cpu.host;
  if (perPair === 0 && (host === null || host.cfg.lock_hold === 0)) return 0;
  const { mask, n } = socketDeliverers(cpu);
  return (perPair * n * (n - 1)) / 2 + (host !== null && n > 1 ? host.lockSpinNs(atNs, mask) : 0);
}
