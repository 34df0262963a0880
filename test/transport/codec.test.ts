// The wire codec: every message kind survives a round trip, the model's records (counters, the
// configuration of every example, every command kind) come back as the very objects the model
// builds, and garbage of any shape is refused with MalformedMessage (never another exception), as
// proto/PROTOCOL.md promises.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { EXIT } from "../../config/exit-codes.ts";
import { resolveConfig } from "../../config/resolve.ts";
import { loadScenario } from "../../config/scenario.ts";
import { newCounters } from "../../model/counters.ts";
import { COMMAND_KINDS, emptyBatch, type CommandKind, type CpuCommand } from "../../model/messages.ts";
import type { CpuCounters } from "../../model/results.ts";
import {
  COORDINATOR_ID,
  EnvelopeType,
  MalformedMessage,
  PROTOCOL_VERSION,
  batchToWire,
  // The Envelope codec under test; frames (its bytes sealed with the run's secret): auth.test.ts.
  decodeEnvelope as decode,
  encodeEnvelope as encode,
  wireToBatch,
  type Body,
  type Report,
  type Welcome,
} from "../../transport/codec.ts";
import { REFUSAL_CODES, Refused } from "../../transport/refusal.ts";

function sampleBatch() {
  const b = emptyBatch(1, 2);
  b.enqueues = { flow: [5, 7], seq: [0, 1], source: [0, 0], inject_ns: [1000, 2500], send_ns: [1370, 2870] };
  b.flushes = { at_ns: [3000], flush_id: [4], raised_softirq: [1] };
  b.queue_handovers = [{ queue: 0, at_ns: 4000, napi_scheduled: true, ring: { flow: [9], seq: [3], source: [0], inject_ns: [3999] }, generator: [1, 2.5, 4294967295] }];
  b.cpu_dead = [{ oldcpu: 3, at_ns: 5000, packets: { flow: [1, 2], seq: [8, 9], source: [1, 1], inject_ns: [10, 20] } }];
  b.forwarded = { flow: [11], seq: [12], source: [0], inject_ns: [100], send_ns: [200] };
  b.rfs_heads = { at_ns: [6000], passed: [17] };
  b.charges = { at_ns: [7000, 7000], kind: [1, 2], flush_id: [4, 0] };
  b.host = { at_ns: [6_000_000, 12_000_000], demand: [1, 0.25] };
  return b;
}

const NO_STAMP = { report_seq: 0, inject_floor: [], unsure: false };

/** A counters row with something in every kind of field, as a CPU reports it at the end. */
function sampleCounters(): CpuCounters {
  const c = newCounters(2, 3, 2);
  c.processed = 123_456;
  c.online = false;
  c.backlog_scheduled = true;
  c.nic_irqs = [7, 0];
  c.softirq_raises.rps_ipi = 41;
  c.busy_ns.stalled = 2 ** 40;
  c.drops_by_reason.flow_limit = 3;
  c.latency_buckets[14] = 1;
  c.latency_max_ns = 99_000_000;
  c.now_ns = 50_000_000;
  c.attributed = { ipis_sent: [0, 4, 1], flow_limit_count: [0, 0, 2], ipi_softirq_flushes: [[], [1, 2, 9], [4]] };
  return c;
}

/** One command of each kind: the mapped type fails to compile when a kind has none. */
const COMMANDS: { [K in CommandKind]: Extract<CpuCommand, { kind: K }> } = {
  offline: { kind: "offline", cpu: 3, at_ns: 1_000_000 },
  online: { kind: "online", cpu: 3, at_ns: 2_000_000 },
  rate: { kind: "rate", source: 1, pps: 250_000, at_ns: 0 },
  hot_flow: { kind: "hot_flow", source: 0, share: 0.25, at_ns: 5 },
  sysctl: { kind: "sysctl", key: "netdev_max_backlog", value: 64, at_ns: 7 },
  rps: { kind: "rps", source: 2, cpus: [1, 2, 3], at_ns: 8 },
  irq_affinity: { kind: "irq_affinity", queue: 0, cpus: [], at_ns: 9 },
  irq_off: { kind: "irq_off", cpu: 2, duration_ns: 50_000, at_ns: 9 },
  ipi_delay: { kind: "ipi_delay", cpu: 1, extra_ns: 5000, until_ns: 9e6, at_ns: 2e6 },
};

function welcome(w: Partial<Welcome>): Welcome {
  return { cpu: 3, endpoints: ["a", "b"], config: resolveConfig(undefined), commands: [], lease_ns: 7, heartbeat_ms: 100, coordinator_timeout_ms: 3000, max_step_ns: 200_000, progress_every_ns: 2_500_000, series_interval_ns: 0, check_interval_ns: 100_000, ...w };
}

function report(r: Partial<Report>): Report {
  return { final: true, now_ns: 10, tx_packets: [1, 2], rx_packets: [3, 4], lease_wait: false, malformed: [1, 0, 2], dead_receipts: [{ cpu: 1, report_seq: 5, fresh: 3, later: true, unsure: false }], messages_sent: 5, bytes_sent: 600, loop_iterations: 7, waits: 1, max_rss_bytes: 5e7, sample: false, checkpoint: true, seq: 9, ...r };
}

/** A body through the wire and back. */
function roundTrip(body: Body): Body {
  return decode(encode({ from: COORDINATOR_ID, vouch_ns: 0, body })).body;
}

test("a PeerBatch crosses the wire unchanged", () => {
  const b = sampleBatch();
  const env = decode(encode({ from: 1, vouch_ns: 123_456, body: { kind: "batch", batch: batchToWire(b, { report_seq: 7, inject_floor: [-2, 150, -1], unsure: true }) } }));
  assert.equal(env.from, 1);
  assert.equal(env.vouch_ns, 123_456);
  assert.equal(env.body.kind, "batch");
  if (env.body.kind !== "batch") return;
  assert.equal(env.body.batch.report_seq, 7);
  assert.deepEqual(env.body.batch.inject_floor, [-2, 150, -1]);
  assert.equal(env.body.batch.unsure, true);
  assert.deepEqual(wireToBatch(1, env.body.batch), b);
});

test("an infinite promise survives (a CPU that never sends)", () => {
  const env = decode(encode({ from: 2, vouch_ns: Infinity, body: { kind: "promise" } }));
  assert.equal(env.vouch_ns, Infinity);
  assert.equal(env.body.kind, "promise");
});

test("every message kind round-trips", () => {
  const bodies: Body[] = [
    { kind: "hello", hello: { requested_id: -1, endpoint: "tcp://127.0.0.1:4000", pid: 42 } },
    { kind: "welcome", welcome: welcome({ commands: [COMMANDS.offline, COMMANDS.online] }) },
    { kind: "command", command: COMMANDS.irq_off },
    { kind: "report", report: report({ counters: sampleCounters() }) },
    // A progress report: no counters, and none made up on the way.
    { kind: "report", report: report({ final: false, checkpoint: false }) },
    { kind: "done" },
    { kind: "shutdown", reason: "run over" },
    { kind: "error", code: "duplicate_id", message: "cpu id 1 is already taken" },
    { kind: "lease", lease_ns: 1e7, end_ns: 2e7 },
    { kind: "peer_dead", cpu: 2, report_ns: 77, report_seq: 4 },
    { kind: "heartbeat" },
  ];
  for (const body of bodies) assert.deepEqual(roundTrip(body), body);
});

test("counters come back as the model's object, keys in newCounters() order (the results JSON)", () => {
  const c = sampleCounters();
  const back = roundTrip({ kind: "report", report: report({ counters: c }) });
  assert.ok(back.kind === "report" && back.report.counters);
  assert.equal(JSON.stringify(back.report.counters), JSON.stringify(c));
  // A checkpoint's counters leave the attributed lists out (copyCounters(c, false)).
  const empty = { ...c, attributed: { ipis_sent: [], flow_limit_count: [], ipi_softirq_flushes: [] } };
  const back2 = roundTrip({ kind: "report", report: report({ counters: empty }) });
  assert.ok(back2.kind === "report");
  assert.deepEqual(back2.report.counters, empty);
});

test("the configuration of every example round-trips", () => {
  const dir = join(import.meta.dirname, "../../examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));
  assert.ok(files.length >= 10, `examples: ${files.join(", ")}`);
  let withReceiver = 0;
  let withStalls = 0;
  for (const file of files) {
    const config = resolveConfig(loadScenario(join(dir, file)));
    const back = roundTrip({ kind: "welcome", welcome: welcome({ config }) });
    assert.ok(back.kind === "welcome");
    assert.deepEqual(back.welcome.config, config, file);
    assert.equal(JSON.stringify(back.welcome.config), JSON.stringify(config), `${file}: key order`);
    if (config.receiver) withReceiver++;
    if (config.stalls) withStalls++;
  }
  // The optional parts were on the wire too (and absent ones stayed absent: deepEqual is strict).
  assert.ok(withReceiver > 0 && withStalls > 0, `receiver in ${withReceiver}, stalls in ${withStalls} examples`);
});

test("every kind of configuration union and optional field round-trips", () => {
  const config = resolveConfig(undefined, { load: "loopback" });
  config.load = [
    { ...config.load[0]!, rate: { kind: "onoff", pps: 1e5, on_ns: 1e6, off_ns: 2e6 }, popularity: { kind: "zipf", s: 1.1 }, catch_up: true },
    { ...config.load[0]!, rate: { kind: "max" } },
    { ...config.load[0]!, rate: { kind: "poisson", pps: 3 }, catch_up: false },
  ];
  config.profile = { ...config.profile, threaded_wakeup: "conditional" };
  config.events = [{ at_ns: 5, cpu: 1, action: "offline" }, { at_ns: 9, cpu: 1, action: "online" }];
  config.receiver = { cpu: 1, rmem: { kind: "packets", limit: 64 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 2500 };
  config.queues = [{ id: 0, irq_affinity: [0], ring_size: 256, rps_cpus: [1], rps_flow_cnt: 0 }];
  config.host = { cores: 2, slice_ns: 4e6, busy_share: 0.05, wake_wait_ns: 1e6, slice_wait: 0.03, others: 0, lock_hold: 0.5 };
  const back = roundTrip({ kind: "welcome", welcome: welcome({ config }) });
  assert.ok(back.kind === "welcome");
  assert.deepEqual(back.welcome.config, config);
});

test("every command kind round-trips with its arguments, in the model's key order", () => {
  assert.deepEqual(Object.keys(COMMANDS), COMMAND_KINDS);
  for (const cmd of Object.values(COMMANDS)) {
    const back = roundTrip({ kind: "command", command: cmd });
    assert.ok(back.kind === "command");
    assert.equal(JSON.stringify(back.command), JSON.stringify(cmd));
  }
});

test("each refusal code crosses as itself and becomes a Refused error with exit code 2", () => {
  for (const code of REFUSAL_CODES) {
    assert.deepEqual(roundTrip({ kind: "error", code, message: `no: ${code}` }), { kind: "error", code, message: `no: ${code}` });
    const e = new Refused(code, "x");
    assert.ok(e instanceof Error);
    assert.equal(e.code, code);
    assert.equal(e.exitCode, EXIT.usage);
  }
});

function refused(frame: Uint8Array, kind?: string, what?: string): void {
  assert.throws(() => decode(frame), (e: unknown) => e instanceof MalformedMessage && (kind === undefined || e.kind === kind), what);
}

/** A frame of protobufjs objects as given, past the codec's own encoding (a forger's or a bug's). */
function raw(fields: object): Uint8Array {
  return EnvelopeType.encode({ version: PROTOCOL_VERSION, from: COORDINATOR_ID, vouch_ns: 0, ...fields }).finish();
}

test("a command without a kind, of a kind unknown here or with an argument out of range is refused", () => {
  refused(raw({ command: { at_ns: 1 } }), "unexpected");
  // Field 15 of Command: a kind of a later version, skipped as unknown, leaves no kind.
  const later = Uint8Array.from([...raw({}), 0x72, 4, 0x7a, 2, 0x08, 0x01]);
  refused(later, "unexpected");
  for (const command of [
    { offline: { cpu: 5000 }, at_ns: 1 },
    { hot_flow: { source: 0, share: 1.5 }, at_ns: 1 },
    { sysctl: { key: "flow_limit_cpu_bitmap", value: 1 }, at_ns: 1 },
    { sysctl: { key: "netdev_budget", value: Infinity }, at_ns: 1 },
    { rate: { source: 0, pps: -1 }, at_ns: 1 },
    { rps: { source: 0, cpus: [1, 4096] }, at_ns: 1 },
    { irq_off: { cpu: 0, duration_ns: NaN }, at_ns: 1 },
    { online: { cpu: 1 }, at_ns: -1 },
    { online: { cpu: 1 }, at_ns: NaN },
  ])
    refused(raw({ command }), undefined, JSON.stringify(command));
});

test("counters with a missing part, the wrong bucket count or uneven attribution are refused", () => {
  const good = { ...sampleCounters(), attributed: { ipis_sent: [0], flow_limit_count: [0], ipi_softirq_flushes: [{ ids: [1] }] } };
  assert.equal(decode(raw({ report: { counters: good } })).body.kind, "report");
  const { softirq_raises: _, ...noRaises } = good;
  refused(raw({ report: { counters: noRaises } }));
  refused(raw({ report: { counters: { ...good, latency_buckets: [1, 2, 3] } } }));
  refused(raw({ report: { counters: { ...good, attributed: { ...good.attributed, flow_limit_count: [] } } } }));
  refused(raw({ report: { counters: { ...good, processed: NaN } } }));
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a wire object, spoiled on purpose
type Loose = any;

test("a configuration with a missing part, an unknown enum value or no union member is refused", () => {
  // The wire form of a good configuration, to spoil one field at a time.
  const good = EnvelopeType.toObject(EnvelopeType.decode(encode({ from: 0, vouch_ns: 0, body: { kind: "welcome", welcome: welcome({}) } })));
  const spoil = (f: (cfg: Loose) => void): Uint8Array => {
    const w = structuredClone(good["welcome"]);
    f(w.config);
    return raw({ welcome: w });
  };
  assert.equal(decode(spoil(() => {})).body.kind, "welcome");
  refused(spoil((c) => delete c.profile));
  refused(spoil((c) => (c.profile.threaded_wakeup = 7)), "unexpected");
  refused(spoil((c) => (c.profile.threaded_wakeup = 0)), "unexpected");
  refused(spoil((c) => (c.load[0].rate = {})), "unexpected");
  refused(spoil((c) => (c.softnet_stat_columns = 14)));
  refused(spoil((c) => (c.cpus = 0)));
  const host = { cores: 2, slice_ns: 4e6, busy_share: 0.05, wake_wait_ns: 1e6, slice_wait: 0.03, others: 0, lock_hold: 0.5 };
  assert.equal(decode(spoil((c) => (c.host = host))).body.kind, "welcome");
  refused(spoil((c) => (c.host = { ...host, lock_hold: 2 })));
  refused(spoil((c) => (c.host = { ...host, slice_wait: -1 })));
  refused(spoil((c) => (c.host = { ...host, cores: 0 })));
});

test("an error without a known code is refused", () => {
  refused(raw({ error: { code: 0, message: "x" } }), "unexpected");
  refused(raw({ error: { code: 99, message: "x" } }), "unexpected");
});

test("a wrong protocol version is refused as bad_version", () => {
  refused(EnvelopeType.encode({ version: PROTOCOL_VERSION + 1, from: 0, vouch_ns: 0, promise: {} }).finish(), "bad_version");
  refused(EnvelopeType.encode({ version: 1, from: 0, vouch_ns: 0, promise: {} }).finish(), "bad_version");
});

test("a frame without a body, with an out-of-range sender or with uneven arrays is refused", () => {
  refused(EnvelopeType.encode({ version: PROTOCOL_VERSION, from: 0, vouch_ns: 0 }).finish());
  refused(EnvelopeType.encode({ version: PROTOCOL_VERSION, from: 70_000, vouch_ns: 0, promise: {} }).finish());
  const b = batchToWire(sampleBatch(), NO_STAMP);
  b.enqueues.seq = [1];
  refused(EnvelopeType.encode({ version: PROTOCOL_VERSION, from: 0, vouch_ns: 0, batch: b }).finish());
});

test("host words: uneven arrays and demands outside 0..1 are refused", () => {
  for (const host of [{ at_ns: [6e6], demand: [] }, { at_ns: [6e6], demand: [1.5] }, { at_ns: [6e6], demand: [-0.1] }, { at_ns: [6e6], demand: [NaN] }]) {
    const b = batchToWire(sampleBatch(), NO_STAMP);
    b.host = host;
    refused(EnvelopeType.encode({ version: PROTOCOL_VERSION, from: 0, vouch_ns: 0, batch: b }).finish(), undefined, JSON.stringify(host));
  }
});

test("every truncation of a valid batch frame is refused or decodes consistently", () => {
  const frame = encode({ from: 1, vouch_ns: 5, body: { kind: "batch", batch: batchToWire(sampleBatch(), NO_STAMP) } });
  for (let len = 0; len < frame.length; len++) {
    try {
      const env = decode(frame.subarray(0, len));
      // A cut at a field boundary can still be a well-formed (shorter) message: it must be consistent.
      if (env.body.kind === "batch") assert.equal(env.body.batch.enqueues.flow.length, env.body.batch.enqueues.seq.length);
    } catch (e) {
      assert.ok(e instanceof MalformedMessage, `length ${len}: ${(e as Error).message}`);
    }
  }
});

test("random bytes never throw anything but MalformedMessage", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      try {
        decode(bytes);
      } catch (e) {
        if (!(e instanceof MalformedMessage)) throw e;
      }
    }),
    { numRuns: 2000 },
  );
});
