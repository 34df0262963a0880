// ZeroMQ enforces a receiving socket's maxMessageSize (--max-frame) by dropping the frame together
// with the sender's connection (the sender reconnects, and what it sends next arrives). Measured
// with zeromq.js 6 / libzmq 4.3: the receiver sees only a 'disconnect' event, with no reason, the
// same as for a peer that went away; no frame reaches our code and nothing is allocated for it. So a
// dropped oversized frame cannot be counted as such: every connection closed during the run is
// logged instead, rate-limited, saying both things it can mean.
import type * as zmq from "zeromq";

export interface ClosedConnectionLog {
  /** `peer inbox`, `control socket`. */
  what: string;
  maxFrameBytes: number;
  log: (line: string) => void;
  /** Whether a closed connection is news now (during the run; not at its end). */
  active: () => boolean;
}

export function logClosedConnections(socket: zmq.Socket, o: ClosedConnectionLog): void {
  let closed = 0;
  socket.events.on("disconnect", () => {
    if (!o.active()) return;
    closed++;
    if (closed <= 5 || closed % 100 === 0)
      o.log(`${o.what}: a connection closed during the run (#${closed}): a sender that went away, or a frame over --max-frame (${o.maxFrameBytes} bytes), which zeromq drops with its connection`);
  });
}
