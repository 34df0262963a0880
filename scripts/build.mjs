// @ts-check
// Builds the compiled CLI: esbuild bundles the TypeScript entry points (the CLI, a CPU process, a
// coordinator on its own, the run worker thread) into plain ESM under dist/<hash>/, so that
// `softnet-emu` starts without tsx transpiling every file at each start. npm packages are bundled
// too (one file to load rather than hundreds), except EXTERNAL below, which node_modules resolves
// from dist/ as from the sources; lazy `import()`s stay lazy (code splitting); each source's
// `import.meta.url` keeps meaning the source file, so files found beside a source (softnet.proto,
// examples/, package.json) are the repository's own.
//
// The folder is named by the hash of what it holds and published by one rename, then
// dist/manifest.json is replaced (also by rename) to point at it, with the size and mtime of every
// source bundled, this script and package-lock.json (for the packages): a build is fresh while
// every input is unchanged, and a process that loaded one build starts its children from the same
// folder, whatever a concurrent build publishes meanwhile.
//
//   node scripts/build.mjs          build if stale (npm run build; `prepare` runs it on npm ci)
//   node scripts/build.mjs --force  build even if fresh
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const DIST = join(ROOT, "dist");
const MANIFEST = join(DIST, "manifest.json");
const SELF = fileURLToPath(import.meta.url);
/** Bumped when the layout of dist/ changes: an older manifest is then stale. */
const FORMAT = 1;
/**
 * Built folders the manifest no longer names are removed once unused this long: a process started
 * from one (a long paced run) still loads chunks from it, and each start marks its folder used.
 */
const KEEP_OLD_MS = 6 * 3600 * 1000;

/**
 * Entry points, each a tiny module of its own: it records where its bundle lies (for
 * bin/entries.ts, which starts the others from the same folder) and calls the source's entry.
 * The sources' own "am I the main module" checks compare the source's URL, so they stay false.
 */
const ENTRIES = {
  cli: `export { main } from ${src("cli/main.ts")};`,
  "cpu-node": `import { childMain } from ${src("cpu-node/main.ts")};\nawait childMain();`,
  coordinator: `import { directMain } from ${src("coordinator/main.ts")};\nawait directMain();`,
  "run-worker": `import ${src("report/run-worker.ts")};`,
};
const EXTERNAL = ["zeromq", "esbuild", "tsx", "tsx/*", "vega", "vega-lite"];
const HERE = "globalThis.__softnetEmuBundle = new URL('.', import.meta.url).href;\n";

function src(path) {
  return JSON.stringify(join(ROOT, path));
}

/** @param {string} file @returns {[number, number] | null} */
function stamp(file) {
  try {
    const s = statSync(file);
    return [s.mtimeMs, s.size];
  } catch {
    return null;
  }
}

/** The built folder when dist/manifest.json matches every input as it is now; else null. */
export function freshBuild() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return null;
  }
  if (manifest?.format !== FORMAT || typeof manifest.dir !== "string" || typeof manifest.inputs !== "object") return null;
  for (const [path, want] of Object.entries(manifest.inputs)) {
    const have = stamp(join(ROOT, path));
    if (!have || have[0] !== want[0] || have[1] !== want[1]) return null;
  }
  const dir = join(DIST, manifest.dir);
  if (!existsSync(join(dir, "cli.mjs"))) return null;
  markUsed(dir);
  return dir;
}

/** The built folder, building it first if it is missing or older than any of its inputs. */
export async function ensureBuilt() {
  return freshBuild() ?? (await build());
}

/** Build now; returns the folder. */
export async function build() {
  const esbuild = await import("esbuild");
  try {
    // A source saved while esbuild read it would be recorded newer than what was bundled: build again.
    for (let attempt = 0; ; attempt++) {
      const startedMs = Date.now();
      const { files, inputs } = await bundle(esbuild);
      const changed = Object.keys(inputs).filter((p) => (stamp(join(ROOT, p))?.[0] ?? Infinity) >= startedMs - 5);
      if (changed.length > 0 && attempt < 3) continue;
      // Still changing: publish, but stale, so that the next start builds again.
      for (const p of changed) inputs[p] = [-1, -1];
      return publish(files, inputs);
    }
  } finally {
    // esbuild's service is a child process: none may outlive the build (a run's children are its CPUs).
    await esbuild.stop();
  }
}

/** @param {typeof import("esbuild")} esbuild */
async function bundle(esbuild) {
  const rewrite = {
    name: "softnet-emu-sources",
    /** @param {import("esbuild").PluginBuild} b */
    setup(b) {
      b.onResolve({ filter: /^softnet-entry:/ }, (a) => ({ path: a.path.slice("softnet-entry:".length), namespace: "softnet-entry" }));
      b.onLoad({ filter: /.*/, namespace: "softnet-entry" }, (a) => ({
        contents: HERE + ENTRIES[/** @type {keyof typeof ENTRIES} */ (a.path)],
        loader: "js",
        resolveDir: ROOT,
      }));
      // import.meta.url of a source → that source's URL, relative to the bundle (dist/<hash>/):
      // files beside it are found, and "am I the main module" checks stay false.
      b.onLoad({ filter: /\.ts$/ }, (a) => {
        if (a.path.includes(`${sep}node_modules${sep}`) || !a.path.startsWith(ROOT)) return undefined;
        const text = readFileSync(a.path, "utf8");
        const unsupported = /import\.meta\.(dirname|filename)/.exec(text);
        if (unsupported) return { errors: [{ text: `${unsupported[0]} would name dist/, not the source: use new URL(…, import.meta.url)` }] };
        const rel = relative(join(DIST, "x"), a.path).split(sep).join("/");
        return { contents: text.replaceAll("import.meta.url", `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: "ts" };
      });
    },
  };
  const out = await esbuild.build({
    entryPoints: Object.keys(ENTRIES).map((name) => ({ in: `softnet-entry:${name}`, out: name })),
    // Paths in the metafile (the inputs recorded in the manifest) are relative to this, whatever
    // the working directory of the process that builds.
    absWorkingDir: ROOT,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Native (zeromq), loaded from files at run time (protobufjs), build tools, and what loads lazily
    // and is large (vega) stay packages; the rest is bundled: one file instead of hundreds to load
    // at each start.
    external: EXTERNAL,
    // Bundled CommonJS packages require() node's modules: give each chunk a require().
    banner: { js: 'import { createRequire as __softnetRequire } from "node:module"; const require = __softnetRequire(import.meta.url);' },
    outdir: join(DIST, "x"),
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunk-[hash]",
    write: false,
    metafile: true,
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "silent",
    plugins: [rewrite],
  });
  /** @type {Record<string, [number, number]>} */
  const inputs = {};
  // npm packages count through package-lock.json (and `npm ci`/`npm install` run `prepare`, which
  // builds): a few hundred fewer files to look at on every start.
  for (const path of [...Object.keys(out.metafile.inputs), relative(ROOT, SELF), "package-lock.json"]) {
    if (path.startsWith("softnet-entry:") || /(^|\/)node_modules\//.test(path)) continue;
    const abs = join(ROOT, path);
    const s = stamp(abs);
    if (s) inputs[relative(ROOT, abs).split(sep).join("/")] = s;
  }
  const files = out.outputFiles.map((f) => ({ name: relative(join(DIST, "x"), f.path), contents: f.contents }));
  return { files, inputs };
}

/** @param {{ name: string, contents: Uint8Array }[]} files @param {Record<string, [number, number]>} inputs */
function publish(files, inputs) {
  const hash = createHash("sha256");
  for (const f of [...files].sort((a, b) => (a.name < b.name ? -1 : 1))) hash.update(f.name).update("\0").update(f.contents);
  const name = `b-${hash.digest("hex").slice(0, 16)}`;
  const dir = join(DIST, name);
  mkdirSync(DIST, { recursive: true });
  if (!existsSync(join(dir, "cli.mjs"))) {
    const tmp = mkdtempSync(join(DIST, "tmp-"));
    chmodSync(tmp, 0o755); // mkdtemp makes it private: a container runs as another user than the one that built
    for (const f of files) {
      mkdirSync(dirname(join(tmp, f.name)), { recursive: true });
      writeFileSync(join(tmp, f.name), f.contents);
    }
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // a concurrent build published the same folder
    }
  }
  const tmpManifest = `${MANIFEST}.${process.pid}.tmp`;
  writeFileSync(tmpManifest, `${JSON.stringify({ format: FORMAT, dir: name, inputs }, null, 1)}\n`);
  renameSync(tmpManifest, MANIFEST);
  removeOld(name);
  return dir;
}

/** @param {string} dir */
function markUsed(dir) {
  try {
    const now = new Date();
    utimesSync(dir, now, now);
  } catch {
    // a dist/ we may not write (installed by another user): nothing to clean up there either
  }
}

/** @param {string} keep */
function removeOld(keep) {
  const now = Date.now();
  for (const entry of readdirSync(DIST)) {
    if (entry === keep || !/^(b-|tmp-)/.test(entry)) continue;
    const s = stamp(join(DIST, entry));
    if (s && now - s[0] > KEEP_OLD_MS) rmSync(join(DIST, entry), { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(process.argv[1]).href === import.meta.url) {
  const args = process.argv.slice(2);
  const bad = args.find((a) => a !== "--force");
  if (bad !== undefined) {
    process.stderr.write(`build: error: unknown argument '${bad}' (only --force)\n`);
    process.exit(2);
  }
  if (!existsSync(join(ROOT, "cli/main.ts"))) {
    // `npm ci` in a Dockerfile's dependency stage runs `prepare` before the sources are copied in.
    process.stdout.write("build: no sources here (cli/main.ts): nothing to build\n");
  } else {
    const started = performance.now();
    const fresh = args.includes("--force") ? null : freshBuild();
    const dir = fresh ?? (await build());
    process.stdout.write(`build: ${relative(ROOT, dir)} ${fresh ? "is up to date" : `built in ${Math.round(performance.now() - started)} ms`}\n`);
  }
}
