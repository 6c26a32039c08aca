/**
 * The common shape of every task: parse the command line with the task's
 * spec, print the generated help for `--help`, refuse correction variables in
 * strict mode (tasks that judge or run a model), check the write permission
 * of every output before anything is read, run, and map any failure to its
 * exit code with a one-line `error:` on stderr. Logs, warnings and progress
 * go to stderr and `--quiet` silences them; results go to stdout.
 *
 * @example
 * ```ts
 * import { runTask } from "./run.ts";
 * import { VERIFY_SPEC } from "./specs.ts";
 * await runTask(VERIFY_SPEC, async ({ args }, ctx) => {
 *   ctx.log(`checking ${args.model}`);
 *   return 0;
 * });
 * ```
 * @module
 */

import { basename, dirname } from "node:path";
import { OutputError, UsageError } from "../errors.ts";
import { abortOpenOutputsSync, AtomicOutputs } from "../io/atomic.ts";
import { $, colors } from "../../deps.ts";
import { assertStrictAllows, type BitnetEnv, readBitnetEnv } from "./env.ts";
import { reportFailure, stderrIsStyled } from "./failure.ts";
import {
  assertWritable,
  LAUNCHER_PID_VAR,
  onParentExit,
  SIGNAL_NUMBERS,
  STOP_SIGNALS,
} from "./launch.ts";
import { type ParsedArgs, parseTaskArgs, renderHelp, type TaskSpec } from "./spec.ts";

/** A tensor-by-tensor progress bar on stderr (dax), or nothing when quiet or not a terminal. */
export interface TensorProgress {
  /** Pass as a library's `onProgress`. */
  update(done: number, total: number, tensor: string): void;
  finish(): void;
}

/** What a task's body gets besides its arguments. */
export interface TaskContext {
  /** `--quiet`: nothing on stderr but errors. */
  readonly quiet: boolean;
  /** The BITNET_* settings (read on first use). */
  readonly env: BitnetEnv;
  /** A line on stderr, unless quiet. */
  log(message: string): void;
  /** A warning on stderr, unless quiet. */
  warn(message: string): void;
  /** A progress bar labelled `label`, shown only on a terminal and unless quiet. */
  progress(label: string): TensorProgress;
}

/** A task's body: its parsed arguments in, an exit code out. */
export type TaskBody<S extends TaskSpec> = (
  parsed: ParsedArgs<S>,
  ctx: TaskContext,
) => Promise<number>;

/** Reads the BITNET_* variables; a run without the permission is told which flag to add. */
function readEnvOf(spec: TaskSpec): BitnetEnv {
  try {
    return readBitnetEnv();
  } catch (e) {
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    throw new UsageError(
      `${spec.name} reads the BITNET_* variables: add --allow-env to the deno run command ` +
        `(deno task ${spec.name} grants it by itself)`,
      { cause: e },
    );
  }
}

function taskContext(spec: TaskSpec, quiet: boolean): TaskContext {
  let env: BitnetEnv | undefined;
  return {
    quiet,
    get env() {
      return env ??= readEnvOf(spec);
    },
    log: (message) => quiet || console.error(message),
    warn: (message) =>
      quiet ||
      console.error(
        stderrIsStyled() ? colors.yellow(`warning: ${message}`) : `warning: ${message}`,
      ),
    progress: (label) => tensorProgress(label, quiet),
  };
}

/**
 * Runs a task's body on `argv` and returns the exit code (failures are
 * reported on stderr, never thrown).
 *
 * @example
 * ```ts
 * import { VERIFY_SPEC } from "./specs.ts";
 * const code = await executeTask(VERIFY_SPEC, async () => 0, ["--help"]); // prints the help, 0
 * ```
 */
export async function executeTask<S extends TaskSpec>(
  spec: S,
  body: TaskBody<S>,
  argv: readonly string[],
): Promise<number> {
  try {
    const parsed = parseTaskArgs(spec, argv);
    if (parsed.flags.help) {
      console.log(renderHelp(spec));
      return 0;
    }
    const ctx = taskContext(spec, parsed.flags.quiet);
    // Strict mode refuses before anything is read or written.
    if (spec.strictMode) assertStrictAllows(ctx.env);
    assertWritable(spec, parsed);
    return await body(parsed, ctx);
  } catch (e) {
    return reportFailure(e);
  }
}

/**
 * Started by the launcher, the task ends when the launcher is gone (even
 * before this task got this far): it raises SIGTERM on itself, so that
 * whatever cleans up on SIGTERM runs.
 */
function followLauncher(): void {
  const state = Deno.permissions.querySync({ name: "env", variable: LAUNCHER_PID_VAR }).state;
  if (state !== "granted") return;
  const launcher = Number(Deno.env.get(LAUNCHER_PID_VAR) ?? NaN);
  if (!Number.isInteger(launcher) || launcher <= 0) return;
  const stop = () => Deno.kill(Deno.pid, "SIGTERM");
  if (launcher !== Deno.ppid) stop();
  else onParentExit(launcher, stop);
}

/**
 * On SIGINT, SIGTERM or SIGHUP (Ctrl-C, a closed terminal, `kill`, or the
 * launcher passing one on), the task removes the temporary files of every
 * output not yet committed, releases their folders, and exits with 128 + n,
 * as the shell reports a process a signal ended. A commit is synchronous, so
 * the handler runs before or after one, never inside it.
 */
function cleanUpOnSignals(): void {
  for (const signal of STOP_SIGNALS) {
    try {
      Deno.addSignalListener(signal, () => {
        abortOpenOutputsSync();
        console.error(`error: interrupted by ${signal}`);
        Deno.exit(128 + SIGNAL_NUMBERS[signal]!);
      });
    } catch {
      // this platform does not deliver that signal (Windows has only SIGINT and SIGBREAK)
    }
  }
}

/**
 * The entry point of a task script: runs the body on `Deno.args` and exits
 * with its code; a signal ends it cleanly (see cleanUpOnSignals).
 *
 * @example
 * ```ts
 * import { PROBE_SPEC } from "./specs.ts";
 * await runTask(PROBE_SPEC, async ({ args }) => (args.model ? 0 : 2));
 * ```
 */
export async function runTask<S extends TaskSpec>(spec: S, body: TaskBody<S>): Promise<never> {
  cleanUpOnSignals();
  followLauncher();
  Deno.exit(await executeTask(spec, body, Deno.args));
}

/** What {@link probeSettings} reads: the `PROBE_OPTIONS` flags of a task. */
export interface ProbeFlags {
  readonly prompt: string;
  readonly "max-tokens": number;
  readonly threads?: number | undefined;
}

/**
 * The probe settings of `--prompt`, `--max-tokens` and `--threads` as the
 * library's options take them (`threads` only when given).
 *
 * @example
 * ```ts
 * const s = probeSettings({ prompt: "Once upon a time", "max-tokens": 4 });
 * [s.prompt, s.maxTokens, s.threads]; // ["Once upon a time", 4, undefined]
 * ```
 */
export function probeSettings(
  f: ProbeFlags,
): { prompt: string; maxTokens: number; threads?: number } {
  const { prompt, "max-tokens": maxTokens, threads } = f;
  return { prompt, maxTokens, ...(threads !== undefined ? { threads } : {}) };
}

/**
 * A log of a library's steps for `onProgress`: on a terminal only, and never
 * with `--json` (whose stdout a program reads).
 *
 * @example
 * ```ts
 * const onProgress = terminalLog(false, (m) => console.error(m));
 * onProgress("gate 1: norm tensors"); // on stderr when it is a terminal
 * ```
 */
export function terminalLog(json: boolean, log: (message: string) => void) {
  return (message: string): void => {
    if (!json && Deno.stderr.isTerminal()) log(message);
  };
}

/** A progress bar labelled `label`, shown only when stderr is a terminal and not `quiet`. */
function tensorProgress(label: string, quiet: boolean): TensorProgress {
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

/**
 * Prints `value` as indented JSON on stdout.
 *
 * @example
 * ```ts
 * printJson({ gguf: "models/clean/clean-f16.gguf" });
 * ```
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** What an export or a quantization wrote (the parts of their results a summary shows). */
export interface WrittenSet {
  readonly ggufPath: string;
  readonly metaPath: string;
  readonly fingerprintPath: string;
  readonly manifestPath: string | null;
  readonly fingerprint: string;
  readonly meta: {
    readonly size: number;
    readonly tensors: readonly unknown[];
    readonly warnings: readonly string[];
  };
  readonly removed: readonly string[];
}

/**
 * The `--json` summary of a written GGUF and its companions.
 *
 * @example
 * ```ts
 * import { exportCleanGguf } from "../export/export.ts";
 * printJson(writtenSummary(await exportCleanGguf({ modelDir: "fixtures/tiny-bitnet", outDir: "out" })));
 * ```
 */
export function writtenSummary(r: WrittenSet): Record<string, unknown> {
  return {
    gguf: r.ggufPath,
    meta: r.metaPath,
    fingerprint_file: r.fingerprintPath,
    manifest: r.manifestPath,
    fingerprint: r.fingerprint,
    size: r.meta.size,
    tensors: r.meta.tensors.length,
    warnings: r.meta.warnings,
    removed: r.removed,
  };
}

/**
 * Writes `value` as indented JSON to `path`, whole or not at all (a
 * temporary file renamed into place); a failure is an {@link OutputError}
 * (exit 8) naming the file.
 *
 * @example
 * ```ts
 * await writeJsonFile("/data/report.json", { passed: true }, "report");
 * ```
 */
export async function writeJsonFile(path: string, value: unknown, what: string): Promise<void> {
  const out = await AtomicOutputs.create(dirname(path));
  try {
    await (await out.file(basename(path))).writeText(JSON.stringify(value, null, 2) + "\n");
    await out.commit();
  } catch (e) {
    await out.abort();
    if (e instanceof OutputError) throw e;
    throw new OutputError(`${path}: cannot write the ${what} (${(e as Error).message})`, {
      cause: e,
    });
  }
}
