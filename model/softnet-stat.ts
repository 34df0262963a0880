// /proc/net/softnet_stat as the kernel prints it: one line per ONLINE CPU, hex columns,
// the real CPU index last (docs/DESIGN.md §1.8). see net/core/net-procfs.c: softnet_seq_show()
import type { CpuCounters } from "./results.ts";

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, "0");

export function renderSoftnetStat(cpus: readonly CpuCounters[], columns: 13 | 15 = 13): string {
  let out = "";
  for (const c of cpus) {
    if (!c.online) continue;
    const backlogLen = c.input_qlen + c.process_qlen;
    const cols = [c.processed, c.dropped, c.time_squeeze, 0, 0, 0, 0, 0, 0, c.received_rps, c.flow_limit_count, backlogLen, c.cpu];
    if (columns === 15) cols.push(c.input_qlen, c.process_qlen);
    out += cols.map(hex).join(" ") + "\n";
  }
  return out;
}
