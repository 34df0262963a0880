// A tiny, safe expression language for assertions over run results (no eval): numbers, true/false,
// paths into an object (`totals.dropped`, `cpus[1].received_rps`, `latency_ns.p99`), a path
// through a list without an index gives one value per element (`cpus.processed`) for
// sum/avg/max/min/count, arithmetic (+ - * /), comparisons (== != < <= > >=), and/or/not.
//
//   totals.dropped == 0
//   sum(cpus.rt_flush_warnings) > 0 and max(cpus.backlog_len) < 1000
//   cpus[1].received_rps <= cpus[0].net_rx_softirqs
//
// Every operand is evaluated (no short-circuit), so a misspelt path is reported whatever the
// data; callers validate an expression against a template result before a run starts.

export class ExpressionError extends Error {
  override readonly name = "ExpressionError";
}

type BinaryOp = "+" | "-" | "*" | "/" | "==" | "!=" | "<" | "<=" | ">" | ">=" | "and" | "or";
const FUNCTIONS = ["sum", "avg", "max", "min", "count", "abs"] as const;
type FunctionName = (typeof FUNCTIONS)[number];

/** A parsed expression; `text` is the source of the node, for messages and explanations. */
export type Expr = { text: string } & (
  | { kind: "number"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "path"; segments: (string | number)[] }
  | { kind: "call"; fn: FunctionName; args: Expr[] }
  | { kind: "negate" | "not"; arg: Expr }
  | { kind: "binary"; op: BinaryOp; left: Expr; right: Expr }
);

/** What an expression evaluates to: a list only as the argument of sum/avg/max/min/count. */
export type Value = number | boolean | number[];

// ---------------------------------------------------------------------------------------------
// Tokens

type Token = { kind: "number" | "ident" | "op" | "end"; text: string; pos: number };

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "+", "-", "*", "/", "(", ")", "[", "]", ".", ",", "!"];
const MAX_LENGTH = 1000;

function tokenize(src: string): Token[] {
  if (src.length > MAX_LENGTH) throw new ExpressionError(`expression is longer than ${MAX_LENGTH} characters`);
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d[\d_]*(?:\.\d+)?|\.\d+)(?:e[+-]?\d+)?/i.exec(src.slice(i));
    if (num) {
      tokens.push({ kind: "number", text: num[0], pos: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (ident) {
      tokens.push({ kind: "ident", text: ident[0], pos: i });
      i += ident[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => src.startsWith(o, i));
    if (!op) throw new ExpressionError(`unexpected '${c}' at column ${i + 1}`);
    tokens.push({ kind: "op", text: op, pos: i });
    i += op.length;
  }
  tokens.push({ kind: "end", text: "end of expression", pos: src.length });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parser: recursive descent, one function per precedence level (lowest first).

const COMPARISONS = new Set(["==", "!=", "<", "<=", ">", ">="]);

/** Parse `src`; throws ExpressionError naming the column of the first problem. */
export function parseExpression(src: string): Expr {
  const tokens = tokenize(src);
  let k = 0;
  const peek = () => tokens[k]!;
  const next = () => tokens[k++]!;
  const isOp = (...ops: string[]) => peek().kind === "op" && ops.includes(peek().text);
  const isWord = (...words: string[]) => peek().kind === "ident" && words.includes(peek().text);
  const fail = (t: Token, what: string): never => {
    throw new ExpressionError(`${what} at column ${t.pos + 1}, found ${t.kind === "end" ? t.text : `'${t.text}'`}`);
  };
  const expect = (op: string) => {
    if (!isOp(op)) fail(peek(), `expected '${op}'`);
    next();
  };
  const span = (start: number): string => src.slice(start, tokens[k - 1]!.pos + tokens[k - 1]!.text.length).trim();
  const binary = (op: BinaryOp, left: Expr, right: Expr, start: number): Expr => ({ kind: "binary", op, left, right, text: span(start) });

  function or(): Expr {
    const start = peek().pos;
    let left = and();
    while (isWord("or") || isOp("||")) {
      next();
      left = binary("or", left, and(), start);
    }
    return left;
  }
  function and(): Expr {
    const start = peek().pos;
    let left = not();
    while (isWord("and") || isOp("&&")) {
      next();
      left = binary("and", left, not(), start);
    }
    return left;
  }
  function not(): Expr {
    const start = peek().pos;
    if (isWord("not") || isOp("!")) {
      next();
      const arg = not();
      return { kind: "not", arg, text: span(start) };
    }
    return comparison();
  }
  function comparison(): Expr {
    const start = peek().pos;
    const left = additive();
    if (peek().kind === "op" && COMPARISONS.has(peek().text)) {
      const op = next().text as BinaryOp;
      const right = additive();
      // `a < b < c` reads as a range but would compare a boolean with c: refuse it.
      if (peek().kind === "op" && COMPARISONS.has(peek().text)) fail(peek(), "comparisons do not chain (use 'and')");
      return binary(op, left, right, start);
    }
    return left;
  }
  function additive(): Expr {
    const start = peek().pos;
    let left = multiplicative();
    while (isOp("+", "-")) left = binary(next().text as BinaryOp, left, multiplicative(), start);
    return left;
  }
  function multiplicative(): Expr {
    const start = peek().pos;
    let left = unary();
    while (isOp("*", "/")) left = binary(next().text as BinaryOp, left, unary(), start);
    return left;
  }
  function unary(): Expr {
    const start = peek().pos;
    if (isOp("-")) {
      next();
      const arg = unary();
      return { kind: "negate", arg, text: span(start) };
    }
    return primary();
  }
  function primary(): Expr {
    const t = peek();
    const start = t.pos;
    if (t.kind === "number") {
      next();
      return { kind: "number", value: Number(t.text.replace(/_/g, "")), text: t.text };
    }
    if (isOp("(")) {
      next();
      const inner = or();
      expect(")");
      return { ...inner, text: span(start) };
    }
    if (t.kind !== "ident" || ["and", "or", "not"].includes(t.text)) return fail(t, "expected a number, a path or a function");
    next();
    if (t.text === "true" || t.text === "false") return { kind: "bool", value: t.text === "true", text: t.text };
    if (isOp("(")) {
      if (!(FUNCTIONS as readonly string[]).includes(t.text))
        throw new ExpressionError(`unknown function '${t.text}' at column ${t.pos + 1} (known: ${FUNCTIONS.join(", ")})`);
      next();
      const args = [or()];
      while (isOp(",")) {
        next();
        args.push(or());
      }
      expect(")");
      return { kind: "call", fn: t.text as FunctionName, args, text: span(start) };
    }
    const segments: (string | number)[] = [t.text];
    for (;;) {
      if (isOp(".")) {
        next();
        if (peek().kind !== "ident") fail(peek(), "expected a field name after '.'");
        segments.push(next().text);
      } else if (isOp("[")) {
        next();
        const idx = peek();
        if (idx.kind !== "number" || !/^\d+$/.test(idx.text)) fail(idx, "expected an index (0, 1, ...) inside [ ]");
        segments.push(Number(next().text));
        expect("]");
      } else break;
    }
    return { kind: "path", segments, text: span(start) };
  }

  const expr = or();
  if (peek().kind !== "end") fail(peek(), "expected an operator or the end");
  return expr;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function describe(v: unknown): string {
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (v === null || v === undefined) return "missing";
  if (typeof v === "object") return `a group of fields (${Object.keys(v).join(", ")})`;
  if (typeof v === "string") return `the text '${v}'`;
  return String(v);
}

/** Follow a path; a list met with a field name (not an index) maps the rest over its elements. */
function resolvePath(root: unknown, e: Expr & { kind: "path" }): Value {
  let values: unknown[] = [root];
  let isList = false;
  let walked = "";
  for (const seg of e.segments) {
    const label = typeof seg === "number" ? `${walked}[${seg}]` : walked ? `${walked}.${seg}` : seg;
    const out: unknown[] = [];
    for (const v of values) {
      if (typeof seg === "number") {
        if (!Array.isArray(v)) throw new ExpressionError(`'${walked}' is ${describe(v)}, not a list: '${label}' cannot index it`);
        if (seg >= v.length) throw new ExpressionError(`'${label}': index out of range ('${walked}' has ${v.length}: 0-${v.length - 1})`);
        out.push(v[seg]);
      } else if (Array.isArray(v)) {
        isList = true;
        for (const item of v) out.push(field(item, seg, label, walked));
      } else {
        out.push(field(v, seg, label, walked));
      }
    }
    values = out;
    walked = label;
  }
  if (isList) {
    const nums = values.map((v) => {
      if (typeof v === "boolean") return v ? 1 : 0;
      if (typeof v !== "number") throw new ExpressionError(`'${e.text}' holds ${describe(v)}, not numbers`);
      return v;
    });
    return nums;
  }
  const v = values[0];
  if (typeof v === "number" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map((x) => (typeof x === "number" ? x : NaN));
  throw new ExpressionError(`'${e.text}' is ${describe(v)}, not a number`);
}

function field(obj: unknown, name: string, label: string, parent: string): unknown {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj))
    throw new ExpressionError(`'${parent}' is ${describe(obj)}: it has no field '${name}'`);
  if (!Object.prototype.hasOwnProperty.call(obj, name))
    throw new ExpressionError(`unknown field '${label}' (${parent ? `'${parent}' has` : "known"}: ${Object.keys(obj).join(", ")})`);
  return (obj as Record<string, unknown>)[name];
}

function num(v: Value, e: Expr): number {
  if (typeof v === "number") return v;
  if (Array.isArray(v)) throw new ExpressionError(`'${e.text}' is a list: use sum(), avg(), max(), min() or count(), or pick one with [N]`);
  throw new ExpressionError(`'${e.text}' is true/false, not a number`);
}

function bool(v: Value, e: Expr): boolean {
  if (typeof v === "boolean") return v;
  throw new ExpressionError(`'${e.text}' is ${Array.isArray(v) ? "a list" : "a number"}, not a condition (compare it, e.g. '${e.text} > 0')`);
}

function call(e: Expr & { kind: "call" }, args: Value[]): number {
  if (e.fn === "count") {
    if (args.length !== 1 || !Array.isArray(args[0])) throw new ExpressionError(`count() takes one list, e.g. count(cpus.processed)`);
    return args[0].length;
  }
  if (e.fn === "abs") {
    if (args.length !== 1) throw new ExpressionError(`abs() takes one number`);
    return Math.abs(num(args[0]!, e.args[0]!));
  }
  // One list, or several numbers (max(a, b)).
  const list = args.length === 1 && Array.isArray(args[0]) ? args[0] : args.map((a, i) => num(a, e.args[i]!));
  if (args.length === 1 && !Array.isArray(args[0]) && e.fn !== "max" && e.fn !== "min")
    throw new ExpressionError(`${e.fn}() takes a list, e.g. ${e.fn}(cpus.processed); '${e.args[0]!.text}' is one value`);
  if (list.length === 0) return e.fn === "sum" ? 0 : NaN;
  switch (e.fn) {
    case "sum":
      return list.reduce((a, b) => a + b, 0);
    case "avg":
      return list.reduce((a, b) => a + b, 0) / list.length;
    case "max":
      return Math.max(...list);
    case "min":
      return Math.min(...list);
  }
}

/** Evaluate `e` over `root` (a RunResults, or an object of named RunResults). */
export function evaluate(e: Expr, root: unknown): Value {
  switch (e.kind) {
    case "number":
    case "bool":
      return e.value;
    case "path":
      return resolvePath(root, e);
    case "call":
      return call(e, e.args.map((a) => evaluate(a, root)));
    case "negate":
      return -num(evaluate(e.arg, root), e.arg);
    case "not":
      return !bool(evaluate(e.arg, root), e.arg);
    case "binary":
      return binaryOp(e, evaluate(e.left, root), evaluate(e.right, root));
  }
}

function binaryOp(e: Expr & { kind: "binary" }, l: Value, r: Value): Value {
  const { op, left, right } = e;
  switch (op) {
    case "and":
      return bool(l, left) && bool(r, right);
    case "or":
      return bool(l, left) || bool(r, right);
    case "==":
    case "!=": {
      if (typeof l === "boolean" || typeof r === "boolean") {
        if (typeof l !== typeof r) throw new ExpressionError(`'${e.text}' compares true/false with a number`);
        return (l === r) === (op === "==");
      }
      return (num(l, left) === num(r, right)) === (op === "==");
    }
  }
  const a = num(l, left);
  const b = num(r, right);
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      return a / b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
}

/** Evaluate a condition: throws if `e` is not true/false (e.g. a bare number). */
export function holds(e: Expr, root: unknown): boolean {
  return bool(evaluate(e, root), e);
}

/**
 * The measured operands of `e`: every path and function call in it with its value, in source
 * order, each once — what a failing assertion or a reproduced claim prints beside its verdict.
 */
export function explain(e: Expr, root: unknown): { text: string; value: number | boolean }[] {
  const out = new Map<string, number | boolean>();
  const walk = (n: Expr): void => {
    if (n.kind === "path" || n.kind === "call") {
      // A list (the argument of sum() and friends) is shown through its function's value.
      const v = evaluate(n, root);
      if (!Array.isArray(v) && !out.has(n.text)) out.set(n.text, v);
      return;
    }
    if (n.kind === "negate" || n.kind === "not") walk(n.arg);
    else if (n.kind === "binary") {
      walk(n.left);
      walk(n.right);
    }
  };
  walk(e);
  return [...out].map(([text, value]) => ({ text, value }));
}

/** `sum(cpus.dropped) = 12, totals.injected = 5000` */
export function formatExplanation(parts: readonly { text: string; value: number | boolean }[]): string {
  return parts.map((p) => `${p.text} = ${typeof p.value === "number" ? formatNumber(p.value) : String(p.value)}`).join(", ");
}

export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return String(n);
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}
