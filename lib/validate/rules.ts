/**
 * The validation rules as ONE data table with a reason on every row: the RMS
 * envelope of each norm class per model family, the quantization-corruption
 * detectors, the meta.json tolerances, the projection outlier factor and the
 * gibberish thresholds. `--rules FILE` (JSON, same shape, every part
 * optional) overrides them.
 *
 * Why per class and family: BitNet b1.58 2B-4T's attn_norm gammas are
 * ≈ 0.012–0.027 (docs/reference/formats.md, "BitNet b1.58 forward pass"), so a single [0.5, 2.0] envelope for
 * every norm rejects a correct export of the real model.
 *
 * @example
 * ```ts
 * import { DEFAULT_RULES, envelopeFor } from "./rules.ts";
 * envelopeFor(DEFAULT_RULES, "bitnet", "attn_norm"); // { rmsMin: 0.005, rmsMax: 2, ... }
 * envelopeFor(DEFAULT_RULES, "llama", "ffn_norm").rmsMin; // 0.5
 * ```
 * @module
 */

import { isJsonObject, type JsonObject, readJsonFile } from "../io/json.ts";
import type { Family, NormClass, ProjectionKind } from "../arch/registry.ts";
import { UsageError } from "../errors.ts";

/** The norm classes (docs/reference/formats.md, "Tensor names"), in report order. */
export const NORM_CLASSES: readonly NormClass[] = [
  "attn_norm",
  "attn_sub_norm",
  "ffn_norm",
  "ffn_sub_norm",
  "output_norm",
];

/**
 * The families whose norms differ: BitNet architectures (2B-4T, 1bitLLM),
 * plain Llama, and Llama checkpoints with BitLinear projections (Falcon3 /
 * Falcon-E 1.58bit, HF1BitLLM: a "llama" GGUF with
 * `clean_gguf.bitlinear_projections`).
 */
export type EnvelopeFamily = "bitnet" | "llama" | "llama-bitnet";

/** A model family the rules can name, or "*" for any. */
export type RuleFamily = EnvelopeFamily | "*";

const ENVELOPE_FAMILIES: readonly RuleFamily[] = ["bitnet", "llama", "llama-bitnet", "*"];

/**
 * The envelope family of a model: its forward-pass family, "llama-bitnet"
 * for a Llama whose projections are BitLinear.
 *
 * @example
 * ```ts
 * envelopeFamily("llama", { bitlinear: ["attn_q"] }); // "llama-bitnet"
 * ```
 */
export function envelopeFamily(
  family: Family | null,
  hp: { readonly bitlinear: readonly ProjectionKind[] } | null | undefined,
): EnvelopeFamily | null {
  if (family === "llama" && (hp?.bitlinear.length ?? 0) > 0) return "llama-bitnet";
  return family;
}

/** One row of the envelope table. */
export interface NormEnvelope {
  readonly family: RuleFamily;
  readonly normClass: NormClass | "*";
  /** Inclusive RMS bounds of a healthy gamma vector. */
  readonly rmsMin: number;
  readonly rmsMax: number;
  readonly reason: string;
}

/** The norm envelopes by family and class, each with its reason. */
const NORM_ENVELOPES: readonly NormEnvelope[] = [
  {
    family: "*",
    normClass: "*",
    rmsMin: 0.5,
    rmsMax: 2.0,
    reason:
      "generic: RMSNorm gammas start at 1 and trained checkpoints usually stay within a factor of two",
  },
  {
    family: "bitnet",
    normClass: "attn_norm",
    rmsMin: 0.005,
    rmsMax: 2.0,
    reason:
      "BitNet b1.58 2B-4T's input_layernorm gammas are 0.012-0.027 in every layer (its q/k scales compensate); small BitNet models keep them near 1",
  },
  {
    family: "bitnet",
    normClass: "ffn_norm",
    rmsMin: 0.5,
    rmsMax: 4.0,
    reason:
      "BitNet b1.58 2B-4T's post_attention_layernorm gammas are 1.1-1.6; small models keep ~1",
  },
  {
    family: "bitnet",
    normClass: "attn_sub_norm",
    rmsMin: 0.005,
    rmsMax: 8.0,
    reason:
      "BitNet sub-norms vary widely (2B-4T: values from 0.01 to 3.8): only gross scaling is caught here; the meta.json comparison is the precise check",
  },
  {
    family: "bitnet",
    normClass: "ffn_sub_norm",
    rmsMin: 0.005,
    rmsMax: 8.0,
    reason:
      "BitNet sub-norms vary widely (2B-4T: values from 0.01 to 3.8): only gross scaling is caught here; the meta.json comparison is the precise check",
  },
  {
    family: "bitnet",
    normClass: "output_norm",
    rmsMin: 0.1,
    rmsMax: 8.0,
    reason:
      "BitNet's final norm is not documented for 2B-4T: a wide envelope avoids false alarms; the meta.json comparison is the precise check",
  },
  // Ternary Llamas (Falcon3-*-1.58bit, Falcon-E, HF1BitLLM Llama3-8B-1.58) keep Llama's norms and no
  // sub-norms. Their gammas were not measured on the published files, so these bounds are wide:
  // each catches a zeroed norm (below) and a gross rescaling (above); the meta.json RMS comparison
  // is the precise check.
  {
    family: "llama-bitnet",
    normClass: "attn_norm",
    rmsMin: 0.005,
    rmsMax: 4.0,
    reason:
      "ternary Llama input_layernorm: Llama-trained attention gammas sit well below 1 in early layers (min 0.005, as BitNet's), and a BitLinear input is rescaled per token anyway (max 4 catches a gross rescaling)",
  },
  {
    family: "llama-bitnet",
    normClass: "ffn_norm",
    rmsMin: 0.05,
    rmsMax: 8.0,
    reason:
      "ternary Llama post_attention_layernorm: not measured on the published files; min 0.05 catches a zeroed norm, max 8 a gross rescaling",
  },
  {
    family: "llama-bitnet",
    normClass: "output_norm",
    rmsMin: 0.1,
    rmsMax: 8.0,
    reason:
      "ternary Llama final norm feeds the float lm_head: not measured on the published files; min 0.1 and max 8 catch zeroed or grossly rescaled gammas",
  },
];

/** The built-in rules. Most specific row wins: family + class, then family, then class, then "*". */
const BUILT_IN = {
  /** Where the rules came from ("built-in" or the rules file path). */
  source: "built-in",
  norms: NORM_ENVELOPES,
  /** Detectors of quantized norms, independent of the envelope. */
  quantization: {
    /** A norm with at most this many distinct values is suspicious. */
    maxDistinct: 3,
    /** Elements per block for the low-bit grid test. */
    gridBlockSize: 32,
    /** Largest grid level |k| counted as low-bit (1 = ternary, 8 = 4-bit). */
    gridMaxLevel: 8,
    /** Distance from an integer level still counted as on the grid. */
    gridTolerance: 0.04,
    reason:
      "trained gammas stored as F32/F16/BF16 hold dozens of distinct values; a norm with at most 3 distinct values, or whose every 32-value block sits on a symmetric grid k*d with |k| <= 8 (ternary, Q4_0-like), was quantized",
  },
  /** Tolerance of the meta.json RMS comparison. */
  meta: {
    /** Relative tolerance by the GGUF storage type of the norm (unit roundoff of the type). */
    relTolerance: { F32: 2 ** -23, F16: 2 ** -10, BF16: 2 ** -7 } as Record<string, number>,
    reason:
      "the export records each norm's RMS; storing a value rounds it by at most half a unit in the last place of the stored type, so the RMS moves by less than one unit roundoff",
  },
  /** Gate 2 settings. */
  projections: {
    /** A block (layer) whose projection RMS differs from the other layers' median by more than this factor is flagged. */
    blockRmsFactor: 10,
    reason:
      "ternary scales of one model's layers stay within a small factor of each other; a layer 10x off the others' median was scaled or decoded wrongly",
  },
  /** Gate 3 thresholds (on the generated text and the passage NLL). */
  linguistic: {
    /** Share of characters that are printable (no control characters, no U+FFFD). */
    minPrintableRatio: 0.95,
    /** Share of non-space characters that are letters. */
    minLetterRatio: 0.5,
    /** Share of words with a plausible shape (letters with a vowel-like letter, numbers, punctuation attached). */
    minWordShapeRatio: 0.6,
    /** Longest accepted run of one repeated token id in the generated ids. */
    maxRepeatRun: 4,
    /** The passage mean NLL must be below this fraction of log(vocab size) (a uniform guess scores 1). */
    maxNllFraction: 0.6,
    reason:
      "a working model continues a plain English prompt with printable, mostly alphabetic, word-shaped text and predicts plain English far better than a uniform guess (mean NLL log V)",
  },
};

type DeepReadonly<T> = { readonly [K in keyof T]: DeepReadonly<T[K]> };

/** All rules: the shape of the built-in table. */
export type ValidationRules = DeepReadonly<typeof BUILT_IN>;

/** The built-in rules. */
export const DEFAULT_RULES: ValidationRules = BUILT_IN;

/**
 * The envelope for a norm class in a family: the most specific matching row
 * (family and class, then family, then class, then the "*" row).
 *
 * @example
 * ```ts
 * envelopeFor(DEFAULT_RULES, "bitnet", "ffn_norm").rmsMax; // 4
 * ```
 */
export function envelopeFor(
  rules: ValidationRules,
  family: EnvelopeFamily | null,
  normClass: NormClass,
): NormEnvelope {
  const score = (r: NormEnvelope): number => {
    const f = r.family === "*" ? 0 : r.family === family ? 2 : -100;
    const c = r.normClass === "*" ? 0 : r.normClass === normClass ? 1 : -100;
    return f + c;
  };
  // The first row of the highest score wins; a row naming another family or class scores < 0.
  const best = rules.norms.reduce<NormEnvelope | undefined>(
    (b, r) => (score(r) > (b ? score(b) : -1) ? r : b),
    undefined,
  );
  if (!best) {
    throw new UsageError(`rules (${rules.source}): no envelope for ${family ?? "*"} ${normClass}`);
  }
  return best;
}

// ---- rules files ------------------------------------------------------------

function num(o: JsonObject, key: string, where: string, min = -Infinity): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min) {
    throw new UsageError(
      `${where}.${key} must be a finite number >= ${min}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function str(o: JsonObject, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new UsageError(`${where}.${key} must be a string`);
  return v;
}

function only(o: JsonObject, keys: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k)) {
      throw new UsageError(`${where}: unknown key "${k}" (known: ${keys.join(", ")})`);
    }
  }
}

/**
 * `value` over `base`, key by key: a number (>= 0) for a number, a string for a string, an object
 * merged the same way. Unknown keys are an error, except in an `open` object (`relTolerance`
 * takes a number for any storage type).
 */
function overlay<T extends object>(base: T, value: unknown, where: string, open = false): T {
  if (value === undefined) return base;
  if (!isJsonObject(value)) throw new UsageError(`${where} must be an object`);
  if (!open) only(value, Object.keys(base), where);
  const out: JsonObject = { ...(base as JsonObject) };
  for (const k of Object.keys(value)) {
    const b = (base as JsonObject)[k];
    out[k] = isJsonObject(b)
      ? overlay(b, value[k], `${where}.${k}`, k === "relTolerance")
      : typeof b === "string"
      ? str(value, k, where)
      : num(value, k, where, 0);
  }
  return out as T;
}

function parseEnvelope(v: unknown, where: string): NormEnvelope {
  if (!isJsonObject(v)) throw new UsageError(`${where} must be an object`);
  only(v, ["family", "normClass", "rmsMin", "rmsMax", "reason"], where);
  const family = (v.family ?? "*") as RuleFamily;
  if (!ENVELOPE_FAMILIES.includes(family)) {
    throw new UsageError(
      `${where}.family must be one of ${ENVELOPE_FAMILIES.map((f) => `"${f}"`).join(", ")}, got ${
        JSON.stringify(family)
      }`,
    );
  }
  const normClass = v.normClass ?? "*";
  if (normClass !== "*" && !(NORM_CLASSES as readonly unknown[]).includes(normClass)) {
    throw new UsageError(
      `${where}.normClass must be one of ${NORM_CLASSES.join(", ")} or "*", got ${
        JSON.stringify(normClass)
      }`,
    );
  }
  const rmsMin = num(v, "rmsMin", where, 0);
  const rmsMax = num(v, "rmsMax", where, 0);
  const reason = str(v, "reason", where);
  if (rmsMin === undefined || rmsMax === undefined || reason === undefined || rmsMin > rmsMax) {
    throw new UsageError(`${where} needs rmsMin <= rmsMax and a reason`);
  }
  return { family, normClass: normClass as NormClass | "*", rmsMin, rmsMax, reason };
}

/**
 * Applies an override object (the parsed `--rules` JSON) to `base`. Norm rows
 * replace the base row with the same family and class, or are added. Unknown
 * keys and malformed values are a {@link UsageError} naming the key.
 *
 * @example
 * ```ts
 * const r = mergeRules(DEFAULT_RULES, { norms: [{ family: "llama", normClass: "attn_norm", rmsMin: 0.01, rmsMax: 2, reason: "x" }] }, "mine.json");
 * envelopeFor(r, "llama", "attn_norm").rmsMin; // 0.01
 * ```
 */
export function mergeRules(
  base: ValidationRules,
  override: unknown,
  source: string,
): ValidationRules {
  if (!isJsonObject(override)) throw new UsageError(`${source}: rules must be a JSON object`);
  only(
    override,
    ["norms", "quantization", "meta", "projections", "linguistic", "$comment"],
    source,
  );
  const norms = [...base.norms];
  if (override.norms !== undefined) {
    if (!Array.isArray(override.norms)) throw new UsageError(`${source}: norms must be an array`);
    override.norms.forEach((row, i) => {
      const env = parseEnvelope(row, `${source}: norms[${i}]`);
      const at = norms.findIndex((n) => n.family === env.family && n.normClass === env.normClass);
      if (at >= 0) norms[at] = env;
      else norms.push(env);
    });
  }
  const merged = <K extends "quantization" | "meta" | "projections" | "linguistic">(key: K) =>
    overlay(base[key], override[key], `${source}: ${key}`);
  return {
    source,
    norms,
    quantization: merged("quantization"),
    meta: merged("meta"),
    projections: merged("projections"),
    linguistic: merged("linguistic"),
  };
}

/**
 * Reads a `--rules` JSON file and merges it over the built-in rules.
 *
 * @example
 * ```ts
 * const rules = await loadRules("my-rules.json");
 * ```
 */
export async function loadRules(path: string): Promise<ValidationRules> {
  return mergeRules(DEFAULT_RULES, await readJsonFile(path), path);
}
