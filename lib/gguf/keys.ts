/**
 * GGUF metadata key names (FORMATS.md §2), as data.
 *
 * @example
 * ```ts
 * import { Keys, archKey } from "./keys.ts";
 * Keys.general.architecture; // "general.architecture"
 * archKey("bitnet-b1.58", "blockCount"); // "bitnet-b1.58.block_count"
 * ```
 * @module
 */

/** Keys outside the per-architecture namespace. */
export const Keys = {
  general: {
    architecture: "general.architecture",
    name: "general.name",
    fileType: "general.file_type",
    alignment: "general.alignment",
    quantizationVersion: "general.quantization_version",
  },
  tokenizer: {
    model: "tokenizer.ggml.model",
    pre: "tokenizer.ggml.pre",
    tokens: "tokenizer.ggml.tokens",
    tokenType: "tokenizer.ggml.token_type",
    scores: "tokenizer.ggml.scores",
    merges: "tokenizer.ggml.merges",
    bosId: "tokenizer.ggml.bos_token_id",
    eosId: "tokenizer.ggml.eos_token_id",
    unkId: "tokenizer.ggml.unknown_token_id",
    paddingId: "tokenizer.ggml.padding_token_id",
    addBos: "tokenizer.ggml.add_bos_token",
    addEos: "tokenizer.ggml.add_eos_token",
    addSpacePrefix: "tokenizer.ggml.add_space_prefix",
    chatTemplate: "tokenizer.chat_template",
  },
} as const;

/** Per-architecture hyperparameter keys, without the `{arch}.` prefix. */
export const ARCH_KEY_SUFFIX = {
  contextLength: "context_length",
  embeddingLength: "embedding_length",
  blockCount: "block_count",
  feedForwardLength: "feed_forward_length",
  headCount: "attention.head_count",
  headCountKv: "attention.head_count_kv",
  rmsEps: "attention.layer_norm_rms_epsilon",
  ropeFreqBase: "rope.freq_base",
  ropeDimensionCount: "rope.dimension_count",
  vocabSize: "vocab_size",
  hiddenActivation: "hidden_activation",
} as const;

/** A per-architecture hyperparameter name. */
export type ArchKeyName = keyof typeof ARCH_KEY_SUFFIX;

/** The full key for an architecture's hyperparameter, e.g. `llama.block_count`. */
export function archKey(arch: string, name: ArchKeyName): string {
  return `${arch}.${ARCH_KEY_SUFFIX[name]}`;
}

/** Token types in `tokenizer.ggml.token_type` (i32). */
export const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
