// The fixture format of the loopback reference data (see README.md beside this file):
//   { about, runs: { <kernel key>: { <phase>: { desc, cpus: { <n>: CpuRow }, sent, rate } } } }
import { z } from "zod";

const count = z.number().int().nonnegative();

export const CpuRowSchema = z.strictObject({
  /** softnet_stat processed, delta over the phase */
  proc: count,
  /** softnet_stat dropped (backlog full or flow limit), delta */
  drop: count,
  /** softnet_stat time_squeeze, delta */
  sq: count,
  /** softnet_stat received_rps, delta */
  rrps: count,
  /** softnet_stat flow_limit_count, delta */
  fl: count,
  /** softnet_stat backlog_len at the end of the phase (not a delta) */
  bl: count,
  /** NET_RX softirq runs (/proc/softirqs), delta */
  netrx: count,
  /** function-call IPIs, CAL of /proc/interrupts, delta */
  cal: count,
});

export const PhaseSchema = z.strictObject({
  desc: z.string().min(1),
  cpus: z.record(z.string().regex(/^\d+$/), CpuRowSchema),
  /** packets the sender got accepted by the kernel */
  sent: count,
  /** sent per second of the sender's own clock, rounded */
  rate: count,
});

export const FixtureSchema = z.strictObject({
  about: z.string(),
  runs: z.record(z.string().min(1), z.record(z.string().regex(/^p\d+$/), PhaseSchema)),
});

export type CpuRow = z.infer<typeof CpuRowSchema>;
export type PhaseData = z.infer<typeof PhaseSchema>;
export type Fixture = z.infer<typeof FixtureSchema>;
