// One judge of the commands a running emulation takes over the control API, shared by both engines
// (engine/live.ts for the in-process one, observe/processes-control.ts for the coordinator), so the same
// request gets the same answer whichever engine runs it: 400 for a value that is not one (a rate
// that is not a finite number in range), 404 for something the run does not have (a CPU or load
// source id), 409 for a command the run's state refuses (a CPU already offline, the last online
// CPU, a run that is over or stopping). Nothing here touches the run.

/**
 * The highest rate `rate` accepts, in packets per second: the bound `--rate` and scenario files
 * already have (config/units.ts MAX_PPS; a test keeps the two equal), so a rate a run may start with
 * may also be set while it runs. It is well above what one emulated CPU can process (a few Mpps)
 * and about a 100 Gb/s port's line rate of minimum-size frames (148.8 Mpps). At that rate a CPU
 * process's longest step (2 ms of virtual time) is ~2·10⁵ packets, a fraction of a wall second,
 * far inside the 3 s CPU timeout; the in-process engine steps in slices bounded by wall time, so it
 * keeps answering signals and requests however slow the run gets. Without a bound,
 * `{"pps": 1e15}` asked for 10⁶ packets per virtual nanosecond: one step never ended.
 */
export const MAX_COMMAND_PPS = 100_000_000;

/** A refused command: its HTTP status and a one-line reason. */
export class CommandRefused extends Error {
  override readonly name = "CommandRefused";

  constructor(
    readonly status: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
  }
}

/** What the control API asks of a run. */
export type ControlCommand =
  | { kind: "offline" | "online"; cpu: number }
  | { kind: "rate"; source: number; pps: number }
  | { kind: "stop" };

/** The run as the validator needs to see it, at the virtual time a command would take effect. */
export interface CommandContext {
  cpus: number;
  /** Load sources: NIC RX queues, then loopback senders (the index space of `rate`'s `source`). */
  sources: number;
  /** Why the run takes no command now (over, stopping, …); undefined while it takes them. */
  closed?: string;
  /** The virtual time the command would take effect at (for the messages). */
  atNs: number;
  /** `cpu` is online at atNs (scenario events, planned and earlier run-time commands). */
  online(cpu: number): boolean;
  /** CPUs whose process died: offline for good. */
  dead?: readonly number[];
}

/** Why `pps` is no rate a command may set (400), or undefined. 0 is one: it stops the source. */
export function ppsError(pps: unknown): string | undefined {
  if (typeof pps !== "number" || !Number.isFinite(pps) || pps < 0 || pps > MAX_COMMAND_PPS)
    return `"pps" must be a rate in packets per second, a number from 0 to ${MAX_COMMAND_PPS} (1e8), got ${show(pps)}`;
  return undefined;
}

/** Why `v` is no id (400), or undefined. */
function idError(field: "cpu" | "source", v: unknown): string | undefined {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return undefined;
  return `"${field}" must be a ${field === "cpu" ? "CPU id" : "load source index"} (integer >= 0), got ${show(v)}`;
}

/** Throw a CommandRefused if the run must not take `cmd` now; return quietly if it may. */
export function validateCommand(cmd: ControlCommand, ctx: CommandContext): void {
  // The shape first (400), then what the run has (404), then its state (409).
  if (cmd.kind === "rate") {
    const bad = idError("source", cmd.source) ?? ppsError(cmd.pps);
    if (bad) throw new CommandRefused(400, bad);
    if (cmd.source >= ctx.sources)
      throw new CommandRefused(404, `unknown load source ${cmd.source}: this run has ${ctx.sources > 0 ? `sources ${range(ctx.sources)}` : "no load source"}`);
  } else if (cmd.kind === "offline" || cmd.kind === "online") {
    const bad = idError("cpu", cmd.cpu);
    if (bad) throw new CommandRefused(400, bad);
    if (cmd.cpu >= ctx.cpus) throw new CommandRefused(404, `unknown cpu ${cmd.cpu}: this run has cpus ${range(ctx.cpus)}`);
  }
  if (ctx.closed !== undefined) throw new CommandRefused(409, ctx.closed);
  if (cmd.kind !== "offline" && cmd.kind !== "online") return;

  const { cpu, kind } = cmd;
  const dead = ctx.dead ?? [];
  if (dead.includes(cpu)) throw new CommandRefused(409, `cpu ${cpu} has crashed; it cannot be brought ${kind}`);
  const online = ctx.online(cpu);
  if (kind === "online") {
    if (online) throw new CommandRefused(409, `cpu ${cpu} is already online at ${ctx.atNs} ns`);
    return;
  }
  if (!online) throw new CommandRefused(409, `cpu ${cpu} is already offline at ${ctx.atNs} ns`);
  let others = 0;
  for (let c = 0; c < ctx.cpus; c++) if (c !== cpu && !dead.includes(c) && ctx.online(c)) others++;
  if (others === 0) throw new CommandRefused(409, `cpu ${cpu} is the last online cpu (the kernel refuses to offline it)`);
}

function range(n: number): string {
  return n === 1 ? "0" : `0-${n - 1}`;
}

function show(v: unknown): string {
  const text = v === undefined ? "nothing" : typeof v === "number" && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
