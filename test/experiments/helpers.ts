// Running the CLI in this process (runCli with buffers) and reading what it wrote.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, type Document } from "@xmldom/xmldom";
import { runCli, type CliIo } from "../../cli/main.ts";

export async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t), outIsTTY: false, errIsTTY: false };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "softnet-emu-exp-"));
}

/** Parse as XML; any error or warning of the parser fails. */
export function parseXml(text: string, what: string): Document {
  return new DOMParser({
    onError: (level, message) => {
      throw new Error(`${what}: ${level}: ${message}`);
    },
  }).parseFromString(text, "image/svg+xml");
}
