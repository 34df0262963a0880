// Value parsers shared by flags and scenario files: durations, hex CPU masks, CPU@TIME, sysctls.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../config/errors.ts";
import {
  formatCpuMask,
  formatNs,
  parseCount,
  parseCpuAtTime,
  parseCpuMask,
  parseDurationNs,
  parsePps,
  parseSysctl,
  SYSCTL_NAMES,
} from "../../config/units.ts";

/** Asserts a one-line UsageError whose message matches every pattern. */
function throwsUsage(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.ok(!err.message.includes("\n"), "message is one line");
    for (const p of patterns) assert.match(err.message, p);
    return true;
  });
}

describe("durations", () => {
  test("units convert to integer nanoseconds", () => {
    assert.equal(parseDurationNs("50ms"), 50_000_000);
    assert.equal(parseDurationNs("1s"), 1_000_000_000);
    assert.equal(parseDurationNs("5us"), 5_000);
    assert.equal(parseDurationNs("5µs"), 5_000);
    assert.equal(parseDurationNs("200ns"), 200);
    assert.equal(parseDurationNs("2.5ms"), 2_500_000);
    assert.equal(parseDurationNs("0ns"), 0);
  });

  test("decimal fractions are exact, not floating point", () => {
    assert.equal(parseDurationNs("0.1s"), 100_000_000);
    assert.equal(parseDurationNs("0.3s"), 300_000_000);
    assert.equal(parseDurationNs("1.000000001s"), 1_000_000_001);
  });

  test("negatives, garbage, missing units and sub-nanosecond values are refused", () => {
    throwsUsage(() => parseDurationNs("-5ms"), /negative/);
    throwsUsage(() => parseDurationNs("50"), /'50' is not a duration/, /unit/);
    throwsUsage(() => parseDurationNs("ms"), /not a duration/);
    throwsUsage(() => parseDurationNs("5 minutes"), /not a duration/);
    throwsUsage(() => parseDurationNs("1e3ms"), /not a duration/);
    throwsUsage(() => parseDurationNs("2.5ns"), /whole number of nanoseconds/);
    throwsUsage(() => parseDurationNs("99999999999999s"), /too large/);
  });

  test("formatNs prints the shortest exact form", () => {
    assert.equal(formatNs(50_000_000), "50ms");
    assert.equal(formatNs(2_500_000), "2.5ms");
    assert.equal(formatNs(1_000_000_000), "1s");
    assert.equal(formatNs(999), "999ns");
  });
});

describe("hex CPU masks", () => {
  test("e, 0xf and 0 as the kernel reads rps_cpus", () => {
    assert.deepEqual(parseCpuMask("e"), [1, 2, 3]);
    assert.deepEqual(parseCpuMask("0xf"), [0, 1, 2, 3]);
    assert.deepEqual(parseCpuMask("F"), [0, 1, 2, 3]);
    assert.deepEqual(parseCpuMask("0"), []);
    assert.deepEqual(parseCpuMask("10"), [4]);
  });

  test("more than 32 CPUs, also in the kernel's comma-separated 32-bit groups", () => {
    assert.deepEqual(parseCpuMask("100000000"), [32]);
    assert.deepEqual(parseCpuMask("1,00000000"), [32]);
    assert.deepEqual(parseCpuMask("80000000,00000001"), [0, 63]);
    assert.equal(parseCpuMask("f".repeat(64)).length, 256);
  });

  test("a set bit at or above the CPU count is an error", () => {
    assert.deepEqual(parseCpuMask("f", 4), [0, 1, 2, 3]);
    throwsUsage(() => parseCpuMask("1f", 4), /sets CPU 4/, /host has only 4 CPUs \(CPUs 0-3\)/);
    throwsUsage(() => parseCpuMask("2", 1), /sets CPU 1/, /host has only 1 CPU \(CPU 0\)/);
  });

  test("garbage is refused", () => {
    throwsUsage(() => parseCpuMask("xyz"), /'xyz' is not a hex CPU mask/);
    throwsUsage(() => parseCpuMask(""), /not a hex CPU mask/);
    throwsUsage(() => parseCpuMask("0x"), /not a hex CPU mask/);
    throwsUsage(() => parseCpuMask("-1"), /not a hex CPU mask/);
    throwsUsage(() => parseCpuMask("1,123456789"), /not a hex CPU mask/);
    throwsUsage(() => parseCpuMask(`1${"0".repeat(64)}`), /above the limit of 256 CPUs/);
  });

  test("formatCpuMask is the inverse", () => {
    assert.equal(formatCpuMask([1, 2, 3]), "e");
    assert.equal(formatCpuMask([]), "0");
    assert.equal(formatCpuMask(parseCpuMask("80000000,00000001")), "8000000000000001");
  });
});

describe("CPU@TIME", () => {
  test("parses a CPU and a virtual time", () => {
    assert.deepEqual(parseCpuAtTime("2@10ms"), { cpu: 2, at_ns: 10_000_000 });
    assert.deepEqual(parseCpuAtTime("0@0ns"), { cpu: 0, at_ns: 0 });
  });

  test("refuses a missing @, a bad CPU or a bad time", () => {
    throwsUsage(() => parseCpuAtTime("2"), /not CPU@TIME/);
    throwsUsage(() => parseCpuAtTime("x@1ms"), /'x' is not a CPU id/);
    throwsUsage(() => parseCpuAtTime("-1@1ms"), /not a CPU id/);
    throwsUsage(() => parseCpuAtTime("1@10"), /not a duration/);
    throwsUsage(() => parseCpuAtTime("999@1ms"), /CPU 999 is out of range/);
  });
});

describe("numbers", () => {
  test("counts are whole and bounded", () => {
    assert.equal(parseCount("4", 1, 256), 4);
    throwsUsage(() => parseCount("0", 1, 256), /must be >= 1/);
    throwsUsage(() => parseCount("257", 1, 256), /must be <= 256/);
    throwsUsage(() => parseCount("1.5", 1, 256), /not a whole number/);
  });

  test("rates are non-negative packets per second", () => {
    assert.equal(parsePps("200000"), 200_000);
    assert.equal(parsePps("1e6"), 1_000_000);
    assert.equal(parsePps("0"), 0);
    throwsUsage(() => parsePps("-5"), /negative/);
    throwsUsage(() => parsePps("fast"), /not a rate/);
    throwsUsage(() => parsePps("1e12"), /too large/);
  });
});

describe("sysctls", () => {
  test("the kernel's names map onto the model's Sysctls", () => {
    assert.deepEqual(parseSysctl("net.core.netdev_max_backlog=32"), { name: "net.core.netdev_max_backlog", patch: { netdev_max_backlog: 32 } });
    assert.deepEqual(parseSysctl("net.core.netdev_budget=8").patch, { netdev_budget: 8 });
    assert.deepEqual(parseSysctl("net.core.netdev_budget_usecs=8000").patch, { netdev_budget_usecs: 8000 });
    assert.deepEqual(parseSysctl("net.core.dev_weight=16").patch, { dev_weight: 16 });
    assert.deepEqual(parseSysctl("net.core.dev_weight_rx_bias=2").patch, { dev_weight_rx_bias: 2 });
    assert.deepEqual(parseSysctl("net.core.flow_limit_cpu_bitmap=1").patch, { flow_limit_cpu_bitmap: [0] });
    assert.deepEqual(parseSysctl("net.core.flow_limit_cpu_bitmap=e").patch, { flow_limit_cpu_bitmap: [1, 2, 3] });
    assert.deepEqual(parseSysctl("net.core.flow_limit_table_len=8192").patch, { flow_limit_table_len: 8192 });
    assert.equal(SYSCTL_NAMES.length, 8);
  });

  test("rps_sock_flow_entries is rounded up to a power of two, as the kernel does", () => {
    assert.deepEqual(parseSysctl("net.core.rps_sock_flow_entries=1000").patch, { rps_sock_flow_entries: 1024 });
    assert.deepEqual(parseSysctl("net.core.rps_sock_flow_entries=0").patch, { rps_sock_flow_entries: 0 });
  });

  test("an unknown key lists the known ones", () => {
    throwsUsage(() => parseSysctl("net.core.bogus=1"), /unknown sysctl 'net.core.bogus'/, /net\.core\.netdev_max_backlog/, /net\.core\.rps_sock_flow_entries/);
    throwsUsage(() => parseSysctl("netdev_max_backlog=1"), /did you mean net\.core\.netdev_max_backlog/);
  });

  test("bad values name the sysctl", () => {
    throwsUsage(() => parseSysctl("net.core.netdev_max_backlog"), /not KEY=VALUE/);
    throwsUsage(() => parseSysctl("net.core.netdev_max_backlog=-1"), /net\.core\.netdev_max_backlog: -1 is too small/);
    throwsUsage(() => parseSysctl("net.core.dev_weight=0"), /dev_weight: 0 is too small: must be >= 1/);
    throwsUsage(() => parseSysctl("net.core.netdev_budget=lots"), /netdev_budget: 'lots' is not a whole number/);
    throwsUsage(() => parseSysctl("net.core.flow_limit_table_len=1000"), /not a power of two/);
    throwsUsage(() => parseSysctl("net.core.flow_limit_cpu_bitmap=zz"), /not a hex CPU mask/);
  });
});
