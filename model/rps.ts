// Receive packet steering (docs/DESIGN.md §1.2): get_rps_cpu() with RFS's flow tables, and the
// per-pair input_queue_head reports RFS compares last_qtail with. Read beside net/core/dev.c.
import type { CpuState } from "./cpu-state.ts";
import { flowHash, reciprocalScale } from "./rng.ts";
import type { SourceState } from "./sources.ts";

/**
 * get_rps_cpu(): the CPU whose backlog should take this packet, or -1 to handle it here.
 * An offline target gives -1: no re-hash (docs/DESIGN.md §1.2).
 */
// dev.c: get_rps_cpu()
export function getRpsCpu(cpu: CpuState, rpsCpus: readonly number[], s: SourceState | null, flow: number): number {
  const rfs = s !== null && cpu.rfsOn && s.rpsFlowCnt > 0;
  if (rpsCpus.length === 0 && !rfs) return -1;
  const hash = flowHash(flow, cpu.cfg.seed);
  const online = cpu.onlineMask;
  if (rfs) {
    const nextCpu = rfsDesiredCpu(cpu, flow);
    if (nextCpu >= 0) {
      const slot = hash & (s.rpsFlowCnt - 1);
      let tcpu = s.rfsCpu[slot]!;
      // Move the flow only when its old CPU can no longer reorder it: unset, offline, or every
      // packet we queued there (last_qtail) has left its backlog (input_queue_head passed it).
      if (tcpu !== nextCpu && (tcpu < 0 || !online[tcpu] || cpu.rfsPassedSeen[tcpu]! - s.rfsLastQtail[slot]! >= 0)) {
        tcpu = nextCpu;
        s.rfsCpu[slot] = nextCpu; // set_rps_cpu()
        s.rfsLastQtail[slot] = cpu.rfsPassedSeen[nextCpu]!;
      }
      if (tcpu >= 0 && online[tcpu]) return tcpu;
    }
  }
  if (rpsCpus.length > 0) {
    const tcpu = rpsCpus[reciprocalScale(hash, rpsCpus.length)]!;
    if (online[tcpu]) return tcpu;
  }
  return -1;
}

/**
 * rps_sock_flow_table: where the flow's consumer last called recvmsg(). The emulator pins each
 * flow's consumer to a CPU chosen by a seeded hash; a consumer whose CPU is offline has no entry.
 */
function rfsDesiredCpu(cpu: CpuState, flow: number): number {
  const c = reciprocalScale(flowHash(flow, cpu.cfg.seed ^ 0x5f5f5f5f), cpu.cfg.cpus);
  return cpu.onlineMask[c] ? c : -1;
}

/** After an enqueue on `target` through an RFS slot, remember its tail (rflow->last_qtail). */
// dev.c: rps_input_queue_tail_save()
export function rfsSaveTail(cpu: CpuState, s: SourceState | null, flow: number, target: number): void {
  if (!cpu.rfsOn) return;
  const tail = ++cpu.rfsSent[target]!;
  if (s === null || s.rpsFlowCnt === 0) return;
  const slot = flowHash(flow, cpu.cfg.seed) & (s.rpsFlowCnt - 1);
  if (s.rfsCpu[slot] === target) s.rfsLastQtail[slot] = tail;
}

/** The source's rps_cpus as this CPU sees them now (the `rps` command rewrites them). */
export function rpsCpusOf(cpu: CpuState, source: number): readonly number[] {
  const nq = cpu.cfg.queues.length;
  return source < nq ? cpu.cfg.queues[source]!.rps_cpus : cpu.cfg.senders[source - nq]!.rps_cpus;
}

/** A packet left this CPU's backlog: RFS accounting per enqueuer (see messages.ts rfs_heads). */
// dev.c: rps_input_queue_head_incr()
export function rfsPassed(cpu: CpuState, enqueuer: number): void {
  if (cpu.rfsOn) cpu.rfsPassedFrom[enqueuer]!++;
}

/** Report moved input_queue_heads to the enqueuers (RFS only). */
export function rfsReport(cpu: CpuState, atNs: number): void {
  if (!cpu.rfsOn) return;
  for (let e = 0; e < cpu.cfg.cpus; e++) {
    const passed = cpu.rfsPassedFrom[e]!;
    if (passed === cpu.rfsPassedReported[e]) continue;
    cpu.rfsPassedReported[e] = passed;
    if (e === cpu.id) cpu.rfsPassedSeen[e] = passed;
    else {
      const r = cpu.batchTo(e).rfs_heads;
      r.at_ns.push(atNs);
      r.passed.push(passed);
    }
  }
}
