/**
 * The one table of failure classes and their exit codes.
 *
 * Every error the library throws on purpose is a {@link CleanGgufError} subclass
 * with a fixed exit code, so that a task maps any failure to a documented code
 * with one `catch`. Validation gates (10–16) report results rather than throw,
 * but their codes live here too so that no code is declared twice.
 *
 * @example
 * ```ts
 * import { FormatError, exitCodeOf } from "./errors.ts";
 * const e = new FormatError("model.gguf: bad magic");
 * console.log(exitCodeOf(e)); // 4
 * ```
 * @module
 */

/**
 * Exit codes by name, each with its meaning for `--help` and the docs. README
 * and docs/reference/exit-codes.md list the same table.
 */
const EXIT_TABLE = {
  ok: [0, "success"],
  internal: [1, "internal error (a bug: please report it)"],
  usage: [2, "usage error (bad arguments or flags)"],
  input: [3, "input not found or unreadable (file, folder, config.json)"],
  format: [
    4,
    "malformed input file (GGUF, SafeTensors, JSON header), or a tensor holding NaN or ±inf",
  ],
  unsupported: [5, "unsupported input (architecture, dtype, ggml type, GGUF version)"],
  tokenizerMismatch: [
    6,
    "tokenizer mismatch (vocabulary, BOS/EOS, or tokenizer.json vs GGUF metadata)",
  ],
  overflow: [7, "BF16 to F16 overflow refused (see --allow-overflow)"],
  output: [8, "output cannot be written (out_dir not writable, disk full)"],
  modelShape: [9, "missing or misshapen tensor"],
  normInspection: [10, "the norm inspection could not run"],
  suspiciousNorms: [11, "suspicious norm weights"],
  noHealthyNorms: [12, "no healthy norm layers found"],
  modelLoad: [13, "model loading failed (projections, missing or misshapen tensors, tokenizer)"],
  probeFailed: [14, "the inference probe failed to run"],
  gibberish: [15, "the output is gibberish, or lacks the --expect text (linguistic check failed)"],
  strictRefused: [16, "strict mode refused a runtime correction setting"],
  notTernary: [17, "a projection is not ternary (see --ternarize) or cannot be block-quantized"],
  baselineMismatch: [18, "the model departs from its baseline"],
  verifyFailed: [19, "verification failed (fingerprint, manifest, meta.json or signature)"],
  download: [20, "download failed"],
} as const;

/** Exit codes, by name. */
export const EXIT = Object.fromEntries(
  Object.entries(EXIT_TABLE).map(([name, [code]]) => [name, code]),
) as { readonly [K in keyof typeof EXIT_TABLE]: (typeof EXIT_TABLE)[K][0] };

/** One exit code from {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** Human-readable meaning of each exit code, for `--help` and the docs. */
export const EXIT_MEANINGS = Object.fromEntries(Object.values(EXIT_TABLE)) as Readonly<
  Record<ExitCode, string>
>;

/** Base class: a message that names the file, tensor or key, and an exit code. */
export class CleanGgufError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: ErrorOptions) {
    super(message, options);
    this.exitCode = exitCode;
    this.name = new.target.name;
  }
}

/**
 * The base of one failure class: every error of the class exits with
 * `exitCode`, its message after `prefix`.
 */
function failure(exitCode: ExitCode, prefix = "") {
  return class extends CleanGgufError {
    constructor(message: string, options?: ErrorOptions) {
      super(prefix + message, exitCode, options);
    }
  };
}

/** Bad command-line arguments. */
export class UsageError extends failure(EXIT.usage) {}

/** An input file or folder is missing or unreadable. */
export class InputError extends failure(EXIT.input) {}

/** An input file is malformed (truncated, offsets out of range, bad magic...). */
export class FormatError extends failure(EXIT.format) {}

/** A tensor holds NaN or ±inf values: no clean file has them, whatever the tensor. */
export class NonFiniteError extends failure(EXIT.format) {}

/** Well-formed input we do not support (unknown architecture, dtype, ggml type). */
export class UnsupportedError extends failure(EXIT.unsupported) {}

/** The tokenizer disagrees with config.json or with GGUF metadata. */
export class TokenizerMismatchError
  extends failure(EXIT.tokenizerMismatch, "tokenizer mismatch: ") {}

/** BF16 values that do not fit in F16 and no clamping was allowed. */
export class OverflowError extends failure(EXIT.overflow) {}

/** The output cannot be written. */
export class OutputError extends failure(EXIT.output) {}

/** A tensor is missing or has the wrong shape for the model's hyperparameters. */
export class ModelShapeError extends failure(EXIT.modelShape) {}

/** Strict mode refused a correction environment variable. */
export class StrictModeError extends failure(EXIT.strictRefused) {}

/** A projection is not ternary or cannot be block-quantized. */
export class NotTernaryError extends failure(EXIT.notTernary) {}

/** The model departs from an earlier baseline. */
export class BaselineMismatchError extends failure(EXIT.baselineMismatch) {}

/** A fingerprint, manifest, meta.json or signature does not match. */
export class VerifyError extends failure(EXIT.verifyFailed) {}

/** A download failed or was refused. */
export class DownloadError extends failure(EXIT.download) {}

/**
 * The exit code for any thrown value: ours carry one, anything else is a bug (1).
 *
 * @example
 * ```ts
 * exitCodeOf(new UsageError("missing <model_dir>")); // 2
 * exitCodeOf(new TypeError("oops")); // 1
 * ```
 */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof CleanGgufError ? error.exitCode : EXIT.internal;
}

/**
 * A failure's message about `path`, naming it once: our errors already start
 * with the path they concern; anything else gets it as a prefix.
 *
 * @example
 * ```ts
 * messageAbout("m.gguf", new FormatError("m.gguf: bad magic")); // "m.gguf: bad magic"
 * messageAbout("m.gguf", new Error("EIO")); // "m.gguf: EIO"
 * ```
 */
export function messageAbout(path: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.startsWith(`${path}:`) ? message : `${path}: ${message}`;
}

/**
 * `op`'s value; its failure becomes an `ErrorClass` saying `what` failed and
 * why (the underlying message in parentheses, the original error its cause).
 *
 * @example
 * ```ts
 * const text = await rethrowAs(InputError, "m.json: cannot read", Deno.readTextFile("m.json"));
 * // throws InputError "m.json: cannot read (No such file or directory …)" when it is missing
 * ```
 */
export async function rethrowAs<T>(
  ErrorClass: new (message: string, options?: ErrorOptions) => CleanGgufError,
  what: string,
  op: Promise<T>,
): Promise<T> {
  try {
    return await op;
  } catch (e) {
    throw new ErrorClass(`${what} (${(e as Error).message})`, { cause: e });
  }
}
