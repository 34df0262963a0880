// The tasks a CPU schedules (docs/DESIGN.md §1.3, §1.11): its kthreads, senders and the receiver.

export type TaskKind = "ksoftirqd" | "backlog_napi" | "sender" | "receiver";

export interface Task {
  kind: TaskKind;
  /** Source index for senders, -1 otherwise. */
  source: number;
  /** TASK_RUNNING (woken or on the run queue) vs TASK_INTERRUPTIBLE (asleep); parked when offline. */
  state: "running" | "interruptible" | "parked";
  onRq: boolean;
}
