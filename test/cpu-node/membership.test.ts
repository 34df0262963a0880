// cpu-node/membership.ts: a peer declared dead goes offline in our model now and at every time the
// schedule (the scenario's events and the coordinator's commands not yet passed) would bring it
// back; the online commands kept for that leave once our clock passes them (a bounded list).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EmuConfig } from "../../model/config.ts";
import type { Cpu } from "../../model/cpu.ts";
import type { CpuCommand } from "../../model/messages.ts";
import type { PeerLinks } from "../../transport/peer-links.ts";
import { Membership } from "../../cpu-node/membership.ts";
import type { Reporting } from "../../cpu-node/reporting.ts";

function setUp(events: EmuConfig["events"] = []) {
  const given: CpuCommand[] = [];
  const dropped: number[] = [];
  let reports = 0;
  const crashed: number[] = [];
  const cpu = { id: 0, clock: 0, command: (c: CpuCommand) => given.push(c), peerCrashed: (p: number) => crashed.push(p) };
  const cfg = { cpus: 4, events } as unknown as EmuConfig;
  const peers = { drop: (p: number) => dropped.push(p) } as unknown as PeerLinks;
  const reporting = {
    rxPackets: new Float64Array(4),
    peerDead: (c: number, seq: number) => ({ cpu: c, report_seq: seq, fresh: 0, later: false, unsure: false }),
    report: () => reports++,
  } as unknown as Reporting;
  const members = new Membership(cpu as unknown as Cpu, cfg, peers, reporting, () => false, () => {});
  return { members, cpu, given, dropped, crashed, reports: () => reports };
}

test("a dead peer goes offline now and wherever the schedule would bring it back", () => {
  const { members, cpu, given, dropped, crashed, reports } = setUp([{ at_ns: 500, cpu: 2, action: "online" } as EmuConfig["events"][number]]);
  members.commanded({ kind: "online", cpu: 2, at_ns: 800 });
  members.commanded({ kind: "online", cpu: 3, at_ns: 900 });
  cpu.clock = 300;
  members.peerDead(2, 7);
  assert.deepEqual(given, [
    { kind: "offline", cpu: 2, at_ns: 300 },
    { kind: "offline", cpu: 2, at_ns: 500 },
    { kind: "offline", cpu: 2, at_ns: 800 },
  ]);
  assert.deepEqual(dropped, [2]);
  assert.deepEqual(crashed, [2], "the model stops awaiting the dead peer's dev_cpu_dead records");
  assert.equal(reports(), 1, "a report carries the dead peer's receipts at once");
  assert.equal(members.dead[2], 1);
  members.peerDead(2, 7);
  members.peerDead(0, 7);
  members.peerDead(9, 7);
  assert.equal(given.length, 3, "again, ourselves, or no such cpu: nothing happens");
  assert.deepEqual(crashed, [2]);
});

test("online commands our clock has passed are forgotten: the list stays bounded", () => {
  const { members, cpu, given } = setUp();
  for (let t = 0; t < 10_000; t += 10) {
    cpu.clock = t;
    members.commanded({ kind: "online", cpu: 1, at_ns: t + 5 });
    members.commanded({ kind: "offline", cpu: 1, at_ns: t + 6 });
  }
  assert.equal((members as unknown as { onlines: unknown[] }).onlines.length, 1, "only the one not yet passed");
  members.peerDead(1, 0);
  assert.deepEqual(given.map((c) => c.at_ns), [9990, 9995]);
});
