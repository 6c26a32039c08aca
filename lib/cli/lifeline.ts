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
