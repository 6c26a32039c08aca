/**
 * The common shape of every task's `main`: parse, run, map any failure to its
 * exit code with a one-line `error:` message on stderr.
 *
 * @example
 * ```ts
 * import { runTask } from "./run.ts";
 * await runTask(async () => {
 *   console.log("hello");
 *   return 0;
 * });
 * ```
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { CleanGgufError, exitCodeOf, UsageError } from "../errors.ts";
import { $, colors } from "../../deps.ts";

/** True when stderr is a terminal and NO_COLOR is not set. */
export function stderrIsStyled(): boolean {
  return Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
}

/** Writes one line to stderr (logs and progress never go to stdout). */
export function logLine(message: string): void {
  console.error(message);
}

/** A warning on stderr. */
export function warnLine(message: string): void {
  console.error(stderrIsStyled() ? colors.yellow(`warning: ${message}`) : `warning: ${message}`);
}

/** Runs `main` and exits with its code, or with the failure's code. */
export async function runTask(main: () => Promise<number>): Promise<never> {
  let code: number;
  try {
    code = await main();
  } catch (e) {
    code = exitCodeOf(e);
    const message = e instanceof CleanGgufError
      ? e.message
      : (e instanceof Error ? e.stack ?? e.message : String(e));
    console.error(stderrIsStyled() ? colors.red(`error: ${message}`) : `error: ${message}`);
  }
  Deno.exit(code);
}

/**
 * node:util parseArgs (positionals allowed, strict) with unknown flags and bad
 * values as {@link UsageError}s; the result keeps parseArgs' precise types.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseTaskArgs(["a.gguf", "--json"], { json: { type: "boolean" } });
 * values.json; // true
 * ```
 */
export function parseTaskArgs<const O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message, { cause: e });
  }
}

/** A string flag restricted to `choices`. */
export function choice<T extends string>(
  value: unknown,
  flag: string,
  choices: readonly T[],
  fallback: T,
): T {
  if (value === undefined) return fallback;
  if (typeof value === "string" && (choices as readonly string[]).includes(value)) {
    return value as T;
  }
  throw new UsageError(
    `--${flag} must be one of ${choices.join(", ")}, got ${JSON.stringify(value)}`,
  );
}

/** A positive integer flag or positional. */
export function positiveInt(value: unknown, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A tensor-by-tensor progress bar on stderr (dax), or nothing when quiet or not a terminal. */
export interface TensorProgress {
  /** Pass as a library's `onProgress`. */
  update(done: number, total: number, tensor: string): void;
  finish(): void;
}

/**
 * A progress bar labelled `label`, shown only when stderr is a terminal and not `quiet`.
 *
 * @example
 * ```ts
 * const progress = tensorProgress("Exporting", false);
 * progress.update(1, 10, "token_embd.weight");
 * progress.finish();
 * ```
 */
export function tensorProgress(label: string, quiet: boolean): TensorProgress {
  const bar = !quiet && Deno.stderr.isTerminal() ? $.progress(label) : undefined;
  return {
    update(done, total, tensor) {
      if (!bar) return;
      bar.length(total);
      bar.position(done);
      bar.message(tensor);
    },
    finish: () => bar?.finish(),
  };
}
