// struct napi_struct, reduced to what the receive path needs: state bits, weight, poll kind.
// see include/linux/netdevice.h: NAPI_STATE_*

export const NAPI_STATE_SCHED = 1 << 0;
export const NAPI_STATE_THREADED = 1 << 1;
export const NAPI_STATE_SCHED_THREADED = 1 << 2;

export interface Napi {
  /** `backlog` polls with process_backlog(); `device` polls a NIC RX queue. */
  kind: "backlog" | "device";
  /** The NIC queue id for device NAPIs, -1 for the backlog. */
  queue: number;
  state: number;
  weight: number;
  /** On a poll_list (the kernel tests list membership; we keep a flag). */
  listed: boolean;
}

export function newNapi(kind: Napi["kind"], queue: number, weight: number): Napi {
  return { kind, queue, state: 0, weight, listed: false };
}

/** napi_schedule_prep(): claim SCHED; false when it was already set. */
export function napiSchedulePrep(n: Napi): boolean {
  if (n.state & NAPI_STATE_SCHED) return false;
  n.state |= NAPI_STATE_SCHED;
  return true;
}
