// Progress on stderr: silent for short runs, one redrawn line on a terminal, a line per ~10 %
// otherwise.
import assert from "node:assert/strict";
import { test } from "node:test";
import { createProgress } from "../../cli/progress.ts";

function fakeSink(isTTY: boolean) {
  const sink = { isTTY, text: "", write: (t: string) => void (sink.text += t) };
  return sink;
}

test("runs shorter than ~2 s of wall time print nothing", () => {
  let now = 0;
  const sink = fakeSink(true);
  const p = createProgress(sink, () => now);
  for (let v = 0; v <= 100; v++) {
    now = v * 19; // 1.9 s in total
    p.onProgress(v, 100);
  }
  p.finish();
  assert.equal(sink.text, "");
});

test("on a terminal: one line, redrawn in place and cleared at the end", () => {
  let now = 0;
  const sink = fakeSink(true);
  const p = createProgress(sink, () => now);
  for (let v = 0; v <= 100; v++) {
    now = v * 50; // 5 s in total
    p.onProgress(v, 100);
  }
  p.finish();
  assert.ok(!sink.text.includes("\n"), "never a new line");
  assert.match(sink.text, /^\rsoftnet-emu: +\d+% of 100ns virtual · \d\.\ds wall/);
  assert.ok(sink.text.endsWith("\r\x1b[K"), "cleared at the end");
});

test("not a terminal: a line every ~10 % of virtual time", () => {
  let now = 0;
  const sink = fakeSink(false);
  const p = createProgress(sink, () => now);
  for (let v = 0; v <= 1000; v++) {
    now = 2000 + v; // past the quiet period from the start
    p.onProgress(v * 1_000_000, 1_000_000_000);
  }
  p.finish();
  const lines = sink.text.trimEnd().split("\n");
  assert.equal(lines.length, 11, "0 %, 10 %, ..., 100 %");
  assert.match(lines[5] ?? "", /^softnet-emu:  50% of 1s virtual · 2\.5s wall · ~3s left$/);
});
