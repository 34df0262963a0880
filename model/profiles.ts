// Kernel profiles: named presets of the switches in Profile (docs/DESIGN.md §1.9).
import type { Profile } from "./config.ts";

type Switches = Omit<Profile, "name">;

const IPI_MODE: Switches = {
  preempt_rt: false,
  backlog_threads: false,
  threaded_wakeup: "conditional",
  local_napi_shortcut: false,
};

/** Both patches applied: unconditional wake-up and the use_local_napi shortcut. */
const PATCHED: Switches = { ...IPI_MODE, threaded_wakeup: "unconditional", local_napi_shortcut: true };

export const PROFILES: Readonly<Record<string, Switches>> = {
  "6.6": IPI_MODE,
  "6.6-patched": PATCHED,
  "6.6-patched-threads": { ...PATCHED, backlog_threads: true },
  "rt-6.6": { ...IPI_MODE, preempt_rt: true },
  "rt-6.6-patched": { ...PATCHED, preempt_rt: true, backlog_threads: true },
  "threads-without-patch1": { ...PATCHED, backlog_threads: true, threaded_wakeup: "conditional" },
  "threads-without-local-shortcut": { ...PATCHED, backlog_threads: true, local_napi_shortcut: false },
};

export const PROFILE_NAMES = Object.keys(PROFILES);
export const DEFAULT_PROFILE = "6.6-patched";

/** The preset `name`; throws on an unknown one (callers turn that into a usage error). */
export function profileByName(name: string): Profile {
  const switches = PROFILES[name];
  if (!switches) throw new Error(`unknown profile '${name}' (known: ${PROFILE_NAMES.join(", ")})`);
  return { name, ...switches };
}

/**
 * Apply kernel command-line switches. `thread_backlog_napi` is a boot parameter of the patched
 * kernels only (6.1 and unpatched 6.6 reject it as unknown); PREEMPT_RT has threads on anyway.
 */
export function applyBootArgs(profile: Profile, bootArgs: readonly string[]): Profile {
  let p = { ...profile };
  for (const arg of bootArgs) {
    if (arg === "thread_backlog_napi") {
      if (!p.local_napi_shortcut && p.threaded_wakeup === "conditional" && !p.backlog_threads)
        throw new Error(`boot argument 'thread_backlog_napi' is unknown to profile '${p.name}' (the kernel has no backlog threads)`);
      if (!p.backlog_threads) p = { ...p, backlog_threads: true, name: `${p.name}+thread_backlog_napi` };
    } else {
      throw new Error(`unknown boot argument '${arg}' (known: thread_backlog_napi)`);
    }
  }
  return p;
}
