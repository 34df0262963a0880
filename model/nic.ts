// The NIC side of a queue (docs/DESIGN.md §1.11): DMA of arrived packets into the RX ring, and
// the queue's interrupt with its coalescing (ethtool rx-usecs / rx-frames). The driver's poll is
// in softirq.ts (devicePollStep), napi_schedule from its IRQ handler in napi-schedule.ts. No dev.c
// counterpart: this is the device and its driver (e.g. virtio_net's skb_recv_done()).
import { assert } from "./assert.ts";
import type { CpuState } from "./cpu-state.ts";
import { NAPI_STATE_SCHED } from "./napi.ts";
import type { SourceState } from "./sources.ts";

// driver: the device's DMA into the RX descriptors.
/** The NIC DMAs every packet that arrived up to atNs into the ring; a full ring drops. */
export function nicFillRing(cpu: CpuState, s: SourceState, atNs: number): void {
  const g = s.gen;
  assert(s.ring.length <= s.ringSize, "NIC ring longer than its size");
  while (g.peekNs() <= atNs) {
    const at = g.take();
    cpu.c.injected++;
    s.lastInjectNs = at;
    if (s.ring.length >= s.ringSize) cpu.drop("rx_ring_full");
    else s.ring.push(g.flow, g.seq, s.index, at, cpu.id);
  }
}

/**
 * When an armed queue interrupts: its first waiting packet's arrival plus rx-usecs, or the
 * arrival that makes rx-frames packets. With a frame count each arrival before the IRQ is an
 * event (nicInterrupt counts it); without one arrivals are only DMA'd when the ring is read.
 */
function irqAt(cpu: CpuState, s: SourceState): number {
  const next = s.gen.peekNs();
  const first = s.ring.length > 0 ? s.ring.peekInject() : next;
  let t = first + s.coalesceNs;
  if (s.coalesceFrames > 0) {
    if (s.ring.length >= s.coalesceFrames) t = cpu.now;
    else if (next < t) t = next;
  }
  return Math.max(cpu.now, t);
}

/** The earliest interrupt of a queue whose IRQ is armed (its NAPI not scheduled). */
export function nextNicIrqNs(cpu: CpuState): number {
  let t = Infinity;
  const nics = cpu.nicSources;
  for (let i = 0; i < nics.length; i++) {
    const s = nics[i]!;
    if (s.napi.state & NAPI_STATE_SCHED) continue;
    const at = irqAt(cpu, s);
    if (at < t) t = at;
  }
  return t;
}

// driver: the RX interrupt handler (virtio_net: skb_recv_done() → virtqueue_napi_schedule()).
/** A NIC IRQ at `at`: packets reached an armed queue. */
export function nicInterrupt(cpu: CpuState, at: number): void {
  for (const s of cpu.nicSources) {
    if (s.napi.state & NAPI_STATE_SCHED) continue;
    if (irqAt(cpu, s) === at) {
      nicFillRing(cpu, s, at);
      // rx-frames: an arrival before the count is reached (and before rx-usecs ran out) only counts.
      if (s.coalesceFrames > 0 && s.ring.length < s.coalesceFrames && s.ring.length > 0 && at < s.ring.peekInject() + s.coalesceNs) return;
      s.napi.state |= NAPI_STATE_SCHED; // the IRQ is masked until the NAPI completes (napi_schedule in the handler)
      cpu.nicIrqPending.push(s.index);
      return;
    }
  }
}
