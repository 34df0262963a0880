// Errors of `npm run ground-truth` meant for the user. main.ts prints them as one line.

/** Bad flags or a missing tool: exit 2. */
export class GroundTruthUsage extends Error {
  override readonly name = "GroundTruthUsage";
}

/** apt could not give us a kernel package (no candidate in its lists, or the download failed). */
export class KernelUnavailable extends Error {
  override readonly name = "KernelUnavailable";
}
