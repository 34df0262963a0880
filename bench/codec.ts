// Codec micro-benchmark: encode + decode of one Envelope carrying a 64-packet RPS batch, and of the
// model's records (counters, configuration, a command) against JSON.
// Compares protobufjs runtime reflection (what transport/codec.ts uses) with pbjs static code when a
// generated module is given:
//   npx pbjs -t static-module -w es6 --keep-case -o /tmp/softnet_static.js proto/softnet.proto
//   node --import tsx bench/codec.ts [/tmp/softnet_static.js]
import { performance } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import protobuf from "protobufjs";
import { resolveConfig } from "../config/resolve.ts";
import { loadScenario } from "../config/scenario.ts";
import { newCounters } from "../model/counters.ts";
import type { CpuCommand } from "../model/messages.ts";
import { copyCounters } from "../model/results.ts";
import { WireKey } from "../transport/auth.ts";
import { EnvelopeType, PROTOCOL_VERSION, decode, decodeEnvelope, encode, encodeEnvelope } from "../transport/codec.ts";
import { commandToWire, configToWire, countersToWire, wireToCommand, wireToConfig, wireToCounters } from "../transport/payloads.ts";
import { wireType } from "../transport/schema.ts";

const PACKETS = 64;
const ROUNDS = Number(process.env["BENCH_ROUNDS"] ?? 200_000);

function sampleBatch(): object {
  const n = PACKETS;
  const t0 = 123_456_789;
  return {
    to: 2,
    enqueues: {
      flow: Array.from({ length: n }, (_, i) => (i * 37) % 1024),
      seq: Array.from({ length: n }, (_, i) => 1000 + i),
      source: Array.from({ length: n }, () => 0),
      inject_ns: Array.from({ length: n }, (_, i) => t0 + i * 1000),
      send_ns: Array.from({ length: n }, (_, i) => t0 + i * 1000 + 370),
    },
    flushes: { at_ns: [t0 + 70_000], flush_id: [17], raised_softirq: [0] },
    queue_handovers: [],
    cpu_dead: [],
    forwarded: { flow: [], seq: [], source: [], inject_ns: [], send_ns: [] },
    report_seq: 3,
    inject_floor: [t0 - 1],
    unsure: false,
  };
}

function time(label: string, fn: () => void, rounds = ROUNDS): number {
  for (let i = 0; i < Math.min(20_000, rounds); i++) fn(); // warm-up: let V8 optimise
  const t = performance.now();
  for (let i = 0; i < rounds; i++) fn();
  const usPer = ((performance.now() - t) * 1000) / rounds;
  console.log(`${label.padEnd(44)} ${usPer.toFixed(2)} µs/message`);
  return usPer;
}

interface TypeLike {
  encode(m: object): { finish(): Uint8Array };
  decode(b: Uint8Array): object;
}

const env = { version: PROTOCOL_VERSION, from: 0, vouch_ns: 123_500_000, batch: sampleBatch() };
const frame = EnvelopeType.encode(env).finish();
console.log(`64-packet batch: ${frame.length} bytes on the wire (${(frame.length / PACKETS).toFixed(1)} bytes/packet)`);

time("reflection encode", () => EnvelopeType.encode(env).finish());
time("reflection decode", () => EnvelopeType.decode(frame));
const model = { from: 0, vouch_ns: 123_500_000, body: { kind: "batch" as const, batch: sampleBatch() as never } };
time("codec.ts encodeEnvelope (reflection + body mapping)", () => encodeEnvelope(model));
time("codec.ts decodeEnvelope (reflection + validation)", () => decodeEnvelope(frame));

// The frame's tag (transport/auth.ts): HMAC-SHA256 of the Envelope, 16 bytes in front of it.
const key = new WireKey(WireKey.generateSecret());
const sealed = encode(model, key);
const encodeUs = time("codec.ts encode (+ seal: HMAC tag)", () => encode(model, key));
const decodeUs = time("codec.ts decode (+ verify the tag)", () => decode(sealed, key));
const sealUs = time("  of which seal alone", () => key.seal(frame));
const verifyUs = time("  of which verify alone", () => key.verify(sealed));
console.log(`HMAC per ${frame.length}-byte frame: ${sealUs.toFixed(2)} µs to seal, ${verifyUs.toFixed(2)} µs to verify (encode+seal ${encodeUs.toFixed(2)}, decode+verify ${decodeUs.toFixed(2)} µs)`);
// Batches of the standard scenario at 1 Mpps average ~10 kB (bench/distributed.ts: bytes/pkt x pkts/msg).
for (const size of [1_000, 10_000, 100_000, 1_000_000]) {
  const big = new Uint8Array(size).fill(7);
  const bigSealed = key.seal(big);
  const rounds = Math.max(200, Math.min(ROUNDS, Math.floor(2e9 / size)));
  const s = time(`seal ${size} bytes`, () => key.seal(big), rounds);
  const v = time(`verify ${size} bytes`, () => key.verify(bigSealed), rounds);
  console.log(`  = ${((size / 1e6) / (s / 1e6)).toFixed(0)} MB/s sealing, ${((size / 1e6) / (v / 1e6)).toFixed(0)} MB/s verifying`);
}

// The model's records (transport/payloads.ts) against what protocol 1 did with them: JSON in a
// protobuf string field. A CPU's counters as most reports carry them (8 CPUs; no flush ids), those
// of a final report (1000 flush ids per CPU), a Welcome's configuration
// (examples/standard-bench.yaml), one command.
const counters = newCounters(0, 8, 1);
counters.processed = 123_456_789;
counters.busy_ns.softirq = 987_654_321;
counters.now_ns = 1e9;
const final = copyCounters(counters);
final.attributed.ipi_softirq_flushes = final.attributed.ipi_softirq_flushes.map((_, cpu) => Array.from({ length: 1000 }, (_, i) => cpu * 1e6 + i));
const config = resolveConfig(loadScenario(fileURLToPath(new URL("../examples/standard-bench.yaml", import.meta.url))));
const command: CpuCommand = { kind: "rps", source: 0, cpus: [1, 2, 3], at_ns: 5e6 };
const payloads: [string, object, string, (o: never) => object, (m: unknown) => unknown][] = [
  ["counters", counters, "CpuCounters", countersToWire, wireToCounters],
  ["final counters", final, "CpuCounters", countersToWire, wireToCounters],
  ["config", config, "EmuConfig", configToWire, wireToConfig],
  ["command", command, "Command", commandToWire, wireToCommand],
];
for (const [name, obj, type, toWire, fromWire] of payloads) {
  const T = wireType(type);
  const bytes = T.encode(toWire(obj as never)).finish();
  const json = protobuf.Writer.create().string(JSON.stringify(obj)).finish();
  console.log(`${name}: ${bytes.length} bytes as protobuf, ${json.length} as JSON`);
  const pe = time(`  ${name} protobuf encode`, () => T.encode(toWire(obj as never)).finish(), ROUNDS / 20);
  const je = time(`  ${name} JSON encode (protocol 1)`, () => protobuf.Writer.create().string(JSON.stringify(obj)).finish(), ROUNDS / 20);
  const pd = time(`  ${name} protobuf decode`, () => fromWire(T.decode(bytes)), ROUNDS / 20);
  const jd = time(`  ${name} JSON decode (protocol 1)`, () => JSON.parse(protobuf.Reader.create(json).string()), ROUNDS / 20);
  console.log(`  ${name}: protobuf/JSON ${(pe / je).toFixed(2)}x to encode, ${(pd / jd).toFixed(2)}x to decode`);
}

const staticPath = process.argv[2];
if (staticPath) {
  const mod = (await import(pathToFileURL(staticPath).href)) as { softnet: { Envelope: TypeLike } };
  const S = mod.softnet.Envelope;
  const sframe = S.encode(env).finish();
  if (Buffer.compare(Buffer.from(sframe), Buffer.from(frame)) !== 0) throw new Error("static and reflection encodings differ");
  time("static (pbjs) encode", () => S.encode(env).finish());
  time("static (pbjs) decode", () => S.decode(frame));
}
