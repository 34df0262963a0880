// Progress on stderr for runs that take a while: nothing for the first ~2 s of wall time (most
// runs finish sooner and should print nothing but their results), then one updating line on a
// terminal, or a line per ~10 % of virtual time when stderr is a file or a pipe.
import { formatNs } from "../config/units.ts";

export interface ProgressSink {
  write(text: string): void;
  isTTY: boolean;
}

export interface Progress {
  onProgress(virtualNs: number, totalNs: number): void;
  /** Clears the updating line, if one was drawn. */
  finish(): void;
}

const QUIET_WALL_MS = 2000;
const TTY_REDRAW_MS = 100;

export function createProgress(sink: ProgressSink, nowMs: () => number = () => performance.now()): Progress {
  const startMs = nowMs();
  let lastDrawMs = -Infinity;
  let lastDecile = -1;
  let drawn = false;
  return {
    onProgress(virtualNs, totalNs) {
      const now = nowMs();
      const wallMs = now - startMs;
      if (wallMs < QUIET_WALL_MS || totalNs <= 0) return;
      const fraction = Math.min(1, virtualNs / totalNs);
      const line = `softnet-emu: ${(fraction * 100).toFixed(0).padStart(3)}% of ${formatNs(totalNs)} virtual · ${(wallMs / 1000).toFixed(1)}s wall${eta(fraction, wallMs)}`;
      if (sink.isTTY) {
        if (now - lastDrawMs < TTY_REDRAW_MS) return;
        lastDrawMs = now;
        drawn = true;
        sink.write(`\r${line}\x1b[K`);
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile <= lastDecile) return;
        lastDecile = decile;
        sink.write(`${line}\n`);
      }
    },
    finish() {
      if (drawn) sink.write("\r\x1b[K");
    },
  };
}

function eta(fraction: number, wallMs: number): string {
  if (fraction <= 0 || fraction >= 1) return "";
  return ` · ~${Math.ceil((wallMs / fraction - wallMs) / 1000)}s left`;
}
