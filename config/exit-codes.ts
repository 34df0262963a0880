// Exit codes of every softnet-emu command (run, coordinator, cpu, the experiments), in one place so
// scripts and chaos tools can tell the outcomes apart. Shells report a death by signal N as 128 + N:
// an interrupted run says so the same way, after tearing everything down.
import type { RunResults } from "../model/results.ts";

export const EXIT = {
  ok: 0,
  /** The checker found a violation, an assertion failed, or the run failed (a timeout, a stuck run). */
  failed: 1,
  /** Bad input: one line on stderr naming it. */
  usage: 2,
  /** A bug: the stack trace is printed. */
  bug: 3,
  /** The run ended with results, but degraded: a CPU process died (its packets in lost_on_crash). */
  degraded: 4,
  /** SIGINT (Ctrl-C) */
  interrupted: 130,
  /** SIGTERM (docker stop, kill) */
  terminated: 143,
} as const;

/** The exit code of a run stopped by `signal`. */
export function exitCodeOfSignal(signal: "SIGINT" | "SIGTERM"): number {
  return signal === "SIGINT" ? EXIT.interrupted : EXIT.terminated;
}

/** One line for --help. */
export const EXIT_HELP =
  "Exit status: 0 ok, 1 the checker found a violation, a backlog stalled or the run failed,\n" +
  "2 bad input, 3 internal error, 4 degraded (a CPU process died: its packets count as lost_on_crash),\n" +
  "130/143 interrupted (SIGINT/SIGTERM; --json keeps the results so far).";

type Degraded = { degraded?: { dead_cpus: number[]; lost_on_crash: number } };

/** A finished run's code: 1 for a checker violation or a failed assertion, 4 when a CPU process died. */
export function exitCodeOfResults(results: RunResults, checksFailed: boolean): number {
  if (!results.checker.ok || checksFailed) return EXIT.failed;
  if ((results as RunResults & Degraded).degraded) return EXIT.degraded;
  return EXIT.ok;
}

/** One line saying why a run exits 4. */
export function degradedLine(results: RunResults): string {
  const d = (results as RunResults & Degraded).degraded;
  if (!d) return "not degraded";
  const one = d.dead_cpus.length === 1;
  return `degraded: CPU process${one ? "" : "es"} ${d.dead_cpus.join(", ")} died; what ${one ? "it" : "they"} held is counted as lost_on_crash (${d.lost_on_crash})`;
}
