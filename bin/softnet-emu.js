#!/usr/bin/env node
// Entry point: load TypeScript sources through tsx (no build step), then run the CLI.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
await main(process.argv);
