// PendingTimes answers what the scan over pending command times it replaced answered: the earliest
// time still pending, duplicates counted, removing a time nobody added changes nothing.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { PendingTimes } from "../../model/pending-times.ts";

describe("PendingTimes", () => {
  test("the earliest pending time, as an array scan would give it, under random adds and removes", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 20 })), { maxLength: 200 }), (ops) => {
        const p = new PendingTimes();
        const ref: number[] = [];
        for (const [add, at] of ops) {
          if (add) {
            p.add(at);
            ref.push(at);
          } else {
            p.remove(at);
            const i = ref.indexOf(at);
            if (i >= 0) ref.splice(i, 1);
          }
          assert.equal(p.earliest(), ref.length ? Math.min(...ref) : Infinity);
        }
      }),
    );
  });
});
