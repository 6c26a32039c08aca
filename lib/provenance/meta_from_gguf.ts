/**
 * What meta.json says about a GGUF that the GGUF itself holds: its
 * `{arch}.*` hyperparameters and its tokenizer summary. The quantizer writes
 * these into meta.json and `model-verify` recomputes them, through the same
 * functions.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { configFromGguf, tokenizerFromGguf } from "./meta_from_gguf.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * tokenizerFromGguf(gguf).tokens; // 2048
 * configFromGguf(gguf, "bitnet-b1.58").block_count; // 4
 * gguf.close();
 * ```
 * @module
 */

import type { GgufFile } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";

/** A metadata value as JSON: u64/i64 as numbers when safe (7n → 7), else strings. */
function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/**
 * The `{arch}.*` scalar hyperparameters of the GGUF, keyed without the prefix
 * (meta.json's `config` when no source meta.json describes the input).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * configFromGguf(gguf, "bitnet-b1.58"); // { derived_from: "gguf metadata", architecture: "bitnet-b1.58", context_length: 256, ... }
 * ```
 */
export function configFromGguf(src: GgufFile, arch: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { derived_from: "gguf metadata", architecture: arch };
  if (arch === null) return out;
  for (const [key, kv] of src.metadata) {
    if (key.startsWith(`${arch}.`) && !Array.isArray(kv.value)) {
      out[key.slice(arch.length + 1)] = jsonValue(kv.value);
    }
  }
  return out;
}

/**
 * meta.json's `tokenizer` summary: arrays by their length, absent keys as null.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * tokenizerFromGguf(gguf); // { model: "gpt2", pre: "llama-bpe", tokens: 2048, merges: 1790, ... }
 * ```
 */
export function tokenizerFromGguf(src: GgufFile): Record<string, unknown> {
  const T = Keys.tokenizer;
  const get = (k: string) => {
    const kv = src.kv(k);
    if (!kv) return null;
    return Array.isArray(kv.value) ? kv.value.length : jsonValue(kv.value);
  };
  return {
    model: get(T.model),
    pre: get(T.pre),
    tokens: get(T.tokens),
    merges: get(T.merges),
    bos_token_id: get(T.bosId),
    eos_token_id: get(T.eosId),
    add_bos_token: get(T.addBos),
  };
}
