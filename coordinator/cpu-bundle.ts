// How `run` starts a CPU child. Through tsx, every child carries a second V8 isolate (Node 20 runs
// module hooks on a loader thread): measured 77 MB RSS for an empty tsx process against 41 MB for
// plain node, and ~0.4 s of transform per child. So the cpu-node sources are bundled once into
// plain JavaScript with esbuild (already installed as tsx's own dependency) under
// node_modules/.cache, where `zeromq` and `protobufjs` still resolve, and children run it with
// plain node. When esbuild cannot be loaded, children fall back to tsx.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";

const CPU_MAIN = fileURLToPath(new URL("../cpu-node/main.ts", import.meta.url));
const PROTO = fileURLToPath(new URL("../proto/softnet.proto", import.meta.url));
const CACHE_DIR = fileURLToPath(new URL("../node_modules/.cache/softnet-emu/", import.meta.url));

let cached: Promise<string[]> | null = null;

/** Node arguments that start `cpu-node/main.ts` (before its own flags). */
export function cpuNodeCommand(): Promise<string[]> {
  cached ??= bundle().catch(() => ["--import", import.meta.resolve("tsx"), CPU_MAIN]);
  return cached;
}

async function bundle(): Promise<string[]> {
  const esbuild = (await import("esbuild")) as typeof import("esbuild");
  const out = await esbuild.build({
    entryPoints: [CPU_MAIN],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external: ["zeromq", "protobufjs"],
    write: false,
    logLevel: "silent",
  });
  const code = out.outputFiles[0]!.contents;
  // codec.ts loads softnet.proto beside itself, which in the bundle means beside the bundle.
  const proto = readFileSync(PROTO);
  const hash = createHash("sha256").update(code).update(proto).digest("hex").slice(0, 12);
  const dir = `${CACHE_DIR}${hash}`;
  const file = `${dir}/cpu-node.mjs`;
  if (!existsSync(file)) {
    // Content-addressed and published by one rename: runs side by side (tests run two files at
    // once) never read a half-written bundle or proto, and never overwrite one in use.
    mkdirSync(CACHE_DIR, { recursive: true });
    const tmp = mkdtempSync(`${CACHE_DIR}tmp-`);
    writeFileSync(`${tmp}/cpu-node.mjs`, code);
    writeFileSync(`${tmp}/softnet.proto`, proto);
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another run published the same bundle first
    }
  }
  return [file];
}
