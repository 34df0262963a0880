// .ci/setup (`npm run setup`) as a user with sudo and as one without: it asks for root only for what
// needs it (through sudo when it is not root), says so in one line when it cannot, and never stops
// processes by matching their names. Run with stand-ins for `id` (a user), `sudo` (which logs, then
// runs the command), `apt-get` (which only logs) and `dpkg-query` (one package missing), so nothing
// is installed; the rest (podman, prometheus) is the machine's own, as .ci/setup left it.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";

const ROOT = join(import.meta.dirname, "../..");
const SETUP = join(ROOT, ".ci/setup");

function installed(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const missing = ["prometheus", "promtool", "podman", "docker-compose"].filter((c) => !installed(c));

describe(".ci/setup", () => {
  test("never stops a process by matching names (pkill, killall)", () => {
    const text = readFileSync(SETUP, "utf8").split("\n").filter((l) => !l.trimStart().startsWith("#")).join("\n");
    assert.doesNotMatch(text, /\b(pkill|killall)\b/);
  });

  describe("as a user (stand-ins for id, sudo, apt-get, dpkg-query)", { skip: missing.length ? `not set up here (${missing.join(", ")}): run npm run setup` : false }, () => {
    let dir = "";
    let log = "";
    before(() => {
      dir = mkdtempSync(join(tmpdir(), "softnet-setup-"));
      log = join(dir, "log");
      const script = (name: string, body: string): void => {
        writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
        chmodSync(join(dir, name), 0o755);
      };
      script("id", `[ "$1" = "-u" ] && { echo 1000; exit 0; }\nexec /usr/bin/id "$@"`);
      script("sudo", `echo "sudo $*" >>${log}\n[ "$1" = "--" ] && shift\nexec "$@"`);
      script("apt-get", `echo "apt-get $*" >>${log}`);
      // cpio "not installed": .ci/setup wants it (test/ground-truth), so it apt-gets it.
      script("dpkg-query", `for a in "$@"; do last=$a; done\n[ "$last" = cpio ] && exit 1\nexec /usr/bin/dpkg-query "$@"`);
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const setup = (path: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) =>
        execFile("bash", [SETUP], { env: { ...process.env, PATH: path }, timeout: 300_000 }, (err, stdout, stderr) =>
          resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
        ),
      );

    test("with sudo: apt-get runs through sudo, and nothing else does", async () => {
      const o = await setup(`${dir}:${process.env["PATH"]}`);
      assert.equal(o.code, 0, o.stderr);
      const lines = readFileSync(log, "utf8").trim().split("\n");
      const sudo = lines.filter((l) => l.startsWith("sudo"));
      assert.equal(sudo[0], "sudo -- env DEBIAN_FRONTEND=noninteractive apt-get update -qq");
      assert.match(sudo[1] ?? "", /^sudo -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends .*\bcpio$/);
      assert.equal(sudo.length, 2, `only apt-get through sudo: ${sudo.join(" | ")}`);
      assert.ok(lines.some((l) => /^apt-get install .*\bcpio$/.test(l)), lines.join("\n"));
      assert.match(o.stdout, /not root: skipped the base images/);
    });

    test("without sudo: one line naming what needs root, exit 1", async () => {
      rmSync(join(dir, "sudo"));
      // A PATH with the stand-ins and the system's directories, but no sudo anywhere on it.
      const path = [dir, ...(process.env["PATH"] ?? "").split(":").filter((p) => !installedIn(p, "sudo"))].join(":");
      const o = await setup(path);
      assert.equal(o.code, 1);
      const lines = o.stderr.split("\n").filter(Boolean);
      assert.equal(lines.length, 1, o.stderr);
      assert.match(lines[0]!, /^\.ci\/setup: needs root for: .*apt-get update.*\(run it as root, or install sudo\)$/);
    });
  });
});

function installedIn(dir: string, cmd: string): boolean {
  return dir !== "" && existsSync(join(dir, cmd));
}
