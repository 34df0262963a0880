// The CPUs of a distributed run as the coordinator knows them: one Member per registered CPU, found
// by id or by the routing id of its control connection. At most `cpus` of them (a hello beyond is
// refused: coordinator/lifecycle.ts), so nothing here grows with the run.
import type { FailureDetector } from "../liveness/failure-detector.ts";
import type { CpuCounters } from "../model/results.ts";
import type { Hello, Report } from "../transport/codec.ts";
import { assert } from "../model/assert.ts";

export interface Member {
  cpu: number;
  routingId: Buffer;
  hello: Hello;
  /** Learns its gaps from the first message after the welcome on (start-up is never judged). */
  detector: FailureDetector | null;
  /** Logged as suspected (with exitsWatched: silent, but alive as far as we know). */
  suspected: boolean;
  /** When a dead member was last told so (it speaks again after a partition or a pause). */
  toldDeadMs: number;
  /** Latest full report (counters at report.now_ns). */
  report?: Report;
  counters?: CpuCounters;
  /** Latest clock it told us (full or progress report). */
  progressNs: number;
  final: boolean;
  dead: boolean;
  /** Dead peers whose receipts this CPU has reported (the end waits for every one); at most `cpus`. */
  acked: Set<number>;
}

export class Members {
  private readonly byId = new Map<number, Member>();
  private readonly byRoutingId = new Map<string, number>();

  constructor(readonly cpus: number) {}

  get size(): number {
    return this.byId.size;
  }

  has(cpu: number): boolean {
    return this.byId.has(cpu);
  }

  get(cpu: number): Member | undefined {
    return this.byId.get(cpu);
  }

  /** The CPU speaking on this connection, if it has registered. */
  idOf(routingId: Buffer): number | undefined {
    return this.byRoutingId.get(routingId.toString("hex"));
  }

  add(cpu: number, routingId: Buffer, hello: Hello): void {
    assert(cpu >= 0 && cpu < this.cpus && !this.byId.has(cpu), `cpu ${cpu} registered twice or out of range (0-${this.cpus - 1})`);
    this.byId.set(cpu, { cpu, routingId, hello, detector: null, suspected: false, toldDeadMs: 0, final: false, dead: false, acked: new Set(), progressNs: 0 });
    this.byRoutingId.set(routingId.toString("hex"), cpu);
  }

  /** Every member, in the order they registered. */
  all(): Member[] {
    return [...this.byId.values()];
  }

  /** Members not declared dead, in the order they registered. */
  live(): Member[] {
    return this.all().filter((m) => !m.dead);
  }

  /** Ids of the members declared dead, in the order they registered. */
  deadIds(): number[] {
    return this.all().filter((m) => m.dead).map((m) => m.cpu);
  }

  /** Every member sorted by CPU id. */
  sorted(): Member[] {
    return this.all().sort((a, b) => a.cpu - b.cpu);
  }

  /** Slowest and fastest live CPU's latest clock (0, 0 with none). */
  progressNs(): { min: number; max: number } {
    let min = Infinity;
    let max = 0;
    for (const m of this.live()) {
      min = Math.min(min, m.progressNs);
      max = Math.max(max, m.progressNs);
    }
    return { min: min === Infinity ? 0 : min, max };
  }
}
