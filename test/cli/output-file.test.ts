// Result files written safely (report/output-file.ts): `--json FILE` is checked before the run (one
// line, exit 2, naming the flag and the path), and written to a temporary file in the same folder
// that is renamed over the target: a full disk leaves the previous file whole and no temporary
// file behind, never half a JSON.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync, fsyncSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkOutputFile, writeFileAtomic, type AtomicWriteFs } from "../../report/output-file.ts";
import { UsageError } from "../../config/errors.ts";
import { BIN, cli, ROOT, usageErrorLine } from "./spawn.ts";

// A coordinator refuses to start without the run's secret (transport/auth.ts, --secret-file or
// SOFTNET_SECRET); the coordinators started here inherit this one (they never see a CPU).
process.env["SOFTNET_SECRET"] ||= "c0417201c0417201c0417201c0417201c0417201c0417201c0417201c0417201";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "softnet-emu-out-"));
}

/** The real calls, with `writeSync` failing with ENOSPC once `limit` bytes are written (half a file on disk). */
function diskFullAfter(limit: number): AtomicWriteFs & { tmpSeen: string[] } {
  let written = 0;
  const tmpSeen: string[] = [];
  return {
    tmpSeen,
    openSync: ((path: string, flags: string, mode?: number) => {
      tmpSeen.push(path);
      return openSync(path, flags, mode);
    }) as typeof openSync,
    writeSync: (fd, data, offset, length) => {
      const room = limit - written;
      if (room <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      const n = writeSync(fd, data, offset, Math.min(length, room, 1000));
      written += n;
      return n;
    },
    fsyncSync,
    closeSync,
    renameSync,
    unlinkSync,
  };
}

describe("writeFileAtomic", () => {
  test("writes the whole text through a temporary file in the same folder, renamed over the target", () => {
    const dir = tempDir();
    const file = join(dir, "r.json");
    writeFileSync(file, "old\n");
    const fs = diskFullAfter(Infinity);
    const text = JSON.stringify({ big: "x".repeat(100_000) });
    writeFileAtomic(file, text, fs);
    assert.equal(readFileSync(file, "utf8"), text);
    assert.equal(fs.tmpSeen.length, 1);
    assert.match(fs.tmpSeen[0]!, new RegExp(`^${dir}/\\.r\\.json\\.\\d+\\.\\w+\\.tmp$`), "a hidden temporary file next to the target");
    assert.deepEqual(readdirSync(dir), ["r.json"], "nothing else left");
  });

  test("a full disk halfway: the error is thrown, the old file is whole, no temporary file is left", () => {
    const dir = tempDir();
    const file = join(dir, "r.json");
    writeFileSync(file, "old\n");
    const fs = diskFullAfter(4096);
    assert.throws(() => writeFileAtomic(file, "y".repeat(50_000), fs), /ENOSPC/);
    assert.equal(readFileSync(file, "utf8"), "old\n");
    assert.deepEqual(readdirSync(dir), ["r.json"]);
  });

  test("a failing rename: the target untouched, the temporary file removed", () => {
    const dir = tempDir();
    const file = join(dir, "r.json");
    writeFileSync(file, "old\n");
    const fs: AtomicWriteFs = { ...diskFullAfter(Infinity), renameSync: () => { throw Object.assign(new Error("EIO"), { code: "EIO" }); } };
    assert.throws(() => writeFileAtomic(file, "new", fs), /EIO/);
    assert.equal(readFileSync(file, "utf8"), "old\n");
    assert.deepEqual(readdirSync(dir), ["r.json"]);
  });

  test("checkOutputFile: names the flag and the path; leaves nothing behind", () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a-file"), "");
    const refused = (file: string) => {
      try {
        checkOutputFile("--json", file);
        return undefined;
      } catch (err) {
        assert.ok(err instanceof UsageError);
        return err.message;
      }
    };
    assert.equal(refused(join(dir, "ok.json")), undefined);
    assert.equal(refused("-"), undefined);
    assert.match(refused(join(dir, "nope", "r.json"))!, /^--json .*nope\/r\.json: directory '.*nope' does not exist$/);
    assert.match(refused(join(dir, "a-file", "r.json"))!, /^--json .*a-file\/r\.json: '.*a-file' is not a directory$/);
    assert.match(refused(dir)!, /: is a directory$/);
    // /proc takes no new files, whoever asks (access() alone would say yes to root).
    assert.match(refused("/proc/softnet-emu-results.json")!, /^--json \/proc\/softnet-emu-results\.json: (cannot create a file in '\/proc'|directory '\/proc' is not writable)/);
    assert.deepEqual(readdirSync(dir).sort(), ["a-file"]);
  });
});

describe("--json FILE from the command line", { timeout: 60_000 }, () => {
  test("unwritable: exit 2 at once, before the run (run on both engines, coordinator)", async () => {
    // 100 virtual seconds at 1 Mpps: minutes, were it started.
    const long = ["--duration", "100s", "--rate", "1e6"];
    const outcomes = await Promise.all([
      cli(["run", "--engine", "inprocess", ...long, "--json", "/proc/softnet-emu.json"], 20_000),
      cli(["run", "--engine", "processes", ...long, "--json", "/proc/softnet-emu.json"], 20_000),
      cli(["coordinator", "--bind", "tcp://127.0.0.1:*", ...long, "--json", "/proc/softnet-emu.json"], 20_000),
    ]);
    for (const o of outcomes) assert.match(usageErrorLine(o), /^softnet-emu: error: --json \/proc\/softnet-emu\.json: /);
  });

  test("a write that fails at the end (file size limit, as a full disk) keeps the previous file whole", { skip: spawnSync("bash", ["-c", "true"]).status === 0 ? false : "no bash" }, () => {
    const dir = tempDir();
    const file = join(dir, "r.json");
    writeFileSync(file, "previous\n");
    // ulimit -f 1: no file of this process may grow past 1 KiB; the results JSON is far larger.
    const r = spawnSync("bash", ["-c", `ulimit -f 1; exec "${process.execPath}" "${BIN}" run --engine inprocess --duration 1ms --quiet --json "${file}"`], { cwd: ROOT, encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^softnet-emu: error: --json .*r\.json: cannot write: EFBIG \(the file keeps its previous contents\)\n$/);
    assert.equal(readFileSync(file, "utf8"), "previous\n");
    assert.deepEqual(readdirSync(dir), ["r.json"], "no temporary file left");
  });
});
