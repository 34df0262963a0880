// Encode and decode the wire Envelope (proto/softnet.proto, loaded by schema.ts). One place that
// knows protobuf: the rest of the distributed engine sees plain objects, the model's own records
// (payloads.ts) among them.
import protobuf from "protobufjs";
import type { EmuConfig } from "../model/config.ts";
import { CHARGE_KIND_MAX, type CpuCommand, type PacketArrays, type EnqueueRecords, type PeerBatch } from "../model/messages.ts";
import type { CpuCounters } from "../model/results.ts";
import { envelopeBytes, type WireKey } from "./auth.ts";
import { commandToWire, configToWire, countersToWire, wireToCommand, wireToConfig, wireToCounters } from "./payloads.ts";
import { REFUSAL_CODES, type RefusalCode } from "./refusal.ts";
import { COORDINATOR_ID, MAX_CPU_ID, PROTOCOL_VERSION, wireEnum, wireType } from "./schema.ts";
import { BadPayload, enumNames, fromWire, sameNames, toWire } from "./wire-plain.ts";

export { COORDINATOR_ID, MAX_CPU_ID, PROTOCOL_VERSION };
export const EnvelopeType = wireType("Envelope");
const ErrorType = wireType("Error");
sameNames("ErrorCode", enumNames(wireEnum("ErrorCode")), REFUSAL_CODES);

export interface WirePackets {
  flow: number[];
  seq: number[];
  source: number[];
  inject_ns: number[];
  send_ns: number[];
}
export interface WireBatch {
  to: number;
  enqueues: WirePackets;
  flushes: PeerBatch["flushes"];
  queue_handovers: { queue: number; at_ns: number; napi_scheduled: boolean; ring: WirePackets; generator: number[] }[];
  cpu_dead: { oldcpu: number; at_ns: number; packets: WirePackets }[];
  forwarded: WirePackets;
  rfs_heads: PeerBatch["rfs_heads"];
  socket: WirePackets;
  charges: PeerBatch["charges"];
  host: PeerBatch["host"];
  /** Crash evidence: see CrashStamp. */
  report_seq: number;
  inject_floor: number[];
  unsure: boolean;
}

/** What a CPU stamps on its batches for the crash policy (proto/softnet.proto Batch). */
export interface CrashStamp {
  report_seq: number;
  inject_floor: number[];
  unsure: boolean;
}
export interface Hello {
  requested_id: number;
  endpoint: string;
  pid: number;
}
export interface Welcome {
  cpu: number;
  endpoints: string[];
  config: EmuConfig;
  commands: readonly CpuCommand[];
  lease_ns: number;
  heartbeat_ms: number;
  coordinator_timeout_ms: number;
  max_step_ns: number;
  progress_every_ns: number;
  series_interval_ns: number;
  check_interval_ns: number;
}
export interface DeadPeerReceipts {
  cpu: number;
  report_seq: number;
  fresh: number;
  later: boolean;
  unsure: boolean;
}
export interface Report {
  final: boolean;
  now_ns: number;
  /** At now_ns; absent from a progress report. */
  counters?: CpuCounters;
  tx_packets: number[];
  rx_packets: number[];
  lease_wait: boolean;
  /** Counts by MALFORMED_KINDS (decode_error, bad_version, unexpected, unauthenticated), cumulative. */
  malformed: number[];
  dead_receipts: DeadPeerReceipts[];
  messages_sent: number;
  bytes_sent: number;
  loop_iterations: number;
  waits: number;
  max_rss_bytes: number;
  sample: boolean;
  checkpoint: boolean;
  /** 1, 2, … per full report; 0 on progress and checkpoint-only reports. */
  seq: number;
}

/** The oneof body, tagged by its field name. */
export type Body =
  | { kind: "hello"; hello: Hello }
  | { kind: "welcome"; welcome: Welcome }
  | { kind: "batch"; batch: WireBatch }
  | { kind: "promise" }
  | { kind: "command"; command: CpuCommand }
  | { kind: "report"; report: Report }
  | { kind: "done" }
  | { kind: "shutdown"; reason: string }
  | { kind: "error"; code: RefusalCode; message: string }
  | { kind: "lease"; lease_ns: number; end_ns: number }
  | { kind: "peer_dead"; cpu: number; report_ns: number; report_seq: number }
  | { kind: "heartbeat" };
export type BodyKind = Body["kind"];

export interface Envelope {
  from: number;
  vouch_ns: number;
  body: Body;
}

/** Field value of each body kind on the wire. */
function wireBody(body: Body): object {
  switch (body.kind) {
    case "hello": return body.hello;
    case "welcome": return { ...body.welcome, config: configToWire(body.welcome.config), commands: body.welcome.commands.map(commandToWire) };
    case "batch": return body.batch;
    case "command": return commandToWire(body.command);
    case "report": return body.report.counters ? { ...body.report, counters: countersToWire(body.report.counters) } : body.report;
    case "shutdown": return { reason: body.reason };
    case "error": return toWire(ErrorType, { code: body.code, message: body.message });
    case "lease": return { lease_ns: body.lease_ns, end_ns: body.end_ns };
    case "peer_dead": return { cpu: body.cpu, report_ns: body.report_ns, report_seq: body.report_seq };
    case "promise":
    case "done":
    case "heartbeat":
      return {};
  }
}

/** The Envelope's protobuf bytes, without the frame's tag (tests and benchmarks; the wire wants encode()). */
export function encodeEnvelope(env: Envelope): Uint8Array {
  return EnvelopeType.encode(wireMessage(env)).finish();
}

function wireMessage(env: Envelope): object {
  return { version: PROTOCOL_VERSION, from: env.from, vouch_ns: env.vouch_ns, [env.body.kind]: wireBody(env.body) };
}

/** One wire frame: the Envelope sealed with the run's secret (transport/auth.ts); FrameTooLarge over the limit. */
export function encode(env: Envelope, key: WireKey): Uint8Array {
  // Room for the tag first (two raw fixed64 zeros = TAG_BYTES): one buffer, the Envelope never copied.
  const writer = protobuf.Writer.create().fixed64(0).fixed64(0);
  return key.sealInPlace(EnvelopeType.encode(wireMessage(env), writer).finish());
}

/** Kinds of bad frame, as observe/metrics.ts MALFORMED_KINDS counts them. */
export const MALFORMED_KINDS = ["decode_error", "bad_version", "unexpected", "unauthenticated"] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** What a CPU whose hello was refused for its secret prints (after "refused by the coordinator: "). */
export const AUTH_REFUSED = "wrong or missing secret: our hello did not verify with the coordinator's (--secret-file or SOFTNET_SECRET, the same for every process of the run)";

/** Why a frame was refused; the receiver counts and logs it, never throws. */
export class MalformedMessage extends Error {
  constructor(
    message: string,
    readonly kind: MalformedKind = "decode_error",
    /**
     * An unauthenticated frame's Envelope when it decodes (small frames only). Never to be acted on,
     * except to answer a hello (coordinator) or take the coordinator's refusal of ours (CPU).
     */
    readonly unverified?: Envelope,
  ) {
    super(message);
  }

  /**
   * The coordinator's refusal of our hello for its secret: an Error{code:"auth"} it sends with an
   * all-zero tag, since it cannot seal for a CPU that lacks the secret. A CPU acts on it only before
   * its welcome; returned as the letter to act on (our own words, not the frame's), else undefined.
   */
  get authRefusal(): Envelope | undefined {
    const u = this.unverified;
    if (this.kind !== "unauthenticated" || u?.from !== COORDINATOR_ID || u.body.kind !== "error" || u.body.code !== "auth") return undefined;
    return { from: COORDINATOR_ID, vouch_ns: 0, body: { kind: "error", code: "auth", message: AUTH_REFUSED } };
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- parse boundary: protobufjs message objects */
function packets(p: any, withSend: boolean): WirePackets {
  const out: WirePackets = {
    flow: p?.flow ?? [],
    seq: p?.seq ?? [],
    source: p?.source ?? [],
    inject_ns: p?.inject_ns ?? [],
    send_ns: p?.send_ns ?? [],
  };
  const n = out.flow.length;
  if (out.seq.length !== n || out.source.length !== n || out.inject_ns.length !== n || (withSend && out.send_ns.length !== n))
    throw new MalformedMessage(`packet arrays of unequal length (flow ${n}, seq ${out.seq.length}, source ${out.source.length}, inject_ns ${out.inject_ns.length}, send_ns ${out.send_ns.length})`);
  return out;
}

function batch(b: any): WireBatch {
  const flushes = { at_ns: b.flushes?.at_ns ?? [], flush_id: b.flushes?.flush_id ?? [], raised_softirq: b.flushes?.raised_softirq ?? [] };
  if (flushes.flush_id.length !== flushes.at_ns.length || flushes.raised_softirq.length !== flushes.at_ns.length)
    throw new MalformedMessage("flush arrays of unequal length");
  const rfs_heads = { at_ns: b.rfs_heads?.at_ns ?? [], passed: b.rfs_heads?.passed ?? [] };
  if (rfs_heads.passed.length !== rfs_heads.at_ns.length) throw new MalformedMessage("rfs_heads arrays of unequal length");
  const charges = { at_ns: b.charges?.at_ns ?? [], kind: b.charges?.kind ?? [], flush_id: b.charges?.flush_id ?? [] };
  if (charges.kind.length !== charges.at_ns.length || charges.flush_id.length !== charges.at_ns.length)
    throw new MalformedMessage("charge arrays of unequal length");
  if (charges.kind.some((k: number) => k > CHARGE_KIND_MAX)) throw new MalformedMessage("unknown charge kind");
  const host = { at_ns: b.host?.at_ns ?? [], demand: b.host?.demand ?? [] };
  if (host.demand.length !== host.at_ns.length) throw new MalformedMessage("host arrays of unequal length");
  if (host.demand.some((v: number) => !(v >= 0 && v <= 1))) throw new MalformedMessage("host demand outside 0..1");
  return {
    to: b.to,
    enqueues: packets(b.enqueues, true),
    flushes,
    queue_handovers: (b.queue_handovers ?? []).map((q: any) => ({
      queue: q.queue, at_ns: q.at_ns, napi_scheduled: q.napi_scheduled, ring: packets(q.ring, false), generator: q.generator ?? [],
    })),
    cpu_dead: (b.cpu_dead ?? []).map((d: any) => ({ oldcpu: d.oldcpu, at_ns: d.at_ns, packets: packets(d.packets, false) })),
    forwarded: packets(b.forwarded, true),
    rfs_heads,
    socket: packets(b.socket, true),
    charges,
    host,
    report_seq: b.report_seq,
    inject_floor: b.inject_floor ?? [],
    unsure: b.unsure,
  };
}

function body(m: any): Body {
  const kind: string | undefined = m.body;
  switch (kind) {
    case "hello": return { kind, hello: { requested_id: m.hello.requested_id, endpoint: m.hello.endpoint, pid: m.hello.pid } };
    case "welcome": {
      const w = m.welcome;
      return { kind, welcome: { cpu: w.cpu, endpoints: w.endpoints, config: wireToConfig(w.config), commands: w.commands.map(wireToCommand), lease_ns: w.lease_ns, heartbeat_ms: w.heartbeat_ms, coordinator_timeout_ms: w.coordinator_timeout_ms, max_step_ns: w.max_step_ns, progress_every_ns: w.progress_every_ns, series_interval_ns: w.series_interval_ns, check_interval_ns: w.check_interval_ns } };
    }
    case "batch": return { kind, batch: batch(m.batch) };
    case "command": return { kind, command: wireToCommand(m.command) };
    case "report": {
      const r = m.report;
      return { kind, report: { final: r.final, now_ns: r.now_ns, ...(r.counters ? { counters: wireToCounters(r.counters) } : {}), tx_packets: r.tx_packets, rx_packets: r.rx_packets, lease_wait: r.lease_wait, malformed: r.malformed,
        messages_sent: r.messages_sent, bytes_sent: r.bytes_sent, loop_iterations: r.loop_iterations, waits: r.waits, max_rss_bytes: r.max_rss_bytes, sample: r.sample, checkpoint: r.checkpoint, seq: r.seq,
        dead_receipts: r.dead_receipts.map((d: any) => ({ cpu: d.cpu, report_seq: d.report_seq, fresh: d.fresh, later: d.later, unsure: d.unsure })) } };
    }
    case "shutdown": return { kind, reason: m.shutdown.reason };
    case "error": {
      const { code, message } = fromWire(ErrorType, m.error, "error");
      return { kind, code, message };
    }
    case "lease": return { kind, lease_ns: m.lease.lease_ns, end_ns: m.lease.end_ns };
    case "peer_dead": return { kind, cpu: m.peer_dead.cpu, report_ns: m.peer_dead.report_ns, report_seq: m.peer_dead.report_seq };
    case "promise":
    case "done":
    case "heartbeat":
      return { kind };
    default:
      throw new MalformedMessage("no message body");
  }
}

/* eslint-enable @typescript-eslint/no-explicit-any */

/** Unverified frames up to this size are decoded for the log line and the hello refusal. */
const UNVERIFIED_PEEK_BYTES = 4096;

/**
 * Decode one wire frame. Throws MalformedMessage (never anything else): "unauthenticated" when its
 * tag does not verify under `key` (nothing of it is trusted), else as decodeEnvelope.
 */
export function decode(frame: Uint8Array, key: WireKey): Envelope {
  if (key.verify(frame)) return decodeEnvelope(envelopeBytes(frame));
  let unverified: Envelope | undefined;
  if (frame.length <= UNVERIFIED_PEEK_BYTES) {
    try {
      unverified = decodeEnvelope(envelopeBytes(frame));
    } catch {
      // garbage: unauthenticated all the same
    }
  }
  const claim = unverified ? ` claiming to be '${unverified.body.kind}' from ${unverified.from}` : "";
  const why = key.hasSecret ? "its tag does not verify: a sender without this run's secret" : "this process has no secret (--secret-file or SOFTNET_SECRET)";
  throw new MalformedMessage(`unauthenticated frame of ${frame.length} bytes${claim} (${why})`, "unauthenticated", unverified);
}

/**
 * Decode an Envelope's bytes (a frame without its tag). Throws MalformedMessage (never anything
 * else) for garbage, truncation, a wrong version or inconsistent arrays; `from` is the best guess at
 * the sender for the log line.
 */
export function decodeEnvelope(frame: Uint8Array): Envelope {
  let m;
  try {
    m = EnvelopeType.decode(frame) as unknown as { version: number; from: number; vouch_ns: number };
  } catch (e) {
    throw new MalformedMessage(`undecodable frame of ${frame.length} bytes (${(e as Error).message})`);
  }
  if (m.version !== PROTOCOL_VERSION)
    throw new MalformedMessage(`protocol version ${m.version} from ${m.from}, expected ${PROTOCOL_VERSION}`, "bad_version");
  if (m.from > MAX_CPU_ID && m.from !== COORDINATOR_ID) throw new MalformedMessage(`sender id ${m.from} out of range`);
  if (Number.isNaN(m.vouch_ns)) throw new MalformedMessage(`vouch_ns is NaN from ${m.from}`);
  try {
    return { from: m.from, vouch_ns: m.vouch_ns, body: body(m) };
  } catch (e) {
    if (e instanceof MalformedMessage || e instanceof BadPayload) throw new MalformedMessage(`${e.message} (from ${m.from})`, e.kind);
    throw new MalformedMessage(`bad message from ${m.from}: ${(e as Error).message}`);
  }
}

// ---- model <-> wire ---------------------------------------------------------------------

function wirePackets(p: PacketArrays | EnqueueRecords): WirePackets {
  return { flow: p.flow, seq: p.seq, source: p.source, inject_ns: p.inject_ns, send_ns: "send_ns" in p ? p.send_ns : [] };
}

export function batchToWire(b: PeerBatch, stamp: CrashStamp): WireBatch {
  return {
    to: b.to,
    enqueues: wirePackets(b.enqueues),
    flushes: b.flushes,
    queue_handovers: b.queue_handovers.map((q) => ({ ...q, ring: wirePackets(q.ring) })),
    cpu_dead: b.cpu_dead.map((d) => ({ ...d, packets: wirePackets(d.packets) })),
    forwarded: wirePackets(b.forwarded),
    rfs_heads: b.rfs_heads,
    socket: wirePackets(b.socket),
    charges: b.charges,
    host: b.host,
    ...stamp,
  };
}

function modelPackets(p: WirePackets): PacketArrays {
  return { flow: p.flow, seq: p.seq, source: p.source, inject_ns: p.inject_ns };
}

export function wireToBatch(from: number, w: WireBatch): PeerBatch {
  return {
    from,
    to: w.to,
    enqueues: w.enqueues,
    flushes: w.flushes,
    queue_handovers: w.queue_handovers.map((q) => ({ ...q, ring: modelPackets(q.ring) })),
    cpu_dead: w.cpu_dead.map((d) => ({ ...d, packets: modelPackets(d.packets) })),
    forwarded: w.forwarded,
    rfs_heads: w.rfs_heads,
    socket: w.socket,
    charges: w.charges,
    host: w.host,
  };
}

/** Packet records a batch moves from sender to receiver (what tx/rx accounting counts). */
export function batchPackets(b: { enqueues: { flow: number[] }; forwarded: { flow: number[] }; queue_handovers: { ring: { flow: number[] } }[]; cpu_dead: { packets: { flow: number[] } }[] }): number {
  let n = b.enqueues.flow.length + b.forwarded.flow.length;
  for (const q of b.queue_handovers) n += q.ring.flow.length;
  for (const d of b.cpu_dead) n += d.packets.flow.length;
  return n;
}
