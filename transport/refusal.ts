// The coordinator's refusal of a CPU, typed across the process boundary: an Error message's code
// is the protobuf enum ErrorCode (proto/softnet.proto), which the CPU takes as a Refused error with
// the exit code of config/exit-codes.ts.
import { EXIT } from "../config/exit-codes.ts";

/** Why a hello was refused, in ErrorCode's order (the codec checks the two agree as it loads). */
export const REFUSAL_CODES = ["auth", "full", "bad_id", "duplicate_id"] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/**
 * Each refusal is bad input to the CPU process (a wrong secret, an id out of range or taken, one
 * CPU too many for the run): exit 2, which a supervisor should not answer with a restart.
 */
const REFUSAL_EXIT: Record<RefusalCode, number> = { auth: EXIT.usage, full: EXIT.usage, bad_id: EXIT.usage, duplicate_id: EXIT.usage };

/** The coordinator refused this CPU: its code, its words, and the exit code the CPU leaves with. */
export class Refused extends Error {
  readonly exitCode: number;

  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = "Refused";
    this.exitCode = REFUSAL_EXIT[code];
  }
}
