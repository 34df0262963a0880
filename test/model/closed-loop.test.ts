// Closed-loop senders (`rate: max`) and open-loop senders that fall behind (issue 12, item 3).
// A closed loop sends again as soon as its last send's work is done, so every cost the sender's
// CPU pays per packet — its own send, the RPS enqueue, the stack work of a NET_RX run in its own
// context — sets its rate. An open-loop sender delayed past its next arrival does not send the
// missed packets back to back unless its phase says `catch_up`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runInProcess } from "../../engine/inprocess.ts";
import { DEFAULT_COSTS } from "../../model/defaults.ts";
import { LoadGenerator, SENDER_SLACK_NS } from "../../model/load.ts";
import { phasesOf } from "../../model/sources.ts";
import { config, type Opts } from "./fixtures.ts";

const MS = 1_000_000;

function sent(o: Opts): number {
  const r = runInProcess(config({ load: "loopback", rate: { kind: "max" }, durationNs: 5 * MS, ...o }));
  assert.ok(r.checker.ok, r.checker.violations.join("; "));
  return r.totals.injected;
}

/** The packets a closed loop sends in 5 ms when each costs `extraNs` more than in `base`'s run. */
function predicted(base: number, extraNs: number): number {
  return (5 * MS) / ((5 * MS) / base + extraNs);
}

function near(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got / want - 1) < 0.15, `${what}: ${got} packets, ${Math.round(want)} expected`);
}

test("closed loop: the sender's own per-packet cost sets its rate", () => {
  const base = sent({ rpsCpus: [1, 2, 3] });
  assert.ok(base > 2_000, `a closed loop is not paced: ${base} packets in 5 ms`);
  // 1000 ns more per sendmsg: the rate falls to what one more microsecond per packet allows.
  near(sent({ rpsCpus: [1, 2, 3], costs: { send_per_packet_ns: DEFAULT_COSTS.send_per_packet_ns + 1000 } }), predicted(base, 1000), "dearer sendmsg");
});

test("closed loop: RPS costs on the sender slow it down, stack work on other CPUs does not", () => {
  const e = { rpsCpus: [1, 2, 3] };
  const base = sent(e);
  near(sent({ ...e, costs: { rps_enqueue_per_packet_ns: DEFAULT_COSTS.rps_enqueue_per_packet_ns + 2000 } }), predicted(base, 2000), "dearer enqueue_to_backlog");
  // With RPS to other CPUs the protocol stack runs there: the sender's rate does not depend on it.
  near(sent({ ...e, costs: { process_per_packet_ns: DEFAULT_COSTS.process_per_packet_ns + 4000 } }), base, "dearer stack on the targets");
  // Without RPS the NET_RX run after each send runs the stack in the sender's own context.
  const local = sent({});
  near(sent({ costs: { process_per_packet_ns: DEFAULT_COSTS.process_per_packet_ns + 4000 } }), predicted(local, 4000), "dearer stack, no RPS");
});

test("closed loop: deterministic, and every packet accounted for", () => {
  const a = runInProcess(config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [0, 1, 2, 3], durationNs: 3 * MS, seed: 7 }));
  const b = runInProcess(config({ load: "loopback", rate: { kind: "max" }, rpsCpus: [0, 1, 2, 3], durationNs: 3 * MS, seed: 7 }));
  assert.deepEqual(a.cpus, b.cpus);
  assert.equal(a.totals.injected, a.totals.processed + a.totals.dropped + a.totals.queued + a.totals.in_flight);
});

test("a generator's closed-loop phase may send again from its last send on, until the phase ends", () => {
  const cfg = config({ load: "loopback", rate: { kind: "max" }, durationNs: 1 * MS });
  const g = new LoadGenerator(0, phasesOf(cfg, 0), 1);
  assert.equal(g.peekNs(), 0);
  g.take(0);
  g.take(700);
  assert.equal(g.peekNs(), 700);
  g.take(MS);
  assert.equal(g.peekNs(), Infinity, "past the phase's end");
});

/** A 100 kpps sender on CPU 0 whose CPU is held for 1 ms at 2 ms (an irq_off section). */
function stalledSender(catchUp: boolean | undefined, kind: "constant" | "poisson") {
  const cfg = config({ load: "loopback", rate: { kind, pps: 100_000 }, rpsCpus: [1, 2, 3], durationNs: 6 * MS });
  if (catchUp !== undefined) cfg.load[0]!.catch_up = catchUp;
  return runInProcess(cfg, { commands: [{ kind: "irq_off", cpu: 0, duration_ns: 1 * MS, at_ns: 2 * MS }] });
}

for (const kind of ["constant", "poisson"] as const) {
  test(`${kind}: a sender that fell behind resumes its schedule; catch_up sends the missed packets`, () => {
    const resumed = stalledSender(undefined, kind).totals.injected;
    const caughtUp = stalledSender(true, kind).totals.injected;
    // 1 ms at 100 kpps: ~100 packets missed, sent later in a burst only with catch_up.
    assert.ok(caughtUp - resumed > 80 && caughtUp - resumed < 120, `catch_up ${caughtUp}, default ${resumed}`);
    assert.equal(stalledSender(false, kind).totals.injected, resumed, "catch_up: false is the default");
    if (kind === "constant") assert.ok(caughtUp >= 599 && caughtUp <= 600, `every one of the 600 arrivals sent: ${caughtUp}`);
  });
}

test("a late open-loop generator skips what it fell behind beyond the slack, keeping its interval", () => {
  const cfg = config({ load: "loopback", rate: { kind: "constant", pps: 1_000_000 }, durationNs: 1 * MS });
  const g = new LoadGenerator(0, phasesOf(cfg, 0), 1);
  g.take(0);
  assert.equal(g.peekNs(), 1000);
  g.take(1000 + SENDER_SLACK_NS); // late within the timer slack: the schedule keeps its place
  assert.equal(g.peekNs(), 2000);
  g.take(2000 + SENDER_SLACK_NS + 300); // later than that: what is beyond the slack is skipped
  assert.equal(g.peekNs(), 3300, "still the slack's worth behind: those go at once");
  g.take(3300 + SENDER_SLACK_NS);
  assert.equal(g.peekNs(), 4300);
  const h = new LoadGenerator(0, phasesOf({ ...cfg, load: [{ ...cfg.load[0]!, catch_up: true }] }, 0), 1);
  h.take(0);
  h.take(1000 + 2 * SENDER_SLACK_NS);
  assert.equal(h.peekNs(), 2000, "catch_up: the missed arrivals are due at once");
});
