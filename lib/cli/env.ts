/**
 * The one reader of every `BITNET_*` environment variable, so that each task
 * sees the same settings with the same parsing and the same defaults.
 *
 * Correction variables exist only for triage of models that are already
 * broken; a clean export never needs them (docs/explanation/correction-policy.md).
 * Strict mode refuses them outright, naming the variable ({@link assertStrictAllows}).
 *
 * @example
 * ```ts
 * import { assertStrictAllows, readBitnetEnv } from "./env.ts";
 * const env = readBitnetEnv();
 * assertStrictAllows(env); // throws StrictModeError (exit 16) when strict and a correction is set
 * console.log(env.seed); // 42 unless BITNET_SEED says otherwise
 * ```
 * @module
 */

import { StrictModeError, UsageError } from "../errors.ts";

/** Every variable this project reads, by role. */
export const BITNET_ENV_VARS = {
  strictMode: "BITNET_STRICT_MODE",
  deterministic: "BITNET_DETERMINISTIC",
  seed: "BITNET_SEED",
  threads: "BITNET_THREADS",
  nativeKernels: "BITNET_NATIVE_KERNELS",
  correctionPolicy: "BITNET_CORRECTION_POLICY",
  allowRuntimeCorrections: "BITNET_ALLOW_RUNTIME_CORRECTIONS",
  fixLnScale: "BITNET_FIX_LN_SCALE",
} as const;

/** The variables that ask for a runtime correction; strict mode refuses each of them. */
export const CORRECTION_VARS: readonly string[] = [
  BITNET_ENV_VARS.correctionPolicy,
  BITNET_ENV_VARS.allowRuntimeCorrections,
  BITNET_ENV_VARS.fixLnScale,
];

/** The seed used when BITNET_SEED is not set. */
export const DEFAULT_SEED = 42;

/** The parsed settings. */
export interface BitnetEnv {
  /** BITNET_STRICT_MODE: refuse every correction setting. */
  readonly strict: boolean;
  /** BITNET_DETERMINISTIC: fixed reduction order, single seed. */
  readonly deterministic: boolean;
  /** BITNET_SEED (default 42). */
  readonly seed: number;
  /** BITNET_THREADS, or null for the engine's default. */
  readonly threads: number | null;
  /**
   * BITNET_NATIVE_KERNELS: the path of the opt-in native kernel library
   * (`deno task build:native`), or null for WebAssembly only.
   */
  readonly nativeKernels: string | null;
  /** BITNET_CORRECTION_POLICY: path of a correction policy file, or null. */
  readonly correctionPolicy: string | null;
  /** BITNET_ALLOW_RUNTIME_CORRECTIONS. */
  readonly allowRuntimeCorrections: boolean;
  /** BITNET_FIX_LN_SCALE as given (a legacy setting: never applied), or null. */
  readonly fixLnScale: string | null;
  /** Every BITNET_* variable that was set (non-empty), name → raw value, for reports. */
  readonly raw: Readonly<Record<string, string>>;
}

/** Where values come from: `Deno.env` by default, a plain map in tests. */
export type EnvSource = { get(name: string): string | undefined };

const TRUE = new Set(["1", "true", "yes", "on"]);
const FALSE = new Set(["0", "false", "no", "off"]);

function parseBool(name: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new UsageError(`${name}="${value}" is not a boolean (use 1/0, true/false, yes/no, on/off)`);
}

function parseInt(name: string, value: string, min: number): number {
  const v = value.trim();
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw new UsageError(`${name}="${value}" is not an integer >= ${min}`);
  }
  return Number(v);
}

/**
 * Reads and parses every BITNET_* variable. Empty values count as unset.
 * A malformed value is a {@link UsageError} naming the variable.
 *
 * @example
 * ```ts
 * const env = readBitnetEnv(new Map([["BITNET_STRICT_MODE", "1"]]));
 * env.strict; // true
 * env.seed; // 42
 * ```
 */
export function readBitnetEnv(source: EnvSource = Deno.env): BitnetEnv {
  const raw: Record<string, string> = {};
  for (const name of Object.values(BITNET_ENV_VARS)) {
    const v = source.get(name);
    if (v !== undefined && v !== "") raw[name] = v;
  }
  const V = BITNET_ENV_VARS;
  const seedText = raw[V.seed];
  const threadsText = raw[V.threads];
  return {
    strict: parseBool(V.strictMode, raw[V.strictMode]),
    deterministic: parseBool(V.deterministic, raw[V.deterministic]),
    seed: seedText === undefined ? DEFAULT_SEED : parseInt(V.seed, seedText, 0),
    threads: threadsText === undefined ? null : parseInt(V.threads, threadsText, 1),
    nativeKernels: raw[V.nativeKernels] ?? null,
    correctionPolicy: raw[V.correctionPolicy] ?? null,
    allowRuntimeCorrections: parseBool(V.allowRuntimeCorrections, raw[V.allowRuntimeCorrections]),
    fixLnScale: raw[V.fixLnScale] ?? null,
    raw,
  };
}

/**
 * The settings when no variable is set: what a library call gets unless the
 * task passes the environment's (the library reads no environment variable).
 *
 * @example
 * ```ts
 * defaultBitnetEnv().strict; // false
 * ```
 */
export function defaultBitnetEnv(): BitnetEnv {
  return readBitnetEnv(new Map());
}

/**
 * The correction variables that are set, in {@link CORRECTION_VARS} order.
 *
 * @example
 * ```ts
 * setCorrectionVars(readBitnetEnv(new Map([["BITNET_FIX_LN_SCALE", "1"]]))); // ["BITNET_FIX_LN_SCALE"]
 * ```
 */
export function setCorrectionVars(env: BitnetEnv): string[] {
  return CORRECTION_VARS.filter((name) => env.raw[name] !== undefined);
}

/**
 * In strict mode, throws a {@link StrictModeError} (exit 16) naming every
 * correction variable that is set, whatever its value: strict mode means the
 * model is judged exactly as stored. Outside strict mode it does nothing.
 *
 * @example
 * ```ts
 * assertStrictAllows(readBitnetEnv(new Map([["BITNET_STRICT_MODE", "1"]]))); // passes
 * ```
 */
export function assertStrictAllows(env: BitnetEnv): void {
  if (!env.strict) return;
  const set = setCorrectionVars(env);
  if (set.length === 0) return;
  const list = set.map((n) => `${n}=${env.raw[n]}`).join(", ");
  throw new StrictModeError(
    `strict mode (BITNET_STRICT_MODE=${
      env.raw[BITNET_ENV_VARS.strictMode]
    }) refuses runtime correction settings: ${list}; unset ${
      set.length === 1 ? "it" : "them"
    } or leave strict mode`,
  );
}

/** The Hugging Face Hub's access token variable. */
export const HF_TOKEN_VAR = "HF_TOKEN";

/**
 * HF_TOKEN, when set and readable without prompting (the launcher lets a run
 * read it only with `--hf-repo`); undefined otherwise.
 *
 * @example
 * ```ts
 * const token = readHubToken(); // "hf_…" or undefined
 * ```
 */
export function readHubToken(source: EnvSource = Deno.env): string | undefined {
  if (source === Deno.env) {
    const state = Deno.permissions.querySync({ name: "env", variable: HF_TOKEN_VAR }).state;
    if (state !== "granted") return undefined;
  }
  const t = source.get(HF_TOKEN_VAR)?.trim();
  return t ? t : undefined;
}
