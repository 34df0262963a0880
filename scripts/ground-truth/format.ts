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

/** Where one CPU's time went over a phase, in ms: /proc/stat (10 ms ticks) and ksoftirqd's schedstat. */
export const CpuTimeSchema = z.strictObject({
  user_ms: count,
  system_ms: count,
  irq_ms: count,
  softirq_ms: count,
  /** idle + iowait, the drain after the sender stopped included */
  idle_ms: count,
  ksoftirqd_ms: count.optional(),
});

/** The CPU times of one phase beside what they are per: the sender's count and clock. */
export const PhaseTimesSchema = z.strictObject({
  sent: count,
  rate: count,
  /** the sender's own clock, and from its schedstat the time it ran and waited runnable */
  sender: z.strictObject({ elapsed_ns: count, run_ns: count.optional(), wait_ns: count.optional() }),
  /**
   * the host's view while the sender ran: wall ms, host CPU ms of each vCPU thread (index = CPU) and
   * of QEMU's other threads — what each vCPU cost, which the guest's own times (no steal time) cannot say
   */
  host: z.strictObject({ wall_ms: count, vcpu_ms: z.array(count), other_ms: count }).optional(),
  /** softnet_stat processed per CPU, delta (what the times are spent on) */
  processed: z.record(z.string().regex(/^\d+$/), count),
  cpus: z.record(z.string().regex(/^\d+$/), CpuTimeSchema),
});

/** `--times-out`: { about, runs: { <kernel key>: { <phase>: PhaseTimes } } } */
export const TimesSchema = z.strictObject({
  about: z.string(),
  runs: z.record(z.string().min(1), z.record(z.string().regex(/^p\d+$/), PhaseTimesSchema)),
});

export type CpuRow = z.infer<typeof CpuRowSchema>;
export type PhaseTimes = z.infer<typeof PhaseTimesSchema>;
export type Times = z.infer<typeof TimesSchema>;
export type PhaseData = z.infer<typeof PhaseSchema>;
export type Fixture = z.infer<typeof FixtureSchema>;
