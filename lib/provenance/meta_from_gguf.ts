/**
 * What meta.json says about a GGUF that the GGUF itself holds: its
 * `{arch}.*` hyperparameters, its tokenizer summary, its precision (from
 * `general.file_type`) and its norm format. The quantizer writes these into
 * meta.json and `model-verify` recomputes them, through the same functions.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { configFromGguf, precisionOf, tokenizerFromGguf } from "./meta_from_gguf.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * precisionOf(gguf); // "f16"
 * tokenizerFromGguf(gguf).tokens; // 2048
 * configFromGguf(gguf, "bitnet-b1.58").block_count; // 4
 * gguf.close();
 * ```
 * @module
 */

import { ggufTensorRole } from "../arch/registry.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import { FileType, GgmlType } from "../gguf/types.ts";

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

/** `general.file_type` → meta.json precision: the FileType name without ALL_/MOSTLY_, lower case. */
const PRECISION_OF_FILE_TYPE: ReadonlyMap<number, string> = new Map(
  Object.entries(FileType).map((
    [name, id],
  ) => [id, name.replace(/^(ALL|MOSTLY)_/, "").toLowerCase()]),
);

/**
 * meta.json's `precision` of a GGUF, from `general.file_type` ("f16", "i2_s"...);
 * null when the key is absent or names no file type this project writes.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-i2_s.gguf");
 * precisionOf(gguf); // "i2_s" for a model-quantize-i2s output
 * ```
 */
export function precisionOf(src: GgufFile): string | null {
  const kv = src.kv(Keys.general.fileType);
  if (!kv || typeof kv.value !== "number") return null;
  return PRECISION_OF_FILE_TYPE.get(kv.value) ?? null;
}

const FLOAT_TYPES: readonly number[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * The norm tensors (by the architecture table) that are not stored as
 * F32/F16/BF16: empty when meta.json's `norms_format: "float_preserved"` holds.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * nonFloatNorms(gguf); // [] for every file this project writes
 * ```
 */
export function nonFloatNorms(src: GgufFile): string[] {
  return src.tensors
    .filter((t) => ggufTensorRole(t.name)?.role === "norm" && !FLOAT_TYPES.includes(t.type))
    .map((t) => t.name);
}
