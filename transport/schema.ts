// The wire schema, proto/softnet.proto, loaded once: the codec and the payload converters look
// their types up here. Runtime reflection (protobufjs compiles encoders/decoders per type on first
// use) measured as fast as pbjs static code, see bench/codec.ts, so the .proto file is the only
// source of truth and no generated file exists.
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** 4: the host's slice_wait, others and lock_hold; 3: host words (Batch.host) and the host's configuration; 2: counters, configuration and commands as protobuf messages (1 carried them as JSON strings). */
export const PROTOCOL_VERSION = 4;
/** `from` of the coordinator's messages. */
export const COORDINATOR_ID = 65535;
/** The largest CPU id a message may name (the coordinator id excluded). */
export const MAX_CPU_ID = 4095;

const PROTO_PATH = fileURLToPath(new URL("../proto/softnet.proto", import.meta.url));
// keepCase: wire names are the model's snake_case names, so records map 1:1 without renaming.
const root = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
root.resolveAll();

/** A message type of the schema (`softnet.` prefix implied). */
export function wireType(name: string): protobuf.Type {
  return root.lookupType(`softnet.${name}`);
}

/** An enum of the schema, nested ones as `Message.Enum`. */
export function wireEnum(name: string): protobuf.Enum {
  return root.lookupEnum(`softnet.${name}`);
}
