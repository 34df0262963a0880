// What reaches a CPU process: the coordinator's words on the DEALER and the peers' on the PULL,
// each checked (transport/auth.ts, codec.ts) by its own receive loop and handed to the main loop
// through the Mailbox, which pushes back on peers when the model falls behind. A message that does
// not check out is counted by kind (reported to the coordinator) and logged sparingly.
import type * as zmq from "zeromq";
import type { WireKey } from "../transport/auth.ts";
import { MALFORMED_KINDS, MalformedMessage, decode, type Envelope, type MalformedKind } from "../transport/codec.ts";
import { Mailbox, type Letter } from "../transport/mailbox.ts";

/** Peer messages read ahead of the model at most; beyond it ZeroMQ queues and senders wait. */
const PEER_LETTERS_MAX = 256;

export class Inbox {
  readonly mailbox = new Mailbox(PEER_LETTERS_MAX);
  /** Malformed messages dropped so far, by MALFORMED_KINDS index (every report carries them). */
  readonly malformed = MALFORMED_KINDS.map(() => 0);

  constructor(
    private readonly key: WireKey,
    private readonly log: (line: string) => void,
    /** Before the Welcome, a refusal of our secret is the coordinator's answer, not garbage. */
    private readonly welcomed: () => boolean,
    private readonly closing: () => boolean,
  ) {}

  async listen(sock: zmq.Pull | zmq.Dealer, source: Letter["source"]): Promise<void> {
    try {
      for await (const frames of sock) {
        const frame = frames[frames.length - 1]!;
        let env: Envelope;
        try {
          if (frames.length !== 1) throw new MalformedMessage(`${frames.length}-part message`);
          env = decode(frame, this.key);
        } catch (e) {
          // Before the welcome, the coordinator's refusal of our secret (it cannot seal that for us).
          const refusal = e instanceof MalformedMessage && source === "control" && !this.welcomed() ? e.authRefusal : undefined;
          if (refusal) {
            this.mailbox.push({ source, env: refusal });
            continue;
          }
          this.countMalformed(e instanceof MalformedMessage ? e.kind : "decode_error", `${source} socket: ${(e as Error).message}`);
          continue;
        }
        this.mailbox.push({ source, env });
        if (source === "peer") await this.mailbox.hasRoom();
      }
    } catch (e) {
      if (!this.closing()) this.log(`${source} receive loop ended: ${(e as Error).message}`);
    }
  }

  countMalformed(kind: MalformedKind, why: string): void {
    const i = MALFORMED_KINDS.indexOf(kind);
    this.malformed[i]!++;
    // Log the first few and then every 100th: a flood must not become a log flood.
    const total = this.malformed.reduce((a, b) => a + b, 0);
    if (total <= 5 || total % 100 === 0) this.log(`dropped malformed message #${total} (${kind}): ${why}`);
  }
}
