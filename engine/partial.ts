// The results so far of a run that did not reach its end: an engine stopped by a signal or by a
// failure rejects with its own reason (an Interrupted, a CoordinatorError, a bug's Error) and hangs
// what it had computed on that reason, so the CLI can still write the JSON and the summary. Kept
// beside the error rather than in it: the reasons keep their classes and messages.
import type { RunResults } from "../model/results.ts";

const partials = new WeakMap<object, RunResults>();

/** Hang `results` on `reason` (an object; anything else cannot carry them). Returns `reason`. */
export function attachPartial<T>(reason: T, results: RunResults | undefined): T {
  if (results && typeof reason === "object" && reason !== null) partials.set(reason, results);
  return reason;
}

/** The results hung on `reason`, if any. */
export function partialOf(reason: unknown): RunResults | undefined {
  return typeof reason === "object" && reason !== null ? partials.get(reason) : undefined;
}
