// Assertions at the model's seams (docs/DESIGN.md §2.4): an invariant that fails is a bug in the
// model, never a condition to handle, so it throws and the run stops. They stay on in runs: each
// costs a comparison on the hot path, and a message is a constant string (no formatting).

/** A broken invariant of the model. */
export class InvariantError extends Error {
  override name = "InvariantError";
}

export function assert(cond: boolean, msg: string): asserts cond {
  if (!cond) throw new InvariantError(msg);
}
