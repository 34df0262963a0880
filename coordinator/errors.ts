// The coordinator's failures. A CoordinatorError is a run that failed for a reason outside the code
// (a timeout, a stuck run, every CPU dead, a command the run no longer takes): shown without a stack.
// A run stopped by a signal rejects with engine/contract.ts's Interrupted, as the in-process engine.
export class CoordinatorError extends Error {
  override readonly name = "CoordinatorError";

  /** The same failure with `tail` appended (the last lines of the CPUs that exited badly). */
  withTail(tail: string): CoordinatorError {
    return tail === "" ? this : new CoordinatorError(`${this.message}${tail}`);
  }
}
