// Per-flow order, where the kernel guarantees it. A flow's packets stay in order as long as they
// all take one path: same RPS map, same IRQ CPU, no CPU of the path going away. RPS map changes,
// IRQ moves and hotplug (whose dev_cpu_dead re-injects a backlog through netif_rx) may reorder a
// flow; with RFS the kernel keeps order itself (a flow moves only once its old CPU drained it).
//
// What counters allow us to check: `reordered` per CPU (a packet processed on a CPU after a later
// packet of its flow was processed there). Rule: it may grow only in a *disturbed* stretch — from
// an order-breaking command until a checkpoint where nothing is queued or in flight (then every
// packet older than that point is gone, and no later packet can be older than one seen). Outside
// those stretches any growth is a violation. Reordering between two different CPUs is invisible
// to these counters and not checked (see docs/MODEL.md "Conservation and reordering").
import type { CpuCommand } from "../model/messages.ts";
import type { CpuCounters } from "../model/results.ts";

/** Commands after which a flow may legitimately be reordered. */
export function breaksOrder(c: CpuCommand): boolean {
  return c.kind === "offline" || c.kind === "online" || c.kind === "rps" || c.kind === "irq_affinity" || (c.kind === "sysctl" && c.key === "rps_sock_flow_entries");
}

export class OrderChecker {
  private readonly breaks: number[];
  private next = 0;
  private prevNs = 0;
  /** Disturbed at prevNs and not yet cleared by an empty checkpoint. */
  private carry = false;
  private readonly reordered: number[];
  readonly violations: string[] = [];
  /** Checkpoint intervals in which order was required (undisturbed). */
  checkedIntervals = 0;

  /** `breakTimesNs`: times of every order-breaking command (scenario events included). */
  constructor(cpuCount: number, breakTimesNs: readonly number[]) {
    this.breaks = [...breakTimesNs].sort((a, b) => a - b);
    this.reordered = new Array<number>(cpuCount).fill(0);
  }

  /**
   * Counters at checkpoint `atNs`; `empty`: nothing queued or in flight anywhere at atNs (only
   * known on a consistent cut, i.e. the in-process engine; pass false otherwise).
   */
  check(atNs: number, counters: readonly CpuCounters[], empty: boolean): void {
    let disturbed = this.carry;
    // A command at time t is applied after the checkpoint at t: it belongs to [prev, at).
    while (this.next < this.breaks.length && this.breaks[this.next]! < atNs) {
      if (this.breaks[this.next]! >= this.prevNs) disturbed = true;
      this.next++;
    }
    if (!disturbed) this.checkedIntervals++;
    for (const c of counters) {
      const grew = c.reordered - this.reordered[c.cpu]!;
      this.reordered[c.cpu] = c.reordered;
      if (grew > 0 && !disturbed && this.violations.length < 20)
        this.violations.push(
          `per-flow order: CPU ${c.cpu} processed ${grew} packet(s) out of flow order between ${this.prevNs} and ${atNs} ns, ` +
            "with no RPS map change, IRQ move or hotplug since everything last drained",
        );
    }
    this.carry = disturbed && !empty;
    this.prevNs = atNs;
  }
}
