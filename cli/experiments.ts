// The experiment commands (issue 5): compare, sweep, reproduce. Registered after `run`, whose
// options they copy.
import type { Command } from "commander";
import { registerCompare } from "./compare.ts";
import type { CliIo } from "./io.ts";
import { registerReproduce } from "./reproduce.ts";
import { registerSweep } from "./sweep.ts";

export function registerExperiments(program: Command, io: CliIo, setExit: (code: number) => void): void {
  registerCompare(program, io, setExit);
  registerSweep(program, io, setExit);
  registerReproduce(program, io, setExit);
}
