// The in-memory hand-off between a socket's receive loop and the CPU's main loop. The receive
// loop stops reading while too many peer messages wait, so a slow CPU pushes back on its senders
// through ZeroMQ's high-water marks instead of growing without bound. Control letters are not held
// back: the coordinator sends few (a lease, a command or a death at a time, a heartbeat per
// heartbeat_ms) and the main loop takes every letter on each turn.
import type { Envelope } from "./codec.ts";

export type Source = "peer" | "control";

export interface Letter {
  source: Source;
  env: Envelope;
}

export class Mailbox {
  private letters: Letter[] = [];
  private wake: (() => void) | null = null;
  private room: (() => void) | null = null;
  private peerLetters = 0;

  constructor(private readonly peerLettersMax: number) {}

  push(letter: Letter): void {
    this.letters.push(letter);
    if (letter.source === "peer") this.peerLetters++;
    this.notify();
  }

  /** Resolves when the peer receive loop may read again. */
  hasRoom(): Promise<void> {
    if (this.peerLetters < this.peerLettersMax) return Promise.resolve();
    return new Promise((resolve) => (this.room = resolve));
  }

  takeAll(): Letter[] {
    const out = this.letters;
    this.letters = [];
    this.peerLetters = 0;
    const room = this.room;
    this.room = null;
    room?.();
    return out;
  }

  get size(): number {
    return this.letters.length;
  }

  /** Wait for a letter or at most `ms`. */
  wait(ms: number): Promise<void> {
    if (this.letters.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Wake a waiting main loop (a letter arrived, or a send finished). */
  notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}
