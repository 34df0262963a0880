// `softnet-emu cpu`: one emulated CPU process. Exported for the CLI (cli/main.ts registers it),
// and runnable directly as the child that `run --engine processes` spawns:
//   node --import tsx cpu-node/main.ts --coordinator tcp://127.0.0.1:5555 [--id N] [--bind EP]
//     [--secret-stdin | --secret-file F] [--max-frame BYTES]   (else the secret is SOFTNET_SECRET, hex)
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { MAX_FRAME_RANGE, MAX_MAX_FRAME, MIN_MAX_FRAME, SecretError, WireKey, loadSecret, parseMaxFrame, parseSecretHex } from "../transport/auth.ts";
import { EndpointError, portRangeError } from "../transport/endpoint.ts";
import { CPU_EXIT, CpuNode } from "./node.ts";

export interface CpuCommandOptions {
  coordinator: string;
  id?: number;
  bind?: string;
  advertiseHost?: string;
  registerTimeoutMs?: number;
  /** Floor of the coordinator's failure detector (default: the coordinator's Welcome says). */
  coordinatorTimeoutMs?: number;
  /** How long a suspected but connected coordinator is waited for (default 60 s). */
  coordinatorWaitMs?: number;
  /** Exit when standard input closes (set for children of `run`: the parent died). */
  exitWithParent?: boolean;
  /** The run's secret (transport/auth.ts; none: our hello is refused, exit 2). */
  secret?: Uint8Array | null;
  /** Frame size limit (--max-frame; default transport/auth.ts DEFAULT_MAX_FRAME). */
  maxFrameBytes?: number;
  log?: (line: string) => void;
  /** Bad input, one line without a prefix (default: `softnet-emu cpu: error: …` on stderr). */
  usageError?: (message: string) => void;
}

const ENDPOINT = /^(tcp:\/\/[^:\s]+:(\d+|\*)|ipc:\/\/\S+)$/;

/** Validate the options; a bad one is a one-line message naming it (exit code 2). */
export function checkCpuOptions(o: CpuCommandOptions): string | null {
  if (!ENDPOINT.test(o.coordinator)) return `--coordinator ${o.coordinator}: expected tcp://HOST:PORT or ipc://PATH`;
  if (o.bind !== undefined && !ENDPOINT.test(o.bind)) return `--bind ${o.bind}: expected tcp://HOST:PORT (PORT may be *) or ipc://PATH`;
  if (o.id !== undefined && (!Number.isInteger(o.id) || o.id < 0 || o.id > 4095)) return `--id ${o.id}: expected a CPU id 0-4095`;
  for (const [flag, ms] of [["--register-timeout", o.registerTimeoutMs], ["--coordinator-timeout", o.coordinatorTimeoutMs], ["--coordinator-wait", o.coordinatorWaitMs]] as const)
    if (ms !== undefined && !(ms >= 100 && ms <= 86_400_000)) return `${flag} ${ms} ms: expected 100ms to 24h`;
  if (o.maxFrameBytes !== undefined && !(Number.isInteger(o.maxFrameBytes) && o.maxFrameBytes >= MIN_MAX_FRAME && o.maxFrameBytes <= MAX_MAX_FRAME))
    return `--max-frame ${o.maxFrameBytes}: out of range: ${MAX_FRAME_RANGE}`;
  return portRangeError("--coordinator", o.coordinator) ?? (o.bind !== undefined ? portRangeError("--bind", o.bind) : null);
}

/** Run one CPU until the coordinator shuts it down; returns the exit code (see CPU_EXIT). */
export async function runCpu(o: CpuCommandOptions): Promise<number> {
  const usageError = o.usageError ?? ((message: string) => process.stderr.write(`softnet-emu cpu: error: ${message}\n`));
  const bad = checkCpuOptions(o);
  if (bad) {
    usageError(bad);
    return CPU_EXIT.usage;
  }
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const node = new CpuNode({
    coordinator: o.coordinator,
    id: o.id ?? -1,
    bind: o.bind ?? "tcp://127.0.0.1:*",
    ...(o.advertiseHost !== undefined ? { advertiseHost: o.advertiseHost } : {}),
    registerTimeoutMs: o.registerTimeoutMs ?? 30_000,
    ...(o.coordinatorTimeoutMs !== undefined ? { coordinatorTimeoutMs: o.coordinatorTimeoutMs } : {}),
    ...(o.coordinatorWaitMs !== undefined ? { coordinatorWaitMs: o.coordinatorWaitMs } : {}),
    secret: new WireKey(o.secret ?? null, o.maxFrameBytes),
    log,
  });
  const stop = (why: string) => () => {
    log(`${why}; exiting`);
    node.close();
  };
  const onTerm = stop("SIGTERM");
  const onInt = stop("SIGINT");
  process.once("SIGTERM", onTerm);
  process.once("SIGINT", onInt);
  if (o.exitWithParent) {
    process.stdin.on("end", stop("parent gone (stdin closed)"));
    process.stdin.resume();
  }
  try {
    return await node.run();
  } catch (e) {
    if (e instanceof EndpointError) {
      usageError(e.message);
      return CPU_EXIT.usage;
    }
    log(`internal error: ${(e as Error).stack ?? e}`);
    return CPU_EXIT.internal;
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
    if (o.exitWithParent) process.stdin.destroy();
  }
}

/** The CPU process started by `run` (flags as run-processes.ts gives them); the bundle's entry. */
export async function childMain(): Promise<void> {
  const { values } = parseArgs({
    options: {
      coordinator: { type: "string" },
      id: { type: "string" },
      bind: { type: "string" },
      "exit-with-parent": { type: "boolean" },
      "register-timeout-ms": { type: "string" },
      "coordinator-timeout-ms": { type: "string" },
      "coordinator-wait-ms": { type: "string" },
      // run writes the secret on our standard input (hex, one line): no command line or environment shows it.
      "secret-stdin": { type: "boolean" },
      "secret-file": { type: "string" },
      "max-frame": { type: "string" },
    },
  });
  const ms = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const timeouts = {
    registerTimeoutMs: ms(values["register-timeout-ms"]),
    coordinatorTimeoutMs: ms(values["coordinator-timeout-ms"]),
    coordinatorWaitMs: ms(values["coordinator-wait-ms"]),
  };
  if (!values.coordinator) {
    process.stderr.write("softnet-emu cpu: error: --coordinator is required\n");
    process.exit(CPU_EXIT.refused);
  }
  let secret: Uint8Array | null;
  let maxFrameBytes: number | undefined;
  try {
    secret = values["secret-stdin"] ? parseSecretHex(await readStdinLine(), "the secret on standard input") : (loadSecret({ file: values["secret-file"] })?.secret ?? null);
    maxFrameBytes = values["max-frame"] !== undefined ? parseMaxFrame(values["max-frame"]) : undefined;
  } catch (e) {
    if (!(e instanceof SecretError || e instanceof RangeError)) throw e;
    process.stderr.write(`softnet-emu cpu: error: ${e instanceof RangeError ? "--max-frame " : ""}${e.message}\n`);
    process.exit(CPU_EXIT.usage);
  }
  const code = await runCpu({
    secret,
    ...(maxFrameBytes !== undefined ? { maxFrameBytes } : {}),
    coordinator: values.coordinator,
    ...(values.id !== undefined ? { id: Number(values.id) } : {}),
    ...(values.bind !== undefined ? { bind: values.bind } : {}),
    exitWithParent: values["exit-with-parent"] ?? false,
    ...Object.fromEntries(Object.entries(timeouts).filter(([, v]) => v !== undefined)),
  });
  process.exit(code);
}

/** The first line of standard input (then stdin is paused again, for --exit-with-parent). */
function readStdinLine(): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const finish = (line: string): void => {
      process.stdin.off("data", onData);
      process.stdin.off("end", onEnd);
      process.stdin.pause();
      resolve(line);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("utf8");
      const nl = text.indexOf("\n");
      if (nl >= 0) finish(text.slice(0, nl));
    };
    const onEnd = (): void => finish(text);
    process.stdin.on("data", onData);
    process.stdin.on("end", onEnd);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await childMain();
