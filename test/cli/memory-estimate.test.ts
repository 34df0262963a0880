// The process engine's memory estimate: refuse a run that cannot fit, warn above half the machine.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { availableBytes, checkProcessesMemory, CPU_PROCESS_BYTES, processesEngineBytes } from "../../cli/memory-estimate.ts";
import { cliInProcess, usageErrorLine } from "./spawn.ts";

describe("memory estimate for --engine processes", () => {
  test("grows by one CPU process per CPU", () => {
    assert.equal(processesEngineBytes(65) - processesEngineBytes(64), CPU_PROCESS_BYTES);
  });

  test("fits: nothing; above half: a warning; above all: a usage error naming --cpus", () => {
    const gb = 1e9;
    assert.equal(checkProcessesMemory(4, 16 * gb), undefined);
    assert.match(checkProcessesMemory(128, 16 * gb) ?? "", /^--cpus 128: the process engine needs about 9\.1 GB of this machine's 16\.0 GB \(\S+ GB free now\)$/);
    assert.throws(
      () => checkProcessesMemory(256, 16 * gb),
      /--cpus 256: the process engine needs about 18\.1 GB \(70 MB per CPU process\) and this machine has 16\.0 GB; use fewer CPUs or --engine inprocess/,
    );
  });

  test("SOFTNET_EMU_MEMORY overrides what the machine says; garbage is named", () => {
    assert.equal(availableBytes({ SOFTNET_EMU_MEMORY: "8G" }), 8 * 2 ** 30);
    assert.equal(availableBytes({ SOFTNET_EMU_MEMORY: "512MiB" }), 512 * 2 ** 20);
    assert.equal(availableBytes({ SOFTNET_EMU_MEMORY: "1000" }), 1000);
    assert.throws(() => availableBytes({ SOFTNET_EMU_MEMORY: "lots" }), /SOFTNET_EMU_MEMORY: 'lots' is not a size/);
    assert.ok(availableBytes({}) > 0);
  });

  test("the CLI refuses before it starts a single process, and the in-process engine is not limited", async () => {
    process.env.SOFTNET_EMU_MEMORY = "2G";
    try {
      const refused = await cliInProcess(["run", "--engine", "processes", "--cpus", "64", "--duration", "1ms"]);
      assert.match(usageErrorLine(refused), /^softnet-emu: error: --cpus 64: the process engine needs about 4\.6 GB .* this machine has 2\.1 GB/);
      const inprocess = await cliInProcess(["run", "--engine", "inprocess", "--cpus", "64", "--duration", "1ms", "--quiet"]);
      assert.equal(inprocess.code, 0, inprocess.stderr);
    } finally {
      delete process.env.SOFTNET_EMU_MEMORY;
    }
  });
});
