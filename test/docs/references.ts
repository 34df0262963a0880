// What the repository's files cite, parsed: paths, Markdown links with their anchors, and numbered
// sections of docs/DESIGN.md (the section sign and a number after the document's name). Code files
// (.ts, .js, .mjs) are read through TypeScript's parser, so only their comments and string literals
// count (an identifier or a regex is never a citation) — and in tests only their comments for
// paths, since a test's strings name fixtures and deliberately missing files. Every other text file
// counts whole. The test beside this file checks that every citation resolves in the repository.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join, posix } from "node:path";
import ts from "typescript";

export interface Problem {
  file: string;
  line: number;
  message: string;
}

/** The repository as a set of paths relative to its root ("/"-separated), files and directories. */
export interface Tree {
  files: Set<string>;
  dirs: Set<string>;
}

/** One piece of text a file says, at the offset it starts in that file. */
interface Piece {
  text: string;
  offset: number;
  /** A string literal of a test: its paths are fixtures and bad inputs, not citations. */
  testString?: boolean;
}

const TEXT_EXTENSIONS = new Set([".ts", ".js", ".mjs", ".cjs", ".md", ".yaml", ".yml", ".json", ".proto", ".sh", ".txt", ".patch"]);
const CODE_EXTENSIONS = new Set([".ts", ".js", ".mjs", ".cjs"]);
/** Generated or vendored: nothing in them is written by hand. */
const SKIPPED = new Set(["package-lock.json"]);

export function treeOf(files: Iterable<string>): Tree {
  const tree: Tree = { files: new Set(), dirs: new Set(["."]) };
  for (const f of files) {
    tree.files.add(f);
    for (let d = posix.dirname(f); d !== "."; d = posix.dirname(d)) tree.dirs.add(d);
  }
  return tree;
}

/** The files of the working tree: tracked and new ones, without what .gitignore leaves out. */
export function repoFiles(root: string): string[] {
  let listed: string[];
  try {
    listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 })
      .split("\0")
      .filter(Boolean);
  } catch {
    listed = walk(root, "");
  }
  const seen = new Set<string>();
  // A file deleted from the working tree is still in the index until the deletion is committed.
  return listed.filter((f) => {
    if (seen.has(f) || f.startsWith("node_modules/") || !existsSync(join(root, f))) return false;
    seen.add(f);
    return true;
  });
}

function walk(root: string, rel: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name === ".git" || e.name === "dist") continue;
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(root, p));
    else out.push(p);
  }
  return out;
}

/** Files whose text is scanned for citations. */
export function isScanned(file: string): boolean {
  const base = posix.basename(file);
  if (SKIPPED.has(base)) return false;
  if (TEXT_EXTENSIONS.has(extname(file))) return true;
  return base === "Dockerfile" || file.startsWith(".ci/");
}

/** Comments and string literals of a code file; the whole text of any other file. */
function piecesOf(file: string, text: string): Piece[] {
  if (!CODE_EXTENSIONS.has(extname(file))) return [{ text, offset: 0 }];
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith(".ts") ? ts.ScriptKind.TS : ts.ScriptKind.JS);
  const pieces: Piece[] = [];
  const commentRanges = new Map<number, number>();
  const comments = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) commentRanges.set(r.pos, r.end);
  };
  const visit = (node: ts.Node) => {
    comments(ts.getLeadingCommentRanges(text, node.pos));
    comments(ts.getTrailingCommentRanges(text, node.end));
    const moduleSpecifier =
      (ts.isImportDeclaration(node.parent) || ts.isExportDeclaration(node.parent)) && node.parent.moduleSpecifier === node;
    if (!moduleSpecifier && (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateLiteralToken(node)))
      pieces.push({ text: node.getText(source), offset: node.getStart(source), testString: file.startsWith("test/") });
    ts.forEachChild(node, visit);
  };
  comments(ts.getLeadingCommentRanges(text, 0));
  ts.forEachChild(source, visit);
  comments(ts.getLeadingCommentRanges(text, source.endOfFileToken.pos));
  // A run of `//` lines is one comment, as a reader sees it (a blank line ends it).
  let run: { pos: number; end: number } | null = null;
  for (const [pos, end] of [...commentRanges].sort((a, b) => a[0] - b[0])) {
    if (run && /^[ \t]*\r?\n?[ \t]*$/.test(text.slice(run.end, pos))) run.end = end;
    else {
      if (run) pieces.push({ text: text.slice(run.pos, run.end), offset: run.pos });
      run = { pos, end };
    }
  }
  if (run) pieces.push({ text: text.slice(run.pos, run.end), offset: run.pos });
  return pieces;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** A path-like token: segments with an extension a repository file could have. Not preceded by a
 *  character that makes it part of a longer word, URL, absolute path or variable (`$HOME/x.md`). */
const PATH = /(?<![\w$}~@.:/\\-])((?:\.{1,2}\/)*(?:[\w@-][\w@.-]*\/)*[\w@-][\w@.-]*\.(?:ts|js|mjs|cjs|md|yaml|yml|json|proto|sh|txt|patch|svg|html))(?![\w/-])/g;
const SECTION = /\u00a7\s*(\d+(?:\.\d+)*)?/g;
const MD_LINK = /!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g;

/** The section numbers of docs/DESIGN.md: headings such as `### 1.5 Backlog threads`. */
export function designSections(designText: string): Set<string> {
  const out = new Set<string>();
  for (const m of stripFences(designText).matchAll(/^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s/gm)) out.add(m[1]!);
  return out;
}

/** Fenced code blocks blanked out (same length, so offsets and line numbers hold). */
function stripFences(md: string): string {
  return md.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, (block) => block.replace(/[^\n]/g, " "));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes, repeats numbered. */
export function anchorsOf(md: string): Set<string> {
  const out = new Set<string>();
  const count = new Map<string, number>();
  for (const m of stripFences(md).matchAll(/^#{1,6}[ \t]+(.+?)[ \t#]*$/gm)) {
    const slug = m[1]!
      .replace(/<[^>]+>/g, "")
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
      .replace(/ /g, "-");
    const n = count.get(slug) ?? 0;
    count.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

/** Where `target`, written in `file`, points: a repository path ("/"-separated), or null if outside. */
function resolveFrom(dir: string, target: string): string | null {
  const joined = posix.normalize(posix.join(dir, target));
  if (joined === ".." || joined.startsWith("../")) return null;
  return joined.replace(/\/$/, "") || ".";
}

function exists(tree: Tree, path: string): boolean {
  return tree.files.has(path) || tree.dirs.has(path);
}

export interface Context {
  tree: Tree;
  /** Section numbers of docs/DESIGN.md. */
  sections: Set<string>;
  /** The text of a repository file, for anchors of links into it. */
  read: (path: string) => string;
}

const FORBIDDEN = [["/work", "shared"].join("/"), ["..", "shared"].join("/")];

/** Mentions of material outside the repository: it stands alone, in code, data and prose alike. */
export function outsideMentions(file: string, text: string): Problem[] {
  const problems: Problem[] = [];
  for (const needle of FORBIDDEN) {
    for (let i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1))
      problems.push({ file, line: lineAt(text, i), message: `mentions ${needle}: nothing outside the repository may be cited (copy it in as a fixture with its provenance)` });
  }
  return problems;
}

/** Every citation in `file` (its text given) that does not resolve inside the repository. */
export function checkFile(file: string, text: string, ctx: Context): Problem[] {
  const problems: Problem[] = [];
  const at = (offset: number, message: string) => problems.push({ file, line: lineAt(text, offset), message });
  const dir = posix.dirname(file);

  problems.push(...outsideMentions(file, text));

  const isMarkdown = file.endsWith(".md");
  const scanned = isMarkdown ? [{ text, offset: 0 }] : piecesOf(file, text);
  for (const piece of scanned) {
    // Sections of docs/DESIGN.md.
    for (const m of piece.text.matchAll(SECTION)) {
      const offset = piece.offset + m.index!;
      const number = m[1];
      if (number === undefined) {
        at(offset, "\u00a7 without a section number of docs/DESIGN.md");
        continue;
      }
      if (!ctx.sections.has(number)) at(offset, `cites \u00a7${number}, which docs/DESIGN.md does not have`);
      if (file !== "docs/DESIGN.md") {
        const before = piece.text.slice(0, m.index!);
        const paragraph = before.slice(before.lastIndexOf("\n\n") + 1);
        if (!/DESIGN\.md/.test(paragraph)) at(offset, `cites \u00a7${number} without naming docs/DESIGN.md before it in the same paragraph`);
      }
    }
    // Paths.
    if (piece.testString) continue;
    for (const m of piece.text.matchAll(PATH)) {
      const token = m[1]!;
      const offset = piece.offset + m.index!;
      const problem = checkPath(ctx.tree, dir, token);
      if (problem) at(offset, problem);
    }
  }

  if (isMarkdown) {
    const plain = stripFences(text);
    for (const m of plain.matchAll(MD_LINK)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:, …
      const hash = target.indexOf("#");
      const pathPart = decodeURI(hash >= 0 ? target.slice(0, hash) : target);
      const anchor = hash >= 0 ? target.slice(hash + 1) : "";
      const offset = m.index!;
      if (pathPart === "") {
        if (anchor && !anchorsOf(text).has(decodeURIComponent(anchor))) at(offset, `links to #${anchor}, a heading this file does not have`);
        continue;
      }
      const resolved = pathPart.startsWith("/") ? resolveFrom(".", pathPart.slice(1)) : resolveFrom(dir, pathPart);
      if (resolved === null) {
        at(offset, `links to ${pathPart}, outside the repository`);
        continue;
      }
      if (!exists(ctx.tree, resolved)) {
        at(offset, `links to ${pathPart} (${resolved}), which is not in the repository`);
        continue;
      }
      if (anchor && resolved.endsWith(".md") && !anchorsOf(ctx.read(resolved)).has(decodeURIComponent(anchor)))
        at(offset, `links to ${target}: ${resolved} has no heading with the anchor #${anchor}`);
    }
  }
  return problems.sort((x, y) => x.line - y.line);
}

/**
 * A path token that should exist and does not, as a message; null when it exists or is not the
 * repository's to answer for. A path counts as the repository's when it starts with a folder that
 * exists beside the citing file or at the root (model/…, ../proto/…, reproduce/… in examples/) and
 * stays inside the repository; a document named alone (in capitals, .md) must be beside the citing
 * file or at the root. Anything else (the kernel's net/core/dev.c, /proc/…, a user's my.yaml, a symlink target in
 * a container image) is someone else's path.
 */
export function checkPath(tree: Tree, dir: string, token: string): string | null {
  // A range, as in scenarios/loopback-p1..p3.yaml: both ends must exist.
  const range = /^(.*\D)(\d+)\.\.\D*?(\d+)(\.\w+)$/.exec(token);
  if (range) {
    const [, stem, from, to, ext] = range;
    return checkPath(tree, dir, `${stem}${from}${ext}`) ?? checkPath(tree, dir, `${stem}${to}${ext}`);
  }
  const segments = token.split("/");
  if (segments.length === 1) {
    // Documents are named in capitals, as README.md is; table.md in a help text is a user's file.
    if (!/^[A-Z][A-Z0-9_-]*\.md$/.test(token)) return null;
    if (exists(tree, posix.join(dir, token)) || exists(tree, token)) return null;
    return `cites ${token}, which is neither beside this file nor at the repository's root (write its path, e.g. docs/${token})`;
  }
  let anchored = false;
  const first = segments[0]!;
  const relative = first === "." || first === "..";
  for (const base of dir === "." ? ["."] : [dir, "."]) {
    const resolved = resolveFrom(base, token);
    if (resolved === null) continue;
    // ./x and ../x are the repository's when they land in one of its top folders (or at its root).
    const top = relative ? resolved.split("/")[0]! : resolveFrom(base, first);
    if (!(relative && !resolved.includes("/")) && (top === null || !tree.dirs.has(top))) continue;
    anchored = true;
    if (exists(tree, resolved)) return null;
  }
  return anchored ? `cites ${token}, which is not in the repository` : null;
}

/** Every problem in the repository at `root`. */
export function checkRepository(root: string): { problems: Problem[]; scanned: number; sections: Set<string> } {
  const files = repoFiles(root);
  const tree = treeOf(files);
  const read = (p: string) => readFileSync(join(root, p), "utf8");
  const sections = tree.files.has("docs/DESIGN.md") ? designSections(read("docs/DESIGN.md")) : new Set<string>();
  const ctx: Context = { tree, sections, read };
  const problems: Problem[] = [];
  let scanned = 0;
  for (const f of files) {
    if (isScanned(f)) {
      scanned++;
      problems.push(...checkFile(f, read(f), ctx));
      continue;
    }
    // Every other file (images, ignore lists, lock files) may still not name outside material.
    const bytes = readFileSync(join(root, f));
    if (!bytes.subarray(0, 8000).includes(0)) problems.push(...outsideMentions(f, bytes.toString("utf8")));
  }
  return { problems, scanned, sections };
}
