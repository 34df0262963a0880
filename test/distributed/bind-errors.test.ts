// A CPU process given an endpoint it cannot bind or dial is bad input, not a bug: one line naming
// the flag and the reason, exit 2, no stack trace — also where no CLI checked the port beforehand
// (the children `run` spawns, a port taken between the check and the bind, an ipc path).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { runCpu } from "../../cpu-node/main.ts";

const CPU_MAIN = fileURLToPath(new URL("../../cpu-node/main.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

async function takenPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as { port: number }).port };
}

async function cpuInProcess(bind: string, coordinator = "tcp://127.0.0.1:1"): Promise<{ code: number; errors: string[]; log: string[] }> {
  const errors: string[] = [];
  const log: string[] = [];
  const code = await runCpu({ coordinator, bind, registerTimeoutMs: 2000, log: (l) => log.push(l), usageError: (m) => errors.push(m) });
  return { code, errors, log };
}

test("runCpu: a --bind port in use is one usage line and exit 2", async () => {
  const { server, port } = await takenPort();
  try {
    const o = await cpuInProcess(`tcp://127.0.0.1:${port}`);
    assert.equal(o.code, 2);
    assert.deepEqual(o.errors, [`--bind tcp://127.0.0.1:${port}: cannot bind: the address is already in use (EADDRINUSE)`]);
    assert.deepEqual(o.log, [], "no internal error, no stack");
  } finally {
    server.close();
  }
});

test("runCpu: an ipc path in a missing directory, a socket path too long, a port out of range", async () => {
  const missing = await cpuInProcess("ipc:///nonexistent-softnet-emu/dir/cpu0");
  assert.equal(missing.code, 2);
  assert.deepEqual(missing.errors, ["--bind ipc:///nonexistent-softnet-emu/dir/cpu0: cannot bind: the socket's directory does not exist (ENOENT)"]);
  const long = `ipc:///tmp/${"x".repeat(200)}`;
  const tooLong = await cpuInProcess("tcp://127.0.0.1:*", long);
  assert.equal(tooLong.code, 2);
  assert.deepEqual(tooLong.errors, [`--coordinator ${long}: cannot connect: the socket path is too long (ENAMETOOLONG)`]);
  const range = await cpuInProcess("tcp://127.0.0.1:99999");
  assert.equal(range.code, 2);
  assert.deepEqual(range.errors, ["--bind tcp://127.0.0.1:99999: port 99999 is out of range (0-65535)"]);
  for (const o of [missing, tooLong, range]) assert.deepEqual(o.log, []);
});

test("the CPU child as `run` spawns it: a --bind port in use exits 2 with one line on stderr", { timeout: 30_000 }, async () => {
  const { server, port } = await takenPort();
  try {
    const child = spawn(process.execPath, ["--import", TSX, CPU_MAIN, "--coordinator", "tcp://127.0.0.1:1", "--bind", `tcp://127.0.0.1:${port}`], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 2, stderr);
    assert.equal(stderr, `softnet-emu cpu: error: --bind tcp://127.0.0.1:${port}: cannot bind: the address is already in use (EADDRINUSE)\n`);
  } finally {
    server.close();
  }
});
