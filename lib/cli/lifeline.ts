/**
 * Ending with the parent: a process started by another (the task started by
 * the launcher, the launcher started by `deno task`) checks about once a
 * second that its parent is still the same process; when the parent is gone
 * (killed with SIGKILL, say) the child is re-parented and `Deno.ppid`
 * changes. The timer is unref'd: it never keeps a finished run alive.
 *
 * @example
 * ```ts
 * import { onParentExit } from "./lifeline.ts";
 * onParentExit(Deno.ppid, () => Deno.kill(Deno.pid, "SIGTERM"));
 * ```
 * @module
 */

/** Signals a run cleans up on, and the launcher passes on to its task. */
export const STOP_SIGNALS: readonly Deno.Signal[] = ["SIGHUP", "SIGINT", "SIGTERM"];
/** Signal numbers, for the 128 + n exit code of a process a signal ended (as the shell says). */
export const SIGNAL_NUMBERS: Readonly<Partial<Record<Deno.Signal, number>>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};

/** How often the parent is checked, in milliseconds. */
export const PARENT_POLL_MS = 1000;

/**
 * Calls `onGone` once when the parent process is no longer `parentPid`.
 * Returns a function that stops watching.
 *
 * @example
 * ```ts
 * const stop = onParentExit(Deno.ppid, () => Deno.exit(143));
 * stop();
 * ```
 */
export function onParentExit(parentPid: number, onGone: () => void): () => void {
  const timer = setInterval(() => {
    if (Deno.ppid === parentPid) return;
    clearInterval(timer);
    onGone();
  }, PARENT_POLL_MS);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}
