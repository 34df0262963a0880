// RPS IPIs (docs/DESIGN.md §1.3, §2.3): the enqueuer's flush of its rps_ipi_list, the target's
// decision under its own queue lock, the charge the enqueuer pays when it lands there, and the
// IPI's callback. Read beside net/core/dev.c.
import type { CpuState } from "./cpu-state.ts";
import { CHARGE_KIND, deliverAt } from "./messages.ts";
import { napiSchedule } from "./napi-schedule.ts";

/**
 * net_rps_action_and_irq_enable(): send the RPS IPIs this CPU owes. The targets decide which
 * ones are due (see messages.ts FlushRecords); `raisedSoftirq` marks a NET_RX raised only for this.
 */
// dev.c: net_rps_send_ipi()
export function flushRpsIpis(cpu: CpuState, atNs: number, raisedSoftirq: boolean): void {
  if (cpu.remoteSinceFlushCount === 0) return;
  const id = ++cpu.flushSeq;
  for (let target = 0; target < cpu.remoteSinceFlush.length; target++) {
    if (cpu.remoteSinceFlush[target] === 0) continue;
    cpu.remoteSinceFlush[target] = 0;
    const f = cpu.batchTo(target).flushes;
    f.at_ns.push(atNs);
    f.flush_id.push(id);
    f.raised_softirq.push(raisedSoftirq ? 1 : 0);
  }
  cpu.remoteSinceFlushCount = 0;
}

/** A peer's flush arrived: if its enqueue scheduled our backlog, its IPI is here now. */
// dev.c: net_rps_send_ipi()
export function ipiFlushArrived(cpu: CpuState, from: number, flushId: number, raised: boolean): void {
  if (!cpu.ipiOwed[from]) return;
  cpu.ipiOwed[from] = 0;
  if (!cpu.online) return; // net_rps_send_ipi() skips offline CPUs
  if (cpu.ipiDelayNs > 0 && cpu.now < cpu.ipiDelayUntilNs) cpu.pushTimer({ at: cpu.now + cpu.ipiDelayNs, prio: 1, seq: 0, kind: "ipi" });
  else cpu.ipiPending++;
  cpu.c.attributed.ipis_sent[from]!++;
  if (raised) recordUnlandedFlush(cpu, from, flushId);
  chargeEnqueuer(cpu, from, raised ? CHARGE_KIND.IPI_RAISED : CHARGE_KIND.IPI, flushId);
}

/**
 * The enqueuer raised NET_RX only for this flush: it counts that run when our charge lands there
 * (countLandedFlush); until then the flush id is kept here, where a snapshot can see it. Every
 * target of one flush decides at the same time, so all its charges land together: a flush is
 * either counted at the enqueuer or listed by each target that took its IPI (aggregate.ts merges).
 */
function recordUnlandedFlush(cpu: CpuState, enqueuer: number, flushId: number): void {
  const l = cpu.unlandedFlushes[enqueuer]!;
  while (l.landsAt.length > 0 && l.landsAt[0]! < cpu.now) {
    l.landsAt.shift();
    l.id.shift();
  }
  l.id.push(flushId);
  l.landsAt.push(deliverAt(cpu.now, cpu.costs.charge_latency_ns, cpu.windowNs));
}

/** A flush's charge landed here (online or not): one NET_RX run of ours, counted once per flush. */
function countLandedFlush(cpu: CpuState, atNs: number, flushId: number): void {
  if (atNs !== cpu.landedFlushesAtNs) {
    cpu.landedFlushes.clear();
    cpu.landedFlushesAtNs = atNs;
  }
  if (cpu.landedFlushes.has(flushId)) return;
  cpu.landedFlushes.add(flushId);
  cpu.c.net_rx_ipi_flushes!++;
}

/** Tell `enqueuer` what it owes for an IPI or a wake-up decided here now (messages.ts ChargeRecords). */
export function chargeEnqueuer(cpu: CpuState, enqueuer: number, kind: number, flushId: number): void {
  const c = cpu.batchTo(enqueuer).charges;
  c.at_ns.push(cpu.now);
  c.kind.push(kind);
  c.flush_id.push(flushId);
}

/**
 * A target's charge landed: pay for the IPI (and once per flush for the NET_RX run raised only to
 * send it) or the wake-up, in softirq time (net_rps_action_and_irq_enable, ____napi_schedule).
 */
export function chargeArrived(cpu: CpuState, atNs: number, kind: number, flushId: number): void {
  if (kind === CHARGE_KIND.IPI_RAISED) countLandedFlush(cpu, atNs, flushId);
  if (!cpu.online) return;
  const L = cpu.costs;
  if (kind === CHARGE_KIND.WAKEUP) return cpu.charge("softirq", L.wakeup_ns);
  let ns = L.ipi_send_ns;
  if (kind === CHARGE_KIND.IPI_RAISED) {
    // Every target of one flush decides at the same time, so its charges land together.
    if (atNs !== cpu.chargedAtNs) {
      cpu.chargedFlushes.clear();
      cpu.chargedAtNs = atNs;
    }
    if (!cpu.chargedFlushes.has(flushId)) {
      cpu.chargedFlushes.add(flushId);
      ns += L.softirq_entry_ns;
    }
  }
  cpu.charge("softirq", ns);
}

/** rps_trigger_softirq(): the IPI's callback on this CPU. */
// dev.c: rps_trigger_softirq()
export function rpsTriggerSoftirq(cpu: CpuState): void {
  napiSchedule(cpu, cpu.sd.backlog, true, "rps_ipi", cpu.now);
  cpu.sd.received_rps++;
}
