/**
 * The one way a run reports a failure: `error: <message>` on stderr (red on
 * a terminal unless NO_COLOR), and the failure's exit code from lib/errors.ts.
 * Kept free of dependencies so that the launcher loads it in no time.
 *
 * @example
 * ```ts
 * import { reportFailure } from "./failure.ts";
 * import { UsageError } from "../errors.ts";
 * reportFailure(new UsageError("model-probe: missing <model.gguf>; see --help")); // 2
 * ```
 * @module
 */

import { CleanGgufError, exitCodeOf } from "../errors.ts";

/** True when stderr is a terminal and NO_COLOR is not set. */
export function stderrIsStyled(): boolean {
  // Deno.noColor reflects NO_COLOR without needing --allow-env.
  return !Deno.noColor && Deno.stderr.isTerminal();
}

/**
 * Prints the failure and returns its exit code. A failure of ours prints its
 * message; anything else (a bug) its stack.
 *
 * @example
 * ```ts
 * const code = reportFailure(new Error("boom")); // 1, with the stack on stderr
 * ```
 */
export function reportFailure(e: unknown): number {
  const message = e instanceof CleanGgufError
    ? e.message
    : (e instanceof Error ? e.stack ?? e.message : String(e));
  const line = `error: ${message}`;
  console.error(stderrIsStyled() ? `\x1b[31m${line}\x1b[39m` : line);
  return exitCodeOf(e);
}
