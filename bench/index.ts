// `npm run bench [-- NAME ...]`: every benchmark section, each in its own process so RSS and
// timings do not mix. Sections: inprocess (issue 2), distributed (issue 3), scrape (issue 4), chaos,
// hotplug (hotplug on the process engine), liveness (64 CPU processes, seed after seed: nobody declared dead),
// startup (softnet-emu --help and run's first emulated ns beside node -e 0).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SECTIONS = ["startup", "inprocess", "distributed", "scrape", "chaos", "hotplug", "liveness"];
const wanted = process.argv.slice(2).length > 0 ? process.argv.slice(2) : SECTIONS;
let failed = 0;
for (const name of wanted) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  if (!existsSync(file)) {
    if (process.argv.length > 2) console.error(`bench: no section '${name}' (known: ${SECTIONS.join(", ")})`);
    continue;
  }
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { stdio: "inherit" });
  if (r.status !== 0) failed++;
  console.log("");
}
process.exitCode = failed ? 1 : 0;
