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

/** How many CPUs process packets for the socket under the current rps_cpus and online CPUs. */
export function socketDeliverers(cpu: CpuState): number {
  const cfg = cpu.cfg;
  const online = cpu.onlineMask;
  const delivers = new Uint8Array(cfg.cpus);
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
      if (target >= 0) delivers[target] = 1;
    }
  }
  return delivers.reduce((n, d) => n + d, 0);
}

/** The contention part of one delivery: contention_ns per pair of delivering CPUs (0 for one). */
export function socketContentionNs(cpu: CpuState): number {
  const perPair = cpu.cfg.receiver?.contention_ns ?? 0;
  if (perPair === 0) return 0;
  if (cpu.socketDeliverers < 0) cpu.socketDeliverers = socketDeliverers(cpu);
  const n = cpu.socketDeliverers;
  return (perPair * n * (n - 1)) / 2;
}
