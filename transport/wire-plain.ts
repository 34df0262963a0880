// The model's plain objects <-> protobuf message objects, by reflection over proto/softnet.proto.
// The conventions (stated in the .proto): field order is the model's key order; a message field is
// present unless marked optional, and an absent optional is an absent key; an enum value is the
// model's string in upper case, 0 never sent; a message holding `oneof kind` is a union tagged by
// `kind`, the chosen member's fields flattened beside the tag.
import protobuf from "protobufjs";

/** A payload that is not what the schema promises; the codec counts and drops its frame. */
export class BadPayload extends Error {
  constructor(
    message: string,
    /** "unexpected": well-formed but unknown to this version (a command kind, an error code). */
    readonly kind: "decode_error" | "unexpected" = "decode_error",
  ) {
    super(message);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- the parse boundary: protobufjs message objects */
type Wire = any;

/** A oneof tags a union; proto3 `optional` makes a synthetic one, which is presence only. */
function unionOf(f: protobuf.Field): protobuf.OneOf | null {
  return f.partOf && !f.options?.["proto3_optional"] ? f.partOf : null;
}

function isOptional(f: protobuf.Field): boolean {
  return f.options?.["proto3_optional"] === true;
}

/** The protobufjs object of `obj` (a model object of `type`'s shape), ready for Type.encode. */
export function toWire(type: protobuf.Type, obj: Wire): Wire {
  const out: Wire = {};
  for (const f of type.fieldsArray) {
    const union = unionOf(f);
    if (union) {
      if (obj[union.name] === f.name) out[f.name] = toWire(f.resolvedType as protobuf.Type, obj);
      continue;
    }
    const v = obj[f.name];
    if (v !== undefined) out[f.name] = valueToWire(f, v);
  }
  return out;
}

function valueToWire(f: protobuf.Field, v: Wire): Wire {
  const t = f.resolvedType;
  if (t instanceof protobuf.Type) return f.repeated ? v.map((x: Wire) => toWire(t, x)) : toWire(t, v);
  if (t instanceof protobuf.Enum) return f.repeated ? v.map((x: string) => enumToWire(t, x)) : enumToWire(t, v);
  return v;
}

function enumToWire(t: protobuf.Enum, name: string): number {
  const id = t.values[name.toUpperCase()];
  // The model's own value: a miss is a bug in this process, not a bad frame.
  if (id === undefined || id === 0) throw new Error(`'${name}' is no value of the wire enum ${t.name}`);
  return id;
}

/**
 * The model object of a decoded message: keys in the schema's order, optional ones only when
 * present. BadPayload when a required message or a union's member is missing, an enum value is
 * unknown or a double is NaN.
 */
export function fromWire(type: protobuf.Type, m: Wire, path: string): Wire {
  const out: Wire = {};
  for (const f of type.fieldsArray) {
    const union = unionOf(f);
    if (union) {
      // The union at the place of its first member: the tag, then the member's fields.
      if (union.fieldsArray[0] !== f) continue;
      const kind: string | undefined = m[union.name];
      if (kind === undefined) throw new BadPayload(`${path}: no ${union.name} (unknown to this version?)`, "unexpected");
      out[union.name] = kind;
      Object.assign(out, fromWire(type.fields[kind]!.resolvedType as protobuf.Type, m[kind], `${path}.${kind}`));
      continue;
    }
    const v = m[f.name];
    if (isOptional(f) && v == null) continue;
    out[f.name] = valueFromWire(f, v, `${path}.${f.name}`);
  }
  return out;
}

function valueFromWire(f: protobuf.Field, v: Wire, path: string): Wire {
  const t = f.resolvedType;
  if (f.repeated) {
    if (t instanceof protobuf.Type) return v.map((x: Wire, i: number) => fromWire(t, x, `${path}[${i}]`));
    if (t instanceof protobuf.Enum) return v.map((x: number, i: number) => enumFromWire(t, x, `${path}[${i}]`));
    if (f.type === "double") for (const x of v) if (Number.isNaN(x)) throw new BadPayload(`${path}: NaN`);
    return v;
  }
  if (t instanceof protobuf.Type) {
    if (v == null) throw new BadPayload(`${path}: missing`);
    return fromWire(t, v, path);
  }
  if (t instanceof protobuf.Enum) return enumFromWire(t, v, path);
  if (Number.isNaN(v)) throw new BadPayload(`${path}: NaN`);
  return v;
}

function enumFromWire(t: protobuf.Enum, id: number, path: string): string {
  const name = id === 0 ? undefined : t.valuesById[id];
  if (name === undefined) throw new BadPayload(`${path}: ${id} is no ${t.name}`, "unexpected");
  return name.toLowerCase();
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** The model's names of an enum of the schema, in its order (its 0, never sent, left out). */
export function enumNames(t: protobuf.Enum): string[] {
  return Object.entries(t.values)
    .filter(([, id]) => id !== 0)
    .map(([name]) => name.toLowerCase());
}

/**
 * Refuses to go on when the schema and the model's list disagree (a field added to one only):
 * checked once as the codec loads, so a mismatch fails every run and test at once.
 */
export function sameNames(what: string, schema: readonly string[], model: readonly string[]): void {
  if (schema.join() !== model.join()) throw new Error(`proto/softnet.proto ${what} is [${schema.join(", ")}], the model's is [${model.join(", ")}]`);
}
