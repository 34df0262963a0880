// engine/schedule.ts: the checkpoint and sample times both engines stop at (a checkpoint every
// interval and at the end; a sample every interval and at the end, none after it; a stop that moves
// the end pulls both in).
import assert from "node:assert/strict";
import { test } from "node:test";
import { Schedule } from "../../engine/schedule.ts";

/** Every stop of a run to its end, with what it is. */
function walk(s: Schedule): string[] {
  const stops: string[] = [];
  for (let guard = 0; guard < 1000; guard++) {
    const t = s.nextNs();
    const what = [t === s.checkNs ? "check" : "", t === s.sampleNs ? "sample" : "", t === s.endNs ? "end" : ""].filter(Boolean).join("+");
    stops.push(`${t}:${what}`);
    if (t === s.checkNs) s.checked();
    if (t === s.sampleNs) s.sampled();
    if (t === s.endNs) return stops;
  }
  throw new Error("the schedule never reached the end");
}

test("checkpoints every interval and at the end; samples every interval and at the end", () => {
  assert.deepEqual(walk(new Schedule(300, 200, 1000)), [
    "200:sample",
    "300:check",
    "400:sample",
    "600:check+sample",
    "800:sample",
    "900:check",
    "1000:check+sample+end",
  ]);
});

test("an interval of 0 turns that stop off; the end is always a stop", () => {
  assert.deepEqual(walk(new Schedule(0, 400, 1000)), ["400:sample", "800:sample", "1000:sample+end"]);
  assert.deepEqual(walk(new Schedule(400, 0, 1000)), ["400:check", "800:check", "1000:check+end"]);
  const none = new Schedule(0, 0, 1000);
  assert.equal(none.nextNs(), 1000);
  none.checked();
  none.sampled();
  assert.equal(none.checkNs, Infinity, "no check appears when checks are off");
  assert.equal(none.sampleNs, Infinity);
});

test("after the last sample there is none; the last checkpoint stays at the end", () => {
  const s = new Schedule(500, 500, 1000);
  s.checked();
  s.sampled();
  assert.deepEqual([s.checkNs, s.sampleNs], [1000, 1000]);
  s.checked();
  s.sampled();
  assert.deepEqual([s.checkNs, s.sampleNs], [1000, Infinity]);
});

test("an interval longer than the run: the end is the first stop of each kind", () => {
  const s = new Schedule(5000, 7000, 1000);
  assert.deepEqual([s.checkNs, s.sampleNs, s.nextNs()], [1000, 1000, 1000]);
});

test("a stop that moves the end in pulls the next checkpoint and sample to it", () => {
  const s = new Schedule(300, 200, 1000);
  s.sampled(); // at 200
  s.endAt(350);
  assert.deepEqual([s.checkNs, s.sampleNs, s.endNs], [300, 350, 350]);
  s.checked(); // at 300
  assert.equal(s.checkNs, 350);
  s.sampled(); // at 350, the end
  assert.equal(s.sampleNs, Infinity);
});
