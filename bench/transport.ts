// Transport micro-benchmark for the CPU-to-CPU channel: PUSH/PULL vs DEALER/ROUTER, tcp vs ipc,
// streaming throughput (1.4 kB frames, the size of a 64-packet batch) and ping-pong round trips.
// Both ends in one process, as two processes on 2 cores would add scheduling noise of their own.
//   node --import tsx bench/transport.ts
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import * as zmq from "zeromq";

const FRAME = new Uint8Array(1400);
const STREAM_MESSAGES = 50_000;
const PINGS = 5_000;

type Pair = { send(m: Uint8Array): Promise<void>; receive(): Promise<Buffer[]>; close(): void };

async function pushPull(endpoint: string): Promise<[Pair, Pair]> {
  const a = new zmq.Pull();
  await a.bind(endpoint);
  const b = new zmq.Push();
  b.connect(a.lastEndpoint!);
  const back = new zmq.Pull();
  await back.bind(endpoint.startsWith("tcp") ? endpoint : endpoint + "-back");
  const backPush = new zmq.Push();
  backPush.connect(back.lastEndpoint!);
  return [
    { send: (m) => b.send(m), receive: () => back.receive(), close: () => (b.close(), back.close()) },
    { send: (m) => backPush.send(m), receive: () => a.receive(), close: () => (a.close(), backPush.close()) },
  ];
}

async function dealerRouter(endpoint: string): Promise<[Pair, Pair]> {
  const r = new zmq.Router();
  await r.bind(endpoint);
  const d = new zmq.Dealer({ routingId: "d" });
  d.connect(r.lastEndpoint!);
  return [
    { send: (m) => d.send(m), receive: () => d.receive(), close: () => d.close() },
    { send: (m) => r.send(["d", m]), receive: async () => (await r.receive()).slice(1), close: () => r.close() },
  ];
}

async function measure(name: string, make: (ep: string) => Promise<[Pair, Pair]>, ep: string): Promise<void> {
  const [a, b] = await make(ep);
  // Settle the connection first (a DEALER drops nothing, but the first message waits for it).
  await a.send(FRAME);
  await b.receive();
  let t = performance.now();
  const receiving = (async () => {
    for (let i = 0; i < STREAM_MESSAGES; i++) await b.receive();
  })();
  for (let i = 0; i < STREAM_MESSAGES; i++) await a.send(FRAME);
  await receiving;
  const streamPerSec = STREAM_MESSAGES / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < PINGS; i++) {
    await a.send(FRAME);
    await b.receive();
    await b.send(FRAME);
    await a.receive();
  }
  const rttUs = ((performance.now() - t) * 1000) / PINGS;
  console.log(`${name.padEnd(24)} stream ${Math.round(streamPerSec).toLocaleString("en").padStart(9)} msg/s   round trip ${rttUs.toFixed(1)} µs`);
  a.close();
  b.close();
}

const dir = mkdtempSync(join(tmpdir(), "softnet-transport-"));
try {
  await measure("PUSH/PULL tcp", pushPull, "tcp://127.0.0.1:*");
  await measure("PUSH/PULL ipc", pushPull, `ipc://${dir}/pp`);
  await measure("DEALER/ROUTER tcp", dealerRouter, "tcp://127.0.0.1:*");
  await measure("DEALER/ROUTER ipc", dealerRouter, `ipc://${dir}/dr`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
