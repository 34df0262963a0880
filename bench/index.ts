// `npm run bench [-- NAME [ARGS...] ...]`: every benchmark section, each in its own process so RSS and
// timings do not mix. Sections: inprocess (issue 2), distributed (issue 3), scrape (issue 4), chaos,
// hotplug (hotplug on the process engine), liveness (64 CPU processes, seed after seed: nobody declared dead),
// startup (softnet-emu --help and run's first emulated ns beside node -e 0). Run by name only:
// before-after (inprocess and distributed of a base revision beside this checkout's), which takes
// every word after its name as its arguments (a value may be a section's name: --bench inprocess).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SECTIONS = ["startup", "inprocess", "distributed", "scrape", "chaos", "hotplug", "liveness"];
const BY_NAME_ONLY = ["before-after"];
// Micro-benchmarks of one layer, run by name only: codec (protobuf frames and payloads), transport (ZeroMQ links).
const MICRO = ["codec", "transport"];
const known = [...SECTIONS, ...MICRO, ...BY_NAME_ONLY];

const argv = process.argv.slice(2);
const wanted: { name: string; args: string[] }[] = [];
for (const word of argv) {
  const last = wanted[wanted.length - 1];
  if (last && BY_NAME_ONLY.includes(last.name)) last.args.push(word);
  else wanted.push({ name: word, args: [] });
}
if (argv.length === 0) wanted.push(...SECTIONS.map((name) => ({ name, args: [] })));

// The first failure's exit status is ours (a usage error's 2 stays 2).
let status = 0;
for (const { name, args } of wanted) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!known.includes(name) || !existsSync(file)) {
    console.error(`bench: no section '${name}' (known: ${known.join(", ")})`);
    status ||= 2;
    continue;
  }
  const r = spawnSync(process.execPath, ["--import", "tsx", file, ...args], { stdio: "inherit" });
  if (r.status !== 0) status ||= r.status ?? 1;
  console.log("");
}
process.exitCode = status;
