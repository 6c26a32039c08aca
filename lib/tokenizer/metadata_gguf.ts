/**
 * {@link TokenizerMetadata} to and from GGUF `tokenizer.ggml.*` keys
 * (docs/reference/tokenizers.md, "GGUF keys"). Which keys a tokenizer model has
 * is data ({@link TOKENIZER_MODELS}); optional keys are written only when known,
 * as gguf-py's `SpecialVocab` does, so a file equals llama.cpp's key for key.
 *
 * @example
 * ```ts
 * import { readTokenizerMetadata, writeTokenizerMetadata } from "./metadata_gguf.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * const g = await openGguf("models/clean/clean-f16.gguf");
 * const meta = readTokenizerMetadata(g);
 * g.close();
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import { Keys } from "../gguf/keys.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { GgufValueType } from "../gguf/types.ts";
import type { GgufWriter } from "../gguf/writer.ts";
import type { TokenizerMetadata } from "./metadata.ts";
import { defaultAddBos } from "./pretokenizer.ts";

/** Per `tokenizer.ggml.model`: which of scores and merges it must have. */
export const TOKENIZER_MODELS: Readonly<Record<string, { scores: boolean; merges: boolean }>> = {
  /** Byte-level BPE (GPT-2, Llama-3, Falcon3). */
  gpt2: { scores: false, merges: true },
  /** SentencePiece (Llama-2): scores decide the merge order, no merges list. */
  llama: { scores: true, merges: false },
};

function modelOf(model: string, where: string): { scores: boolean; merges: boolean } {
  const m = TOKENIZER_MODELS[model];
  if (!m) {
    throw new UnsupportedError(
      `${where}: ${Keys.tokenizer.model} is "${model}"; supported: ${
        Object.keys(TOKENIZER_MODELS).map((k) => `"${k}"`).join(", ")
      }`,
    );
  }
  return m;
}

/**
 * Adds the `tokenizer.ggml.*` keys and `tokenizer.chat_template` to a writer.
 * Null fields are not written; scores only for "llama", merges only for "gpt2".
 *
 * @example
 * ```ts
 * import { GgufWriter } from "../gguf/writer.ts";
 * const w = new GgufWriter();
 * writeTokenizerMetadata(w, {
 *   model: "gpt2", pre: "llama-bpe", tokens: ["a", "b", "ab"], tokenTypes: [1, 1, 1],
 *   scores: null, merges: ["a b"], bosId: null, eosId: null, unkId: null, paddingId: null,
 *   addBos: false, addEos: null, addSpacePrefix: null, chatTemplate: null,
 * });
 * ```
 */
export function writeTokenizerMetadata(w: GgufWriter, meta: TokenizerMetadata): void {
  const spec = modelOf(meta.model, "tokenizer metadata");
  const n = meta.tokens.length;
  if (meta.tokenTypes.length !== n || (spec.scores && meta.scores?.length !== n)) {
    throw new FormatError(
      `tokenizer metadata: ${n} tokens but ${meta.tokenTypes.length} token types and ${
        meta.scores?.length ?? 0
      } scores`,
    );
  }
  const k = Keys.tokenizer;
  w.addString(k.model, meta.model);
  if (meta.pre !== null) w.addString(k.pre, meta.pre);
  w.addStringArray(k.tokens, meta.tokens);
  if (spec.scores) w.addF32Array(k.scores, meta.scores!);
  w.addI32Array(k.tokenType, meta.tokenTypes);
  if (spec.merges) w.addStringArray(k.merges, meta.merges);
  const { bosId, eosId, unkId, paddingId } = meta;
  const ids = { [k.bosId]: bosId, [k.eosId]: eosId, [k.unkId]: unkId, [k.paddingId]: paddingId };
  for (const [key, id] of Object.entries(ids)) if (id !== null) w.addU32(key, id);
  w.addBool(k.addBos, meta.addBos);
  if (meta.addEos !== null) w.addBool(k.addEos, meta.addEos);
  if (meta.addSpacePrefix !== null) w.addBool(k.addSpacePrefix, meta.addSpacePrefix);
  if (meta.chatTemplate !== null) w.addString(k.chatTemplate, meta.chatTemplate);
}

function typedArray(g: GgufFile, key: string, type: GgufValueType, what: string): unknown[] {
  const values = g.getArray(key);
  if (g.kv(key)?.arrayType !== type) {
    throw new FormatError(`${g.path}: metadata key "${key}" is not an array of ${what}`);
  }
  return values;
}

function optionalId(g: GgufFile, key: string, vocabSize: number): number | null {
  if (!g.kv(key)) return null;
  const id = g.getNumber(key);
  if (!Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
    throw new FormatError(`${g.path}: ${key} = ${id} is not a token id below ${vocabSize}`);
  }
  return id;
}

function optionalBool(g: GgufFile, key: string): boolean | null {
  return g.kv(key) ? g.getBool(key) : null;
}

/** `tokenizer.ggml.token_type`: one integer per token. */
function tokenTypesOf(g: GgufFile, n: number): number[] {
  const key = Keys.tokenizer.tokenType;
  const raw = g.getArray(key);
  if (raw.length !== n) {
    throw new FormatError(`${g.path}: ${key} has ${raw.length} entries for ${n} tokens`);
  }
  return raw.map((t, i) => {
    if (typeof t !== "number" || !Number.isInteger(t)) {
      throw new FormatError(`${g.path}: ${key}[${i}] = ${String(t)} is not an integer`);
    }
    return t;
  });
}

/**
 * Reads the tokenizer metadata of a GGUF file. A missing required key (model,
 * tokens, token types, and scores for "llama" or merges for "gpt2") is a
 * {@link FormatError} naming it; another model an {@link UnsupportedError}.
 * Without `add_bos_token`, `addBos` is llama.cpp's default.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const g = await openGguf("models/clean/clean-f16.gguf");
 * const meta = readTokenizerMetadata(g);
 * g.close();
 * ```
 */
export function readTokenizerMetadata(g: GgufFile): TokenizerMetadata {
  const k = Keys.tokenizer;
  const model = g.getString(k.model);
  const spec = modelOf(model, g.path);
  const pre = g.kv(k.pre) ? g.getString(k.pre) : null;
  const tokens = typedArray(g, k.tokens, GgufValueType.STRING, "strings") as string[];
  const scores = spec.scores
    ? typedArray(g, k.scores, GgufValueType.FLOAT32, "f32") as number[]
    : null;
  if (scores !== null && scores.length !== tokens.length) {
    throw new FormatError(
      `${g.path}: ${k.scores} has ${scores.length} entries for ${tokens.length} tokens`,
    );
  }
  return {
    model,
    pre,
    tokens,
    tokenTypes: tokenTypesOf(g, tokens.length),
    scores,
    merges: spec.merges ? typedArray(g, k.merges, GgufValueType.STRING, "strings") as string[] : [],
    bosId: optionalId(g, k.bosId, tokens.length),
    eosId: optionalId(g, k.eosId, tokens.length),
    unkId: optionalId(g, k.unkId, tokens.length),
    paddingId: optionalId(g, k.paddingId, tokens.length),
    addBos: optionalBool(g, k.addBos) ?? defaultAddBos(model, pre),
    addEos: optionalBool(g, k.addEos),
    addSpacePrefix: optionalBool(g, k.addSpacePrefix),
    chatTemplate: g.kv(k.chatTemplate) ? g.getString(k.chatTemplate) : null,
  };
}
