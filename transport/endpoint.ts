// Endpoints given on the command line are bad input, not bugs: a port out of range is refused up
// front, and a CPU process that cannot bind its peer inbox or dial the coordinator (a port in use,
// a missing ipc directory, an address of another host) says so in one line (exit 2), no stack trace.

export class EndpointError extends Error {
  override readonly name = "EndpointError";
}

/** What ZeroMQ's errno means for an endpoint given on the command line. */
const WHY: Record<string, string> = {
  EADDRINUSE: "the address is already in use",
  EACCES: "permission denied",
  EADDRNOTAVAIL: "not an address of this host",
  ENODEV: "no such interface or host",
  ENOENT: "the socket's directory does not exist",
  ENAMETOOLONG: "the socket path is too long",
  EINVAL: "not a valid endpoint",
  EPROTONOSUPPORT: "transport not supported",
};

/** `--bind tcp://127.0.0.1:5555: cannot bind: the address is already in use (EADDRINUSE)` */
export function endpointError(flag: string, endpoint: string, action: "bind" | "connect", err: unknown): EndpointError {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const why = (code && WHY[code]) ?? String(e?.message ?? err).split("\n")[0];
  return new EndpointError(`${flag} ${endpoint}: cannot ${action}: ${why}${code ? ` (${code})` : ""}`);
}

/** A tcp port ZeroMQ would silently wrap (tcp://h:99999 binds 34463): `--bind X: port 99999 is out of range (0-65535)`. */
export function portRangeError(flag: string, endpoint: string): string | null {
  const port = /^tcp:\/\/[^:\s]+:(\d+)$/.exec(endpoint)?.[1];
  return port !== undefined && Number(port) > 65535 ? `${flag} ${endpoint}: port ${port} is out of range (0-65535)` : null;
}
