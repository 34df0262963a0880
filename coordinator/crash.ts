// Accounting for a CPU process that died without an orderly offline (DESIGN.md §2.4): its counters
// stay at its last report, and what it held then — plus what peers sent it that it never took in,
// minus what survivors still received from it afterwards — is lost_on_crash.
import type { CpuCounters } from "../model/results.ts";
import type { DeadPeerReceipts } from "../proto/codec.ts";

export interface DeadCpu {
  cpu: number;
  /** Its last report: counters at now_ns. */
  last: CpuCounters;
}

export interface CrashAccount {
  /** The dead CPU's row as aggregate() must see it (see below). */
  row: CpuCounters;
  lost: number;
  /** Packets survivors got from it after its last report that it had held then / injected since. */
  held: number;
  fresh: number;
}

/**
 * `sentToDead`: packets every survivor put in batches for it, over the whole run (what it never
 * took in is in there). `receipts`: each survivor's DeadPeerReceipts for it.
 *
 * engine/aggregate.ts computes in_flight = Σ packets_out − Σ packets_in − lost_on_crash, so the
 * dead row is rewritten to keep that identity: queued becomes 0 (it is lost or escaped), the
 * fresh packets count as injected by it, the escaped ones as sent by it, and packets_in absorbs
 * the held-and-lost remainder. Per live CPU nothing changes.
 */
export function accountCrash(dead: DeadCpu, sentToDead: number, receipts: readonly DeadPeerReceipts[]): CrashAccount {
  const last = dead.last;
  let held = 0;
  let fresh = 0;
  for (const r of receipts) {
    held += r.held;
    fresh += r.fresh;
  }
  const unreceived = sentToDead - last.packets_in;
  // Not clamped: a negative figure is a bookkeeping bug the checker must see.
  const lost = last.queued - held + unreceived;
  const row: CpuCounters = {
    ...structuredClone(last),
    online: false,
    queued: 0,
    input_qlen: 0,
    process_qlen: 0,
    injected: last.injected + fresh,
    packets_out: last.packets_out + held + fresh,
    packets_in: last.packets_in - (last.queued - held),
  };
  return { row, lost, held, fresh };
}
