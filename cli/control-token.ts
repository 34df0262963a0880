// The control API's bearer token for `run` and `coordinator` (observe/http.ts checks it):
// --control-token T, --control-token-file F (its first line) or the SOFTNET_CONTROL_TOKEN
// variable, in that order; an empty variable counts as unset. A token that cannot be read or is
// not one (blank, spaces, control characters) is a usage error (exit 2) before the run starts.
// None given: the server needs none on loopback and makes one up anywhere else.
import { readFileSync } from "node:fs";
import { UsageError } from "../config/errors.ts";
import type { LiveCliOptions } from "./run-options.ts";

export const CONTROL_TOKEN_ENV = "SOFTNET_CONTROL_TOKEN";

/** What an `Authorization: Bearer` header can carry: printable ASCII, no spaces. */
const TOKEN = /^[\x21-\x7e]+$/;

export function resolveControlToken(o: Pick<LiveCliOptions, "controlToken" | "controlTokenFile">, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (o.controlToken !== undefined) return checked("--control-token", o.controlToken);
  if (o.controlTokenFile !== undefined) {
    const file = o.controlTokenFile;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new UsageError(`--control-token-file ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    return checked(`--control-token-file ${file}`, text.split(/\r?\n/, 1)[0]!.trim());
  }
  const fromEnv = env[CONTROL_TOKEN_ENV]?.trim();
  return fromEnv ? checked(CONTROL_TOKEN_ENV, fromEnv) : undefined;
}

function checked(source: string, token: string): string {
  if (token === "") throw new UsageError(`${source}: the control token is empty`);
  if (!TOKEN.test(token)) throw new UsageError(`${source}: a control token is printable ASCII without spaces`);
  return token;
}
