// The times of the commands still to apply that change the lookahead (hotplug, IRQ moves, RFS on or
// off): model/lookahead.ts needs the earliest at every promise, many times per window. A min-heap
// with lazy removal makes that O(1) and each command O(log n), where a scan per promise made a long
// chaos schedule (10^5 hotplug commands for two virtual minutes) crawl.
import { Heap } from "./heap.ts";

export class PendingTimes {
  private readonly heap = new Heap<number>((a, b) => a < b);
  /** How many of each time are still pending. */
  private readonly live = new Map<number, number>();
  /** Removed, still in the heap until they reach its top. */
  private readonly dead = new Map<number, number>();

  add(atNs: number): void {
    this.heap.push(atNs);
    this.live.set(atNs, (this.live.get(atNs) ?? 0) + 1);
  }

  /** One pending command at `atNs` was applied (none pending at that time: nothing to do). */
  remove(atNs: number): void {
    const n = this.live.get(atNs) ?? 0;
    if (n === 0) return;
    if (n === 1) this.live.delete(atNs);
    else this.live.set(atNs, n - 1);
    this.dead.set(atNs, (this.dead.get(atNs) ?? 0) + 1);
  }

  /** The earliest pending time, Infinity when none is. */
  earliest(): number {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined) return Infinity;
      const d = this.dead.get(top) ?? 0;
      if (d === 0) return top;
      if (d === 1) this.dead.delete(top);
      else this.dead.set(top, d - 1);
      this.heap.pop();
    }
  }
}
