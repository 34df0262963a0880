// The authenticated, bounded transport (transport/auth.ts, proto/PROTOCOL.md "Frames and the run's secret"):
// the tag and the frame limit themselves; where a secret comes from (--secret-file, created mode 0600
// by the coordinator; SOFTNET_SECRET); a CPU started by hand with a wrong or no secret is refused
// in one line and exits 2 while the coordinator counts its hello and the run goes on; --max-frame
// out of range is bad input on every command. Forged and oversized frames in a running run:
// garbage.test.ts.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveConfig } from "../../config/resolve.ts";
import type { Coordinator } from "../../coordinator/coordinator.ts";
import {
  DEFAULT_MAX_FRAME,
  FrameTooLarge,
  MAX_MAX_FRAME,
  MIN_MAX_FRAME,
  SecretError,
  TAG_BYTES,
  WireKey,
  loadSecret,
  parseMaxFrame,
} from "../../transport/auth.ts";
import { MALFORMED_KINDS as METRIC_KINDS } from "../../observe/metrics.ts";
import { MALFORMED_KINDS, MalformedMessage, decode, encode, encodeEnvelope, type Envelope } from "../../transport/codec.ts";
import { cliInProcess as inProcess } from "../cli/spawn.ts";
import { CPU_MAIN, TEST_SECRET, TSX, exitOf, scenario, startNode, coordinatorInProcess } from "../distributed/helpers.ts";

const BIN = fileURLToPath(new URL("../../bin/softnet-emu.js", import.meta.url));

const promise: Envelope = { from: 1, vouch_ns: 1234, body: { kind: "promise" } };

function refusedAs(kind: string, f: () => unknown): void {
  assert.throws(f, (e: unknown) => e instanceof MalformedMessage && e.kind === kind);
}

describe("frames: the tag and the limit", () => {
  const key = new WireKey(TEST_SECRET);

  test("a sealed frame is TAG || Envelope and opens with the same secret only", () => {
    const frame = encode(promise, key);
    const bytes = encodeEnvelope(promise);
    assert.equal(frame.length, TAG_BYTES + bytes.length);
    assert.deepEqual(Buffer.from(frame.subarray(TAG_BYTES)), Buffer.from(bytes));
    assert.deepEqual(Buffer.from(frame), Buffer.from(key.seal(bytes)), "encode seals in place what seal() makes");
    assert.deepEqual(decode(frame, key), promise);
    refusedAs("unauthenticated", () => decode(frame, new WireKey(Buffer.alloc(32, 7))));
    refusedAs("unauthenticated", () => decode(frame, key.anonymous));
    refusedAs("unauthenticated", () => decode(bytes, key));
    refusedAs("unauthenticated", () => decode(encode(promise, key.anonymous), key));
  });

  test("any change to a sealed frame, any truncation, is unauthenticated", () => {
    const frame = encode({ from: 2, vouch_ns: 99, body: { kind: "lease", lease_ns: 5e6, end_ns: 1e7 } }, key);
    for (let i = 0; i < frame.length; i++) {
      const bad = Uint8Array.from(frame);
      bad[i] = bad[i]! ^ 0x01;
      refusedAs("unauthenticated", () => decode(bad, key));
    }
    for (let len = 0; len < frame.length; len++) refusedAs("unauthenticated", () => decode(frame.subarray(0, len), key));
  });

  test("an unauthenticated frame says what it claims to be, and nothing of it is trusted but the refusal of a hello", () => {
    const forged: Envelope = { from: 0, vouch_ns: 1e18, body: { kind: "promise" } };
    try {
      decode(encode(forged, new WireKey(Buffer.alloc(32, 9))), key);
      assert.fail("decoded");
    } catch (e) {
      assert.ok(e instanceof MalformedMessage);
      assert.match(e.message, /^unauthenticated frame of \d+ bytes claiming to be 'promise' from 0 \(its tag does not verify/);
      assert.equal(e.authRefusal, undefined);
    }
    // The coordinator's Error{auth} to a CPU without the secret: the CPU's own words come back.
    const refusal = encode({ from: 65535, vouch_ns: 0, body: { kind: "error", code: "auth", message: "anything at all" } }, key.anonymous);
    const e = (() => {
      try {
        decode(refusal, key);
      } catch (err) {
        return err as MalformedMessage;
      }
      return undefined;
    })();
    assert.ok(e?.authRefusal);
    assert.deepEqual(e.authRefusal.body, { kind: "error", code: "auth", message: "wrong or missing secret: our hello did not verify with the coordinator's (--secret-file or SOFTNET_SECRET, the same for every process of the run)" });
    // Other codes, or from a CPU id, are not a refusal.
    const notRefusals: Envelope[] = [
      { from: 65535, vouch_ns: 0, body: { kind: "error", code: "full", message: "x" } },
      { from: 3, vouch_ns: 0, body: { kind: "error", code: "auth", message: "x" } },
    ];
    for (const env of notRefusals) {
      try {
        decode(encode(env, key.anonymous), key);
      } catch (err) {
        assert.equal((err as MalformedMessage).authRefusal, undefined);
      }
    }
  });

  test("a process without a secret sends frames nobody verifies and verifies none", () => {
    const none = new WireKey(null);
    assert.equal(none.hasSecret, false);
    assert.deepEqual(Buffer.from(encode(promise, none).subarray(0, TAG_BYTES)), Buffer.alloc(TAG_BYTES));
    refusedAs("unauthenticated", () => decode(encode(promise, key), none));
    assert.throws(() => decode(encode(promise, none), none), /this process has no secret/);
  });

  test("a frame over the limit is refused by its sender, loudly", () => {
    const small = new WireKey(TEST_SECRET, MIN_MAX_FRAME);
    const endpoints = ["x".repeat(MIN_MAX_FRAME)];
    const welcome: Envelope = { from: 65535, vouch_ns: 0, body: { kind: "welcome", welcome: { cpu: 0, endpoints, config: resolveConfig(undefined), commands: [], lease_ns: 0, heartbeat_ms: 100, coordinator_timeout_ms: 3000, max_step_ns: 1, progress_every_ns: 1, series_interval_ns: 0, check_interval_ns: 0 } } };
    assert.throws(() => encode(welcome, small), (e: unknown) => e instanceof FrameTooLarge && /over the frame limit of 65536 bytes: raise --max-frame/.test(e.message));
    assert.throws(() => small.seal(new Uint8Array(MIN_MAX_FRAME)), FrameTooLarge);
    assert.equal(small.seal(new Uint8Array(MIN_MAX_FRAME - TAG_BYTES)).length, MIN_MAX_FRAME, "exactly the limit is fine");
    assert.equal(new WireKey(TEST_SECRET).maxFrameBytes, DEFAULT_MAX_FRAME);
  });

  test("unauthenticated is a kind of bad frame everywhere they are counted (reports, status, /metrics)", () => {
    assert.ok(MALFORMED_KINDS.includes("unauthenticated"));
    assert.deepEqual([...METRIC_KINDS], [...MALFORMED_KINDS], "observe/metrics.ts keeps its own copy of the list");
  });

  test("--max-frame: bytes or KiB/MiB, 64KiB to 64MiB", () => {
    assert.equal(parseMaxFrame("16MiB"), 16 * 1024 * 1024);
    assert.equal(parseMaxFrame("65536"), MIN_MAX_FRAME);
    assert.equal(parseMaxFrame("64k"), MIN_MAX_FRAME);
    assert.equal(parseMaxFrame("64M"), MAX_MAX_FRAME);
    for (const bad of ["65535", "64MiB1", "65MiB", "0", "-1", "1e6", "16 GB", ""]) assert.throws(() => parseMaxFrame(bad), RangeError, bad);
  });
});

describe("where the secret comes from", () => {
  test("--secret-file: the coordinator creates it (mode 0600, 32 random bytes as hex) and then reads it back", () => {
    const file = join(mkdtempSync(join(tmpdir(), "softnet-secret-")), "run.secret");
    const made = loadSecret({ file, create: true })!;
    assert.equal(made.created, true);
    assert.equal(made.secret.length, 32);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, "utf8"), `${made.secret.toString("hex")}\n`);
    const again = loadSecret({ file, create: true })!;
    assert.equal(again.created, false);
    assert.deepEqual(again.secret, made.secret);
    assert.deepEqual(loadSecret({ file })!.secret, made.secret, "a CPU reads the same");
    assert.equal(again.warning, undefined);
  });

  test("a missing file (CPU), bad hex, a short secret, a loose mode; SOFTNET_SECRET", () => {
    const dir = mkdtempSync(join(tmpdir(), "softnet-secret-"));
    assert.throws(() => loadSecret({ file: join(dir, "nope") }), (e: unknown) => e instanceof SecretError && /cannot read it \(no such file or directory\) \(the coordinator writes it/.test(e.message));
    assert.throws(() => loadSecret({ file: join(dir, "nodir", "x"), create: true }), /cannot create it \(no such file or directory\)/);
    const bad = join(dir, "bad");
    writeFileSync(bad, "not hex\n", { mode: 0o600 });
    assert.throws(() => loadSecret({ file: bad }), /--secret-file .*bad: not a hex string/);
    writeFileSync(bad, "abcd\n", { mode: 0o600 });
    assert.throws(() => loadSecret({ file: bad }), /a secret of 2 bytes is too short/);
    const loose = join(dir, "loose");
    writeFileSync(loose, `${TEST_SECRET.toString("hex")}\n`, { mode: 0o644 });
    assert.match(loadSecret({ file: loose })!.warning ?? "", /readable by other users \(mode 644\); chmod 600 it/);
    assert.deepEqual(loadSecret({ env: { SOFTNET_SECRET: TEST_SECRET.toString("hex") } })?.secret, TEST_SECRET);
    assert.equal(loadSecret({ env: {} }), null);
    assert.throws(() => loadSecret({ env: { SOFTNET_SECRET: "xyz" } }), /SOFTNET_SECRET: not a hex string/);
  });
});


test("CPUs started by hand with a wrong or no secret: one line, exit 2, their hellos counted; the run goes on", { timeout: 90_000 }, async () => {
  const cfg = scenario({ cpus: 2, rps_cpus: [0, 1], duration_ns: 5_000_000 });
  let coordinator: Coordinator | undefined;
  const { done, endpoint, sink } = await coordinatorInProcess(cfg, {
    secret: TEST_SECRET,
    onStart: (c) => (coordinator = c),
  });
  const { SOFTNET_SECRET: _, ...noSecret } = process.env;
  const wrongFile = join(mkdtempSync(join(tmpdir(), "softnet-secret-")), "wrong.secret");
  writeFileSync(wrongFile, `${"ab".repeat(32)}\n`, { mode: 0o600 });
  const refusedLine = /^refused by the coordinator: wrong or missing secret: our hello did not verify with the coordinator's \(--secret-file or SOFTNET_SECRET, the same for every process of the run\)\n$/;
  const intruders = [
    startNode(["--import", TSX, CPU_MAIN, "--coordinator", endpoint, "--id", "0"], { ...noSecret, SOFTNET_SECRET: "cd".repeat(32) }),
    startNode(["--import", TSX, CPU_MAIN, "--coordinator", endpoint, "--id", "0"], noSecret),
    // The CLI, with a secret file of another run.
    startNode([BIN, "cpu", "--coordinator", endpoint, "--id", "1", "--secret-file", wrongFile], noSecret),
  ];
  for (const p of intruders) {
    assert.equal(await exitOf(p.proc), 2, p.output());
    assert.match(p.output(), refusedLine);
  }
  assert.equal(coordinator!.status().malformed_messages["coordinator"]!.unauthenticated, 3, "every refused hello counted");
  assert.deepEqual(coordinator!.status().registered, [], "nobody registered");
  assert.ok(sink.lines.some((l) => /dropped malformed message #1 \(unauthenticated\) from unregistered peer: unauthenticated frame of \d+ bytes claiming to be 'hello' from 0/.test(l)));
  // The right secret (inherited SOFTNET_SECRET, as helpers.ts sets it): the run goes on and ends well.
  const good = [0, 1].map((id) => startNode(["--import", TSX, CPU_MAIN, "--coordinator", endpoint, "--id", String(id)], process.env));
  assert.equal(await done, 0, sink.lines.join("\n"));
  for (const p of good) assert.equal(await exitOf(p.proc), 0, p.output());
});


function oneUsageLine(o: { code: number; stdout: string; stderr: string }): string {
  assert.equal(o.code, 2, o.stderr);
  const lines = o.stderr.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, o.stderr);
  assert.equal(o.stdout, "");
  assert.match(lines[0]!, /^softnet-emu: error: /);
  return lines[0]!;
}

describe("bad --max-frame and --secret-file: one line, exit 2", () => {
  const outOfRange = /'(\S+)' is out of range for a frame size: expected 64KiB \(65536\) to 64MiB \(67108864\) bytes/;

  test("--max-frame out of range on run, coordinator and cpu; not a size; on an in-process run", async () => {
    assert.match(oneUsageLine(await inProcess(["run", "--max-frame", "1000"])), outOfRange);
    assert.match(oneUsageLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:5555", "--max-frame", "128MiB"])), outOfRange);
    assert.match(oneUsageLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--max-frame", "65535"])), outOfRange);
    assert.match(oneUsageLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--max-frame", "lots"])), /'lots' is not a size in bytes/);
    assert.match(oneUsageLine(await inProcess(["run", "--engine", "inprocess", "--max-frame", "1MiB"])), /--max-frame: only with --engine processes/);
  });

  test("coordinator: no secret at all, or a secret file that is not one", async () => {
    const { SOFTNET_SECRET: saved } = process.env;
    delete process.env["SOFTNET_SECRET"];
    try {
      assert.match(oneUsageLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:*", "--cpus", "1"])), /no secret: give --secret-file FILE .* or SOFTNET_SECRET \(hex\)/);
      const bad = join(mkdtempSync(join(tmpdir(), "softnet-secret-")), "bad");
      writeFileSync(bad, "zz\n", { mode: 0o600 });
      assert.match(oneUsageLine(await inProcess(["coordinator", "--bind", "tcp://127.0.0.1:*", "--secret-file", bad])), /--secret-file .*bad: not a hex string/);
      assert.match(oneUsageLine(await inProcess(["cpu", "--coordinator", "tcp://127.0.0.1:5555", "--secret-file", join(bad, "x")])), /--secret-file .*: cannot read it/);
    } finally {
      process.env["SOFTNET_SECRET"] = saved;
    }
  });
});
