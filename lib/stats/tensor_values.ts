/**
 * A tensor's values as f32, whatever its stored ggml type, through the codec
 * table (lib/codecs/table.ts): float types are streamed chunk by chunk (never
 * the whole tensor at once); the other types are decoded whole (I2_S keeps its
 * one scale at the end).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readTensorValues, tensorValueChunks } from "./tensor_values.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const norm = await readTensorValues(gguf, gguf.tensor("output_norm.weight"));
 * for await (const chunk of tensorValueChunks(gguf, gguf.tensor("blk.0.ffn_up.weight"))) {
 *   console.log(chunk.length, norm.length);
 * }
 * gguf.close();
 * ```
 * @module
 */

import { codecOf } from "../codecs/table.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";

/**
 * The number of elements of a tensor.
 *
 * @example
 * ```ts
 * elementCount({ ne: [256, 4] }); // 1024
 * ```
 */
export function elementCount(t: { readonly ne: readonly number[] }): number {
  return t.ne.reduce((a, b) => a * b, 1);
}

/**
 * Reads and decodes a whole tensor. Use for small tensors (norms) or when the
 * type needs its whole payload anyway. An unknown type is an UnsupportedError,
 * an undecodable payload a FormatError.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const gamma = await readTensorValues(gguf, gguf.tensor("blk.0.attn_norm.weight"));
 * gguf.close();
 * ```
 */
export async function readTensorValues(gguf: GgufFile, t: GgufTensorInfo): Promise<Float32Array> {
  const where = `${gguf.path}: tensor ${t.name}`;
  const codec = codecOf(t.type, where);
  return codec.decode(await gguf.readTensor(t), elementCount(t), where);
}

/**
 * Streams a tensor's values as f32 chunks. Float types are streamed in
 * chunks of about `chunkBytes`; other types are decoded whole and yielded
 * once. The yielded array may be reused between steps: copy it to keep it.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * let n = 0;
 * for await (const c of tensorValueChunks(gguf, gguf.tensor("token_embd.weight"))) n += c.length;
 * gguf.close();
 * ```
 */
export async function* tensorValueChunks(
  gguf: GgufFile,
  t: GgufTensorInfo,
  chunkBytes = 1 << 22,
): AsyncGenerator<Float32Array> {
  const float = codecOf(t.type, `${gguf.path}: tensor ${t.name}`).float;
  if (!float) {
    yield await readTensorValues(gguf, t);
    return;
  }
  // Chunks hold whole elements so that no value straddles two chunks.
  const chunk = Math.max(float.bytes, chunkBytes - (chunkBytes % float.bytes));
  const out = new Float32Array(Math.min(chunk, t.nbytes) / float.bytes);
  for await (const bytes of gguf.streamTensor(t, chunk)) yield float.decodeInto(bytes, out);
}
