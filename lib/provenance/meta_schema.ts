/**
 * The shape of meta.json as `model-verify` knows it, as data: every key the
 * export and the quantizer write, whether it is required, and, for what the
 * GGUF cannot confirm, why ("unverifiable without a signature"). A key not
 * listed here is a verification failure: a field nobody checks is a field an
 * attacker can add.
 *
 * @example
 * ```ts
 * import { META_KEYS, UNVERIFIABLE } from "./meta_schema.ts";
 * META_KEYS.top.tensors.optional; // false
 * UNVERIFIABLE.sources; // "the input files, their sizes and sha256 (not part of the GGUF)"
 * ```
 * @module
 */

/** A claim of meta.json that the GGUF cannot confirm, by JSON path (`tensors[3].hf_name`, `tensors[*].action`). */
export interface UnverifiableClaim {
  readonly field: string;
  readonly reason: string;
}

/**
 * One key of an object of meta.json: whether a writer may leave it out, and
 * (as a type only, never set) the type of its value, from which the writers'
 * types ({@link GgufMeta}...) are derived: a key is declared once.
 */
export interface Key<T = unknown, Optional extends boolean = boolean> {
  readonly optional: Optional;
  readonly type?: T;
}

/** The keys of one object of meta.json. */
export type KeyTable = Readonly<Record<string, Key>>;

const required = <T = unknown>(): Key<T, false> => ({ optional: false });
const optional = <T = unknown>(): Key<T, true> => ({ optional: true });

/**
 * The table of keys `required` and `optional` with no declared type (objects
 * the writers build as plain records).
 *
 * @example
 * ```ts
 * keyProblems({ a: 1 }, untyped(["a"], ["b"]), "m.meta.json", "tool"); // []
 * ```
 */
export function untyped(requiredKeys: readonly string[], optionalKeys: readonly string[] = []) {
  return Object.fromEntries([
    ...requiredKeys.map((k) => [k, required()]),
    ...optionalKeys.map((k) => [k, optional()]),
  ]) as KeyTable;
}

/** The object a key table describes, as a writer builds it. */
type Described<S> =
  & { -readonly [K in keyof S as S[K] extends Key<unknown, false> ? K : never]: ValueOf<S[K]> }
  & { -readonly [K in keyof S as S[K] extends Key<unknown, true> ? K : never]?: ValueOf<S[K]> };
type ValueOf<K> = K extends Key<infer T> ? T : never;

const TOOL = { name: required<string>(), version: required<string>() };

/** A source file and its sha256. */
const SOURCE = { path: required<string>(), size: required<number>(), sha256: required<string>() };
/** A source file and its sha256. */
export type MetaSource = Described<typeof SOURCE>;

const TENSOR = {
  gguf_name: required<string>(),
  /** HF name it came from (null for tensors made by the tool). */
  hf_name: required<string | null>(),
  gguf_type: required<string>(),
  /** PyTorch order. */
  shape: required<number[]>(),
  source_dtype: required<string | null>(),
  /** Statistics of the values as written in the GGUF. */
  rms: required<number>(),
  min: required<number>(),
  max: required<number>(),
  /** What happened to it: "copied", "converted", "ternarized", "quantized:I2_S"... and why. */
  action: required<string>(),
  /**
   * One payload digest is required. xxh64 (seed 0, as llama-gguf-hash prints
   * it) of the payload bytes, without alignment padding: the tensor's
   * locator, equal to its manifest line. The fingerprint covers the bytes;
   * this says which tensor changed.
   */
  xxh64: optional<string>(),
  /** sha256 of the payload bytes: what meta.json recorded before xxh64 (read, never written). */
  sha256: optional<string>(),
  /** F16 overflow values clamped (only with --allow-overflow clamp). */
  clamped: optional<number>(),
  /** Ternary scale s, for ternary projections. */
  ternary_scale: optional<number>(),
};
/** One tensor as written. */
export type MetaTensor = Described<typeof TENSOR>;

const TOP = {
  format: required<"gguf_v3">(),
  tool: required<Described<typeof TOOL>>(),
  /** "f16", "f32", "bf16", "i2_s", "tq2_0", "tq1_0". */
  precision: required<string>(),
  norms_format: required<"float_preserved">(),
  architecture: required<string>(),
  file: required<string>(),
  fingerprint: required<string>(),
  size: required<number>(),
  options: required<Record<string, unknown>>(),
  sources: required<MetaSource[]>(),
  config: required<Record<string, unknown>>(),
  tokenizer: required<Record<string, unknown>>(),
  tensors: required<MetaTensor[]>(),
  warnings: required<string[]>(),
  created_at: optional<string>(),
};
/** The whole meta.json. */
export type GgufMeta = Described<typeof TOP>;

/** Every object of meta.json whose keys are fixed. */
export const META_KEYS = {
  top: TOP,
  tool: TOOL,
  source: SOURCE,
  tensor: TENSOR,
  /** The export's options, then the quantizer's. */
  options: untyped([], [
    "outtype",
    "norm_type",
    "arch_name",
    "allow_overflow",
    "tokenizer",
    "origin",
    "type",
    "ggml_type",
    "file_type",
    "quantization_version",
    "runs_in",
    "ternarize",
    "input",
    "input_fingerprint",
    "source_meta",
    "quantized_tensors",
    "copied_tensors",
  ]),
  /** `options.origin`: where a Hub download came from. */
  origin: untyped([], ["hf_repo", "revision", "commit"]),
  /** `config` as the export writes it (from config.json). */
  exportConfig: untyped([
    "architectures",
    "model_type",
    "family",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "tie_word_embeddings",
    "hidden_act",
    "quantization_config",
  ]),
} as const satisfies Record<string, KeyTable>;

/** Why each claim the GGUF cannot confirm is unverifiable (by field path, `[*]` for every row). */
export const UNVERIFIABLE = {
  tool: "which program says it wrote the file",
  options: "the options the writer says it ran with",
  sources: "the input files, their sizes and sha256 (not part of the GGUF)",
  warnings: "what the writer says it warned about",
  created_at: "when the writer says it wrote the file",
  file: "the name the file was written under (it has been renamed since)",
  "config.architectures": "copied from config.json; the GGUF does not hold it",
  "config.model_type": "copied from config.json; the GGUF does not hold it",
  "config.hidden_act": "copied from config.json; the GGUF does not hold it",
  "config.quantization_config": "copied from config.json; the GGUF does not hold it",
  "config.family": "the GGUF's architecture name is not in the architecture table",
  "config.rms_norm_eps": "digits beyond the f32 the GGUF stores",
  "config.rope_theta": "digits beyond the f32 the GGUF stores",
  "tensors[*].hf_name": "the checkpoint tensor each one came from",
  "tensors[*].source_dtype": "the checkpoint dtype each one came from",
  "tensors[*].action": "what the writer says it did to each tensor",
  "tensors[*].clamped": "how many values the writer says it clamped",
  "tensors[*].ternary_scale": "digits beyond the precision of the scale the tensor stores",
  "tensors[*].ternary_scale (all zero)": "an all-zero tensor stores no scale",
  "tensors[*].rms": "compared to 1e-8 relative: the writer's summation order over a tensor " +
    "of more than 2^20 values cannot be reproduced exactly",
  "tensors[*].statistics": "no decoder for the tensor's type: rms, min and max not recomputed",
} as const;

/** A key of {@link UNVERIFIABLE}. */
export type UnverifiableKind = keyof typeof UNVERIFIABLE;

/**
 * A claim at `field` (a concrete path such as `tensors[3].hf_name`) with the
 * reason of its kind.
 *
 * @example
 * ```ts
 * claim("sources"); // { field: "sources", reason: "the input files, ..." }
 * claim("tensors[*].clamped", "tensors[4].clamped");
 * ```
 */
export function claim(kind: UnverifiableKind, field: string = kind): UnverifiableClaim {
  return { field, reason: UNVERIFIABLE[kind] };
}

/**
 * Keys of `value` outside `keys`, and required keys it lacks, as messages
 * naming `where` (a JSON path in `file`).
 *
 * @example
 * ```ts
 * keyProblems({ a: 1, b: 2 }, untyped(["a", "c"]), "m.meta.json", "tool");
 * // ['m.meta.json: tool has an unknown key "b"', 'm.meta.json: tool lacks "c"']
 * ```
 */
export function keyProblems(
  value: Record<string, unknown>,
  keys: KeyTable,
  file: string,
  where: string,
): string[] {
  const unknown = Object.keys(value).filter((k) => !Object.hasOwn(keys, k));
  const missing = Object.keys(keys).filter((k) => !keys[k]!.optional && !Object.hasOwn(value, k));
  return [
    ...unknown.map((k) =>
      `${file}: ${where} has an unknown key ${JSON.stringify(k)} (not written by this tool)`
    ),
    ...missing.map((k) => `${file}: ${where} lacks ${JSON.stringify(k)}`),
  ];
}
