// Codec micro-benchmark: encode + decode of one Envelope carrying a 64-packet RPS batch.
// Compares protobufjs runtime reflection (what proto/codec.ts uses) with pbjs static code when a
// generated module is given:
//   npx pbjs -t static-module -w es6 --keep-case -o /tmp/softnet_static.js proto/softnet.proto
//   node --import tsx bench/codec.ts [/tmp/softnet_static.js]
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { EnvelopeType, PROTOCOL_VERSION, decode, encode } from "../proto/codec.ts";

const PACKETS = 64;
const ROUNDS = 200_000;

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

function time(label: string, fn: () => void): number {
  for (let i = 0; i < 20_000; i++) fn(); // warm-up: let V8 optimise
  const t = performance.now();
  for (let i = 0; i < ROUNDS; i++) fn();
  const usPer = ((performance.now() - t) * 1000) / ROUNDS;
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
time("codec.ts encode (reflection + body mapping)", () => encode(model));
time("codec.ts decode (reflection + validation)", () => decode(frame));

const staticPath = process.argv[2];
if (staticPath) {
  const mod = (await import(pathToFileURL(staticPath).href)) as { softnet: { Envelope: TypeLike } };
  const S = mod.softnet.Envelope;
  const sframe = S.encode(env).finish();
  if (Buffer.compare(Buffer.from(sframe), Buffer.from(frame)) !== 0) throw new Error("static and reflection encodings differ");
  time("static (pbjs) encode", () => S.encode(env).finish());
  time("static (pbjs) decode", () => S.decode(frame));
}
