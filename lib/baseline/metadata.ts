/**
 * A GGUF's metadata as a flat, comparable summary: every key, scalars as they
 * are, arrays and long strings reduced to their type, length and a short
 * sha256 (so that a changed vocabulary or chat template still shows up as a
 * changed value, without copying 2 MB of tokens into the baseline).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { summarizeMetadata } from "./metadata.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * summarizeMetadata(gguf)["tokenizer.ggml.tokens"]; // "STRING[2048] sha256:1a2b3c4d5e6f7a8b"
 * gguf.close();
 * ```
 * @module
 */

import type { GgufKv, GgufScalar } from "../gguf/reader.ts";
import { GgufValueType } from "../gguf/types.ts";
import { sha256Hex } from "../io/hash.ts";
import type { MetadataValue } from "./types.ts";

/** Strings longer than this are summarized rather than copied. */
export const MAX_STRING_CHARS = 120;

const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(GgufValueType).map(([name, id]) => [id, name]),
);

const shortHash = (text: string) => sha256Hex(new TextEncoder().encode(text)).slice(0, 16);

function scalar(v: GgufScalar): MetadataValue {
  if (typeof v === "bigint") {
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  return v;
}

/**
 * One metadata entry as recorded in a baseline.
 *
 * @example
 * ```ts
 * import { GgufValueType } from "../gguf/types.ts";
 * summarizeKv({ key: "general.name", type: GgufValueType.STRING, value: "tiny" }); // "tiny"
 * ```
 */
export function summarizeKv(kv: GgufKv): MetadataValue {
  if (kv.type === GgufValueType.ARRAY) {
    const values = kv.value as GgufScalar[];
    const text = JSON.stringify(values.map((v) => (typeof v === "bigint" ? v.toString() : v)));
    const type = TYPE_NAMES[kv.arrayType ?? -1] ?? `type${kv.arrayType}`;
    return `${type}[${values.length}] sha256:${shortHash(text)}`;
  }
  const v = scalar(kv.value as GgufScalar);
  if (typeof v === "string" && v.length > MAX_STRING_CHARS) {
    return `string of ${v.length} chars, sha256:${shortHash(v)}`;
  }
  return v;
}

/**
 * Every metadata key of a GGUF, in file order, summarized by {@link summarizeKv}.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const meta = summarizeMetadata(gguf);
 * meta["general.architecture"]; // "bitnet-b1.58"
 * ```
 */
export function summarizeMetadata(
  gguf: { readonly metadata: ReadonlyMap<string, GgufKv> },
): Record<string, MetadataValue> {
  const out: Record<string, MetadataValue> = {};
  for (const kv of gguf.metadata.values()) out[kv.key] = summarizeKv(kv);
  return out;
}
