// What this CPU received from each peer, per report of that peer: the crash policy's evidence.
// Every batch carries the sender's last report time (last_report_ns); if the sender later dies,
// the packets it sent after that report are no longer with it, so they must not count as lost
// (held: injected before the report, so among what the report said it held) and those injected
// after it were never in its counters (fresh: added to injected). See coordinator/crash.ts.
import type { WireBatch } from "../proto/codec.ts";

/** Reports of a peer whose receipts are kept; older ones cannot matter to a crash any more. */
const KEYS_MAX = 8;

export class Receipts {
  private readonly byPeer: Map<number, { held: number; fresh: number }>[];

  constructor(cpus: number) {
    this.byPeer = Array.from({ length: cpus }, () => new Map());
  }

  note(from: number, w: WireBatch): void {
    const key = w.last_report_ns;
    const map = this.byPeer[from]!;
    let r = map.get(key);
    if (!r) {
      r = { held: 0, fresh: 0 };
      map.set(key, r);
      if (map.size > KEYS_MAX) map.delete(map.keys().next().value!);
    }
    const count = (inject: number[]): void => {
      for (const t of inject) if (t < key) r.held++;
      else r.fresh++;
    };
    count(w.enqueues.inject_ns);
    count(w.forwarded.inject_ns);
    for (const q of w.queue_handovers) count(q.ring.inject_ns);
    for (const d of w.cpu_dead) count(d.packets.inject_ns);
  }

  /** Packets received from `cpu` in batches sent after its report at `reportNs`. */
  since(cpu: number, reportNs: number): { held: number; fresh: number } {
    let held = 0;
    let fresh = 0;
    for (const [key, r] of this.byPeer[cpu]!) {
      if (key < reportNs) continue;
      held += r.held;
      fresh += r.fresh;
    }
    return { held, fresh };
  }
}
