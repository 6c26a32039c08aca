/**
 * GGUF metadata key names (docs/reference/formats.md, "Metadata keys"), as data.
 *
 * @example
 * ```ts
 * import { Keys } from "./keys.ts";
 * Keys.general.architecture; // "general.architecture"
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

/** Token types in `tokenizer.ggml.token_type` (i32). */
export const TokenType = {
  NORMAL: 1,
  UNKNOWN: 2,
  CONTROL: 3,
  USER_DEFINED: 4,
  UNUSED: 5,
  BYTE: 6,
} as const;
