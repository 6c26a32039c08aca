/**
 * A tensor's values as f32, whatever its stored ggml type: float types are
 * streamed chunk by chunk (never the whole tensor at once), Q8_0 is decoded
 * block by block, and the ternary types (I2_S, TQ2_0, TQ1_0) go through their
 * codecs, which need the whole payload (I2_S keeps its one scale at the end).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readTensorValues, tensorValueChunks } from "./tensor_values.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const norm = await readTensorValues(gguf, gguf.tensor("output_norm.weight"));
 * for await (const chunk of tensorValueChunks(gguf, gguf.tensor("blk.0.ffn_up.weight"))) {
 *   console.log(chunk.length);
 * }
 * gguf.close();
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import { f16ToF32 } from "../codecs/float.ts";
import { bf16ToF32Array, f16ToF32Array } from "../codecs/float_bulk.ts";
import { unpackI2S } from "../codecs/i2s.ts";
import { decodeTQ1_0 } from "../codecs/tq1_0.ts";
import { decodeTQ2_0 } from "../codecs/tq2_0.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { GGML_TYPES, GgmlType } from "../gguf/types.ts";

/** Q8_0 block: f16 scale d, then 32 signed bytes; value = d · q (FORMATS.md §1). */
const Q8_0_BLOCK = 32;
const Q8_0_BYTES = 34;

/** The number of elements of a tensor. */
export function elementCount(t: { readonly ne: readonly number[] }): number {
  return t.ne.reduce((a, b) => a * b, 1);
}

/** Whether values of this type can be decoded here. */
export function canDecode(type: number): boolean {
  return type === GgmlType.F32 || type === GgmlType.F16 || type === GgmlType.BF16 ||
    type === GgmlType.Q8_0 || type === GgmlType.I2_S || type === GgmlType.TQ2_0 ||
    type === GgmlType.TQ1_0;
}

/** Aligned copy when a view would be misaligned. */
function aligned(bytes: Uint8Array, size: number): Uint8Array {
  return bytes.byteOffset % size === 0 ? bytes : bytes.slice();
}

/**
 * Decodes a whole payload of `n` elements of `type` to f32. Throws an
 * {@link UnsupportedError} for a type with no decoder here, and a
 * {@link FormatError} (from the codecs) for an undecodable payload.
 *
 * @example
 * ```ts
 * decodeValues(new Uint8Array([0x00, 0x3c]), GgmlType.F16, 1); // Float32Array [1]
 * ```
 */
export function decodeValues(
  bytes: Uint8Array,
  type: number,
  n: number,
  name = "tensor",
): Float32Array {
  switch (type) {
    case GgmlType.F32: {
      if (bytes.length < n * 4) throw short(name, "F32", n * 4, bytes.length);
      return new Float32Array(aligned(bytes, 4).slice(0, n * 4).buffer);
    }
    case GgmlType.F16:
    case GgmlType.BF16: {
      if (bytes.length < n * 2) throw short(name, GGML_TYPES[type].name, n * 2, bytes.length);
      const src = aligned(bytes, 2);
      const bits = new Uint16Array(src.buffer, src.byteOffset, n);
      const out = new Float32Array(n);
      if (type === GgmlType.F16) f16ToF32Array(bits, out);
      else bf16ToF32Array(bits, out);
      return out;
    }
    case GgmlType.Q8_0:
      return decodeQ8_0(bytes, n, name);
    case GgmlType.I2_S: {
      const { trits, scale } = unpackI2S(bytes, n, name);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = trits[i]! * scale;
      return out;
    }
    case GgmlType.TQ2_0:
    case GgmlType.TQ1_0: {
      const { trits, scales } = type === GgmlType.TQ2_0
        ? decodeTQ2_0(bytes, n, name)
        : decodeTQ1_0(bytes, n, name);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = trits[i]! * scales[i >> 8]!;
      return out;
    }
    default:
      throw new UnsupportedError(`${name}: cannot decode values of ggml type ${type}`);
  }
}

function short(name: string, type: string, need: number, got: number): FormatError {
  return new FormatError(`${name}: ${type} data needs ${need} bytes, got ${got}`);
}

function decodeQ8_0(bytes: Uint8Array, n: number, name: string): Float32Array {
  if (n % Q8_0_BLOCK !== 0) {
    throw new FormatError(`${name}: Q8_0 needs a multiple of ${Q8_0_BLOCK} elements, got ${n}`);
  }
  const blocks = n / Q8_0_BLOCK;
  if (bytes.length < blocks * Q8_0_BYTES) {
    throw short(name, "Q8_0", blocks * Q8_0_BYTES, bytes.length);
  }
  const out = new Float32Array(n);
  for (let b = 0; b < blocks; b++) {
    const o = b * Q8_0_BYTES;
    const d = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
    for (let j = 0; j < Q8_0_BLOCK; j++) {
      const q = bytes[o + 2 + j]!;
      out[b * Q8_0_BLOCK + j] = d * (q > 127 ? q - 256 : q);
    }
  }
  return out;
}

/**
 * Reads and decodes a whole tensor. Use for small tensors (norms) or when the
 * type needs its whole payload anyway.
 *
 * @example
 * ```ts
 * const gamma = await readTensorValues(gguf, gguf.tensor("blk.0.attn_norm.weight"));
 * ```
 */
export async function readTensorValues(gguf: GgufFile, t: GgufTensorInfo): Promise<Float32Array> {
  if (!canDecode(t.type)) {
    throw new UnsupportedError(
      `${gguf.path}: tensor ${t.name}: cannot decode values of type ${GGML_TYPES[t.type].name}`,
    );
  }
  const bytes = await gguf.readTensor(t);
  return decodeValues(bytes, t.type, elementCount(t), `${gguf.path}: tensor ${t.name}`);
}

/**
 * Streams a tensor's values as f32 chunks. Float types are streamed in
 * chunks of about `chunkBytes`; other types are decoded whole and yielded
 * once. The yielded array may be reused between steps: copy it to keep it.
 *
 * @example
 * ```ts
 * let n = 0;
 * for await (const c of tensorValueChunks(gguf, t)) n += c.length;
 * ```
 */
export async function* tensorValueChunks(
  gguf: GgufFile,
  t: GgufTensorInfo,
  chunkBytes = 1 << 22,
): AsyncGenerator<Float32Array> {
  const size = t.type === GgmlType.F32
    ? 4
    : t.type === GgmlType.F16 || t.type === GgmlType.BF16
    ? 2
    : 0;
  if (size === 0) {
    yield await readTensorValues(gguf, t);
    return;
  }
  // Chunks hold whole elements so that no value straddles two chunks.
  const chunk = Math.max(size, chunkBytes - (chunkBytes % size));
  let out = new Float32Array(chunk / size);
  for await (const bytes of gguf.streamTensor(t, chunk)) {
    const n = bytes.length / size;
    if (out.length !== n) out = new Float32Array(n);
    const src = aligned(bytes, size);
    if (t.type === GgmlType.F32) out.set(new Float32Array(src.buffer, src.byteOffset, n));
    else {
      const bits = new Uint16Array(src.buffer, src.byteOffset, n);
      if (t.type === GgmlType.F16) f16ToF32Array(bits, out);
      else bf16ToF32Array(bits, out);
    }
    yield out;
  }
}
