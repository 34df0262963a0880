// The process engine's synchronisation (proto/PROTOCOL.md, "Synchronisation") re-enacted in one
// process over model Cpus, with a seeded adversarial schedule: which CPU moves next, how many of
// the messages waiting for it it takes (in FIFO order per peer, as one PUSH→PULL pipe gives them)
// and how far it advances are all drawn at random. Every batch is checked on delivery: a record
// that takes effect before its target's clock means a promise was broken (the target already ran
// past the record's time on the word of the sender). Tests compare the final counters with the
// in-process engine's, so a broken promise shows twice.
import type { EmuConfig } from "../../model/config.ts";
import { Cpu } from "../../model/cpu.ts";
import { exactWindowNs } from "../../model/defaults.ts";
import { deliverAt, type CpuCommand, type PeerBatch } from "../../model/messages.ts";
import type { CpuCounters } from "../../model/results.ts";

interface Message {
  batch: PeerBatch | null;
  vouch: number;
}

export interface SyncRun {
  counters: CpuCounters[];
  /** Records that reached a CPU after it had passed their effect time (must be empty). */
  violations: string[];
  /** How many promise-carrying messages went out (a proxy for the process engine's wall time). */
  messages: number;
  /** Loop iterations of every CPU, like cpu-node's "steps". */
  steps: number;
}

/** mulberry32: a small seeded generator for the schedule (not the model's). */
function scheduleRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The effect times of every record of a batch at its target (as Cpu.recordAt computes them). */
function effectTimes(cfg: EmuConfig, b: PeerBatch): { kind: string; at: number }[] {
  const L = cfg.costs;
  const w = cfg.window_ns;
  const out: { kind: string; at: number }[] = [];
  for (const s of b.enqueues.send_ns) out.push({ kind: "enqueue", at: deliverAt(s, L.rps_latency_ns, w) });
  for (const s of b.forwarded.send_ns) out.push({ kind: "forward", at: deliverAt(s, L.rps_latency_ns, w) });
  for (const s of b.flushes.at_ns) out.push({ kind: "flush", at: deliverAt(s, L.ipi_latency_ns, w) });
  for (const h of b.queue_handovers) out.push({ kind: "queue", at: deliverAt(h.at_ns, L.hotplug_latency_ns, w) });
  for (const h of b.cpu_dead) out.push({ kind: "cpu_dead", at: deliverAt(h.at_ns, L.hotplug_latency_ns, w) });
  for (const s of b.rfs_heads.at_ns) out.push({ kind: "rfs", at: deliverAt(s, L.rps_latency_ns, w) });
  for (const s of b.socket.send_ns) out.push({ kind: "socket", at: deliverAt(s, L.rps_latency_ns, w) });
  for (const s of b.charges.at_ns) out.push({ kind: "charge", at: deliverAt(s, L.charge_latency_ns, w) });
  return out;
}

/**
 * Run `cfg` (plus `commands`) to its end the way CPU processes do: each CPU advances to the
 * smallest vouch it holds, then sends its batches and its promise. `maxStepNs` bounds one advance
 * (cpu-node's max_step_ns); the schedule draws a step between one nanosecond and that.
 */
export function runSynchronised(cfg: EmuConfig, scheduleSeed: number, commands: readonly CpuCommand[] = [], maxStepNs = Math.max(cfg.window_ns, 1_000_000)): SyncRun {
  const n = cfg.cpus;
  const end = cfg.duration_ns;
  const rnd = scheduleRng(scheduleSeed);
  const cpus = Array.from({ length: n }, (_, i) => new Cpu(i, cfg));
  for (const cmd of commands) for (const c of cpus) c.command(cmd);
  // inbox[to][from]: the pipe from `from` to `to`.
  const inbox: Message[][][] = Array.from({ length: n }, () => Array.from({ length: n }, () => []));
  const vouch = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, p) => (p === i ? Infinity : 0)));
  const sentVouch = Array.from({ length: n }, () => new Array<number>(n).fill(-1));
  const finished = new Array<boolean>(n).fill(false);
  const asleep = new Array<number>(n).fill(0);
  const violations: string[] = [];
  const minMove = exactWindowNs(cfg.costs);
  let messages = 0;
  let steps = 0;
  let lastProgress = 0;

  const send = (from: number, to: number, m: Message) => {
    sentVouch[from]![to] = m.vouch;
    inbox[to]![from]!.push(m);
    messages++;
  };

  for (let iter = 0; ; iter++) {
    if (iter - lastProgress > 200_000) {
      const state = cpus.map((c, k) => `cpu ${k}: clock ${c.clock}, holds ${vouch[k]!.join("/")}, promise ${c.promiseNs(Math.min(end, ...vouch[k]!))}`);
      throw new Error(`runSynchronised: no progress (a deadlock): ${state.join("; ")}`);
    }
    if (finished.every(Boolean) && inbox.every((row) => row.every((q) => q.length === 0))) break;
    // Bursty, starving schedules: a CPU may sleep for hundreds of turns (a descheduled process).
    const drawn = Math.floor(rnd() * n);
    let i = drawn;
    for (let k = 0; k < n; k++) {
      const c = (drawn + k) % n;
      if (asleep[c]! <= iter) {
        i = c;
        break;
      }
      if (asleep[c]! < asleep[i]!) i = c; // all asleep: the first to wake
    }
    if (rnd() < 0.02) asleep[i] = iter + 1 + Math.floor(rnd() * 400);
    const cpu = cpus[i]!;
    steps++;
    // Take some of what waits, FIFO per peer.
    for (let p = 0; p < n; p++) {
      const q = inbox[i]![p]!;
      const take = rnd() < 0.7 ? q.length : Math.floor(rnd() * (q.length + 1));
      for (const m of q.splice(0, take)) {
        // A batch to itself (a CPU that goes down after its online command came hands its queues
        // to itself) is delivered, as the in-process engine does.
        if (m.batch) {
          for (const r of effectTimes(cfg, m.batch))
            if (r.at < cpu.clock && violations.length < 20)
              violations.push(`cpu ${i} at ${cpu.clock} got a ${r.kind} from cpu ${p} taking effect at ${r.at}`);
          cpu.deliver(m.batch);
        }
        if (p !== i) vouch[i]![p] = m.vouch;
      }
    }
    let inputBound = end;
    for (let p = 0; p < n; p++) if (vouch[i]![p]! < inputBound) inputBound = vouch[i]![p]!;
    if (inputBound > cpu.clock && !finished[i]) {
      const r = rnd();
      const step = r < 0.3 ? maxStepNs : Math.max(1, Math.floor(r * r * maxStepNs));
      cpu.advance(Math.min(inputBound, cpu.clock + step));
      lastProgress = iter;
    }
    if (!finished[i] && cpu.clock >= end) finished[i] = true;
    // Promises per destination, as cpu-node/time.ts gives them.
    const promise = (to: number) => (finished[i] ? Infinity : cpu.promiseToNs(inputBound, to));
    for (const b of cpu.takeOutbox()) send(i, b.to, { batch: b, vouch: promise(b.to) });
    for (let p = 0; p < n; p++) {
      const v = promise(p);
      if (p === i || sentVouch[i]![p]! >= v) continue;
      if (v !== Infinity && v - sentVouch[i]![p]! < minMove && sentVouch[i]![p]! >= 0) continue;
      send(i, p, { batch: null, vouch: v });
    }
  }
  return { counters: cpus.map((c) => c.counters()), violations, messages, steps };
}
