// Small EmuConfig builders for model tests: the scenarios of docs/DESIGN.md §1.10 in a few lines.
import type { EmuConfig, LoadPhaseConfig } from "../../model/config.ts";
import { DEFAULT_COSTS, DEFAULT_HZ, DEFAULT_SYSCTLS, exactWindowNs } from "../../model/defaults.ts";
import { applyBootArgs, profileByName } from "../../model/profiles.ts";

export interface Opts {
  cpus?: number;
  profile?: string;
  boot?: string[];
  seed?: number;
  durationNs?: number;
  load?: "nic" | "loopback";
  pps?: number;
  flows?: number;
  rpsCpus?: number[];
  sysctls?: Partial<EmuConfig["sysctls"]>;
  events?: EmuConfig["events"];
  rate?: LoadPhaseConfig["rate"];
  popularity?: LoadPhaseConfig["popularity"];
  windowNs?: number;
  costs?: Partial<EmuConfig["costs"]>;
  senderCpu?: number;
  rpsFlowCnt?: number;
  /** A receiving task pinned to this CPU, with the defaults of config/resolve.ts (208 KiB, 1 µs, 200 ns). */
  receiver?: number;
}

export function config(o: Opts = {}): EmuConfig {
  const costs = { ...DEFAULT_COSTS, ...o.costs };
  const durationNs = o.durationNs ?? 10_000_000;
  const rps = o.rpsCpus ?? [];
  const nic = (o.load ?? "nic") === "nic";
  return {
    cpus: o.cpus ?? 4,
    seed: o.seed ?? 1,
    duration_ns: durationNs,
    window_ns: o.windowNs ?? exactWindowNs(costs),
    profile: applyBootArgs(profileByName(o.profile ?? "6.6-patched"), o.boot ?? []),
    sysctls: { ...DEFAULT_SYSCTLS, ...o.sysctls },
    costs,
    hz: DEFAULT_HZ,
    idle_poll: true,
    queues: nic ? [{ id: 0, irq_affinity: [0], ring_size: 1024, rps_cpus: rps, rps_flow_cnt: o.rpsFlowCnt ?? 0 }] : [],
    senders: nic ? [] : [{ id: 0, cpu: o.senderCpu ?? 0, rps_cpus: rps, rps_flow_cnt: o.rpsFlowCnt ?? 0 }],
    load: [
      {
        source: nic ? { kind: "nic", queue: 0 } : { kind: "loopback", sender: 0 },
        start_ns: 0,
        end_ns: durationNs,
        rate: o.rate ?? { kind: "constant", pps: o.pps ?? 200_000 },
        flows: o.flows ?? 64,
        popularity: o.popularity ?? { kind: "uniform" },
        packet_bytes: 64,
      },
    ],
    events: o.events ?? [],
    ...(o.receiver === undefined ? {} : { receiver: { cpu: o.receiver, rmem: { kind: "bytes", limit: 212_992 }, per_packet_ns: 1000, enqueue_ns: 200, contention_ns: 0 } }),
    softnet_stat_columns: 13,
  };
}
