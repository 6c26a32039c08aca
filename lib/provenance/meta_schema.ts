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
 * META_KEYS.top.required.includes("tensors"); // true
 * UNVERIFIABLE.sources; // "the input files, their sizes and sha256 (not part of the GGUF)"
 * ```
 * @module
 */

/** A claim of meta.json that the GGUF cannot confirm, by JSON path (`tensors[3].hf_name`, `tensors[*].action`). */
export interface UnverifiableClaim {
  readonly field: string;
  readonly reason: string;
}

/** Required and optional keys of one object of meta.json. */
export interface KeySet {
  readonly required: readonly string[];
  readonly optional: readonly string[];
}

/** Every object of meta.json whose keys are fixed. */
export const META_KEYS = {
  top: {
    required: [
      "format",
      "tool",
      "precision",
      "norms_format",
      "architecture",
      "file",
      "fingerprint",
      "size",
      "options",
      "sources",
      "config",
      "tokenizer",
      "tensors",
      "warnings",
    ],
    optional: ["created_at"],
  },
  tool: { required: ["name", "version"], optional: [] },
  source: { required: ["path", "size", "sha256"], optional: [] },
  tensor: {
    required: [
      "gguf_name",
      "hf_name",
      "gguf_type",
      "shape",
      "source_dtype",
      "rms",
      "min",
      "max",
      "action",
    ],
    /** One payload digest is required: `xxh64` (written now) or `sha256` (earlier files). */
    optional: ["xxh64", "sha256", "clamped", "ternary_scale"],
  },
  /** The export's options, then the quantizer's. */
  options: {
    required: [],
    optional: [
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
    ],
  },
  /** `options.origin`: where a Hub download came from. */
  origin: { required: [], optional: ["hf_repo", "revision", "commit"] },
  /** `config` as the export writes it (from config.json). */
  exportConfig: {
    required: [
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
    ],
    optional: [],
  },
} as const satisfies Record<string, KeySet>;

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
 * keyProblems({ a: 1, b: 2 }, { required: ["a", "c"], optional: [] }, "m.meta.json", "tool");
 * // ['m.meta.json: tool has an unknown key "b"', 'm.meta.json: tool lacks "c"']
 * ```
 */
export function keyProblems(
  value: Record<string, unknown>,
  keys: KeySet,
  file: string,
  where: string,
): string[] {
  const known = new Set<string>([...keys.required, ...keys.optional]);
  const unknown = Object.keys(value).filter((k) => !known.has(k));
  const missing = keys.required.filter((k) => !Object.hasOwn(value, k));
  return [
    ...unknown.map((k) =>
      `${file}: ${where} has an unknown key ${JSON.stringify(k)} (not written by this tool)`
    ),
    ...missing.map((k) => `${file}: ${where} lacks ${JSON.stringify(k)}`),
  ];
}
