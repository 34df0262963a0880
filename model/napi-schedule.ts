// Scheduling a NAPI (docs/DESIGN.md §1.3, §1.5): ____napi_schedule() for the backlog — its thread
// woken, or onto poll_list with NET_RX raised — and for a device from its IRQ handler.
// Read beside net/core/dev.c.
import type { CpuState } from "./cpu-state.ts";
import { NAPI_STATE_SCHED_THREADED, NAPI_STATE_THREADED, type Napi } from "./napi.ts";

/**
 * ____napi_schedule(): a threaded NAPI wakes its thread — except this CPU's own backlog thread
 * with the use_local_napi shortcut — others go on poll_list and raise NET_RX.
 */
// dev.c: ____napi_schedule()
export function napiSchedule(cpu: CpuState, napi: Napi, local: boolean, raise: "local_enqueue" | "rps_ipi" | "nic_irq" | "hotplug", wakeAt: number): void {
  const p = cpu.cfg.profile;
  if (napi.state & NAPI_STATE_THREADED && !(local && p.local_napi_shortcut)) {
    const thread = cpu.backlogThread;
    // Before patch 1 the bit was skipped for a sleeping thread, relying on a `woken` flag that
    // smpboot threads do not have: that wake-up is lost.
    if (p.threaded_wakeup === "unconditional" || thread.state !== "interruptible") napi.state |= NAPI_STATE_SCHED_THREADED;
    else cpu.c.lost_wakeups++;
    if (cpu.wakeTask(thread, wakeAt)) cpu.c.thread_wakeups++;
    return;
  }
  if (!napi.listed) {
    napi.listed = true;
    cpu.sd.poll_list.push(napi);
  }
  if (!cpu.sd.in_net_rx_action) cpu.raiseNetRx(raise);
}

/** napi_schedule() from a NIC's IRQ handler: device NAPIs are never threaded here. */
// dev.c: ____napi_schedule()
export function napiScheduleDevice(cpu: CpuState, napi: Napi): void {
  if (!napi.listed) {
    napi.listed = true;
    cpu.sd.poll_list.push(napi);
  }
  if (!cpu.sd.in_net_rx_action) cpu.raiseNetRx("nic_irq");
}
