// Nemesis specs as users write them: KIND[:key=value,...]. Bad input is one line naming the spec
// and the key; defaults are filled in from the host (CPU count, sources, sysctls).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { UsageError } from "../../config/errors.ts";
import { formatNemesis, nemesisFromMapping, parseNemesis, resolveNemesis } from "../../chaos/spec.ts";
import { config } from "../model/fixtures.ts";

const cfg = config({ rpsCpus: [1, 2, 3] });
const resolve = (text: string, engine: "inprocess" | "processes" = "inprocess") => resolveNemesis(parseNemesis(text), cfg, engine);

function refuses(f: () => unknown, re: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, re);
    return true;
  });
}

describe("nemesis specs", () => {
  test("defaults are filled in and shown in flag form", () => {
    assert.equal(formatNemesis(resolve("hotplug")), "hotplug:interval=2ms,dwell=1ms,min_online=1,cpu_mask=f");
    assert.equal(formatNemesis(resolve("sysctl")), "sysctl:interval=5ms,dwell=2ms,name=netdev_max_backlog,min=31,max=250");
    assert.equal(formatNemesis(resolve("burst:factor=2.5,hot_share=0")), "burst:interval=5ms,duration=1ms,factor=2.5,hot_share=0");
    assert.deepEqual(resolve("irq-off:interval=1ms,duration=200us,cpu_mask=6").opts, { interval_ns: 1_000_000, duration_ns: 200_000, cpus: [1, 2] });
    assert.deepEqual(resolve("sysctl:name=net.core.netdev_budget,min=1,max=8").opts, { interval_ns: 5_000_000, dwell_ns: 2_000_000, name: "netdev_budget", min: 1, max: 8 });
  });

  test("a scenario file's mapping means the same as the flag", () => {
    const m = nemesisFromMapping({ kind: "hotplug", interval: "1ms", min_online: 2, cpu_mask: "e" }, "nemesis[0]");
    assert.deepEqual(resolveNemesis(m, cfg, "inprocess"), resolve("hotplug:interval=1ms,min_online=2,cpu_mask=e"));
    refuses(() => nemesisFromMapping({ interval: "1ms" }, "nemesis[1]"), /^nemesis\[1\]: missing kind/);
  });

  test("bad input: one line naming the spec and what is wrong", () => {
    refuses(() => parseNemesis("earthquake"), /^--nemesis earthquake: unknown nemesis kind 'earthquake' \(known: hotplug, irq-affinity, rps, sysctl, burst, irq-off, ipi-delay, kill, pause\)$/);
    refuses(() => parseNemesis("hotplug:intervall=1ms"), /unknown key 'intervall' for hotplug \(known: interval, dwell, min_online, cpu_mask\)/);
    refuses(() => parseNemesis("hotplug:interval=-1ms"), /^--nemesis hotplug:interval=-1ms: interval: duration '-1ms' is negative$/);
    refuses(() => parseNemesis("hotplug:interval=1"), /interval: '1' is not a duration/);
    refuses(() => parseNemesis("hotplug:interval"), /'interval' is not key=value/);
    refuses(() => parseNemesis("hotplug:dwell=1ms,dwell=2ms"), /key 'dwell' given twice/);
    refuses(() => parseNemesis("burst:hot_share=1.5"), /hot_share: 1.5 is not a share between 0 and 1/);
    refuses(() => parseNemesis("hotplug:min_online=-2"), /min_online: -2 is negative/);
    refuses(() => parseNemesis("sysctl:name=net.core.rmem_max"), /'net.core.rmem_max' is not a sysctl a nemesis can turn/);
    refuses(() => resolve("hotplug:min_online=5"), /^--nemesis hotplug:min_online=5: min_online 5 is larger than the CPU count \(the host has 4 CPUs \(CPUs 0-3\)\)$/);
    refuses(() => resolve("hotplug:min_online=0"), /min_online must be >= 1/);
    refuses(() => resolve("hotplug:interval=0ns"), /interval must be >= 1ns, got 0ns/);
    refuses(() => resolve("irq-off:cpu_mask=10"), /cpu_mask '10' sets CPU 4, but the host has only 4 CPUs/);
    refuses(() => resolve("rps:source=3"), /source 3 does not exist \(sources 0-0/);
    refuses(() => resolve("irq-affinity:queue=1"), /queue 1 does not exist/);
    refuses(() => resolve("sysctl:min=9,max=3"), /max 3 is smaller than min 9/);
    refuses(() => resolve("kill:cpu=1"), /^--nemesis kill:cpu=1: kill acts on CPU processes: it needs --engine processes$/);
    refuses(() => resolve("pause:at=20ms", "processes"), /at 20ms is not inside the chaos phase \(10ms\)/);
    refuses(() => resolveNemesis(parseNemesis("irq-affinity"), config({ load: "loopback" }), "inprocess"), /the scenario has no NIC queue/);
  });
});
