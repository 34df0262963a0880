// Bad frames by receiver, each by kind (transport/codec.ts MALFORMED_KINDS): "coordinator" for the
// ones we dropped, "cpu N" as each CPU's latest report says. Keyed by receiver, so at most cpus + 1.
import { MALFORMED_KINDS, type MalformedKind } from "../transport/codec.ts";

export class MalformedCounts {
  private readonly counts: Record<string, number[]> = { coordinator: MALFORMED_KINDS.map(() => 0) };

  constructor(private readonly log: (line: string) => void) {}

  /** One more bad frame at `receiver`; ours are logged (the first few, then every 100th). */
  count(receiver: string, kind: MalformedKind, why: string): void {
    const counts = (this.counts[receiver] ??= MALFORMED_KINDS.map(() => 0));
    counts[MALFORMED_KINDS.indexOf(kind)]!++;
    const total = counts.reduce((a, b) => a + b, 0);
    if (receiver === "coordinator" && (total <= 5 || total % 100 === 0)) this.log(`dropped malformed message #${total} (${kind}) from ${why}`);
  }

  /** A CPU's own counts, cumulative, from its latest report. */
  setCpu(cpu: number, counts: readonly number[]): void {
    this.counts[`cpu ${cpu}`] = [...counts];
  }

  view(): Record<string, Record<MalformedKind, number>> {
    const out: Record<string, Record<MalformedKind, number>> = {};
    for (const [who, counts] of Object.entries(this.counts)) out[who] = Object.fromEntries(MALFORMED_KINDS.map((k, i) => [k, counts[i] ?? 0])) as Record<MalformedKind, number>;
    return out;
  }
}
