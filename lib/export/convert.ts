/**
 * Converting a chunk of source values (SafeTensors F32, F16 or BF16) to a
 * GGUF float type through the codec table's float rows, with F16 overflow
 * counted and the f32 view of the written values kept for statistics.
 *
 * @example
 * ```ts
 * import { convertChunk } from "./convert.ts";
 * const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0xbf80]).buffer); // 1, -1
 * const out = convertChunk("BF16", bf16, "F16", "refuse");
 * out.written; // bytes of f16 [1, -1]
 * ```
 * @module
 */

import { bf16ToF16Array, type OverflowMode } from "../codecs/float_bulk.ts";
import { codecByName, type FloatCodec } from "../codecs/table.ts";
import { UnsupportedError } from "../errors.ts";

/** Float types the exporter writes. */
export type FloatOutType = "F32" | "F16" | "BF16";

/** The converted chunk. */
export interface ConvertedChunk {
  /** Bytes to write. */
  written: Uint8Array;
  /** The written values as f32 (for statistics). */
  values: Float32Array;
  /** Values that did not fit in F16 (clamped to ±65504 when clamping, else ±inf). */
  overflow: number;
}

function floatCodec(dtype: string, name: string): FloatCodec {
  const float = codecByName(dtype, name).float;
  if (!float) throw new UnsupportedError(`${name}: cannot convert dtype ${dtype} to floats`);
  return float;
}

/**
 * Source values as a fresh f32 array (exact for BF16, F16, F32).
 *
 * @example
 * ```ts
 * toF32("F16", new Uint8Array([0x00, 0x3c]), "w"); // Float32Array [1]
 * ```
 */
export function toF32(dtype: string, bytes: Uint8Array, name: string): Float32Array {
  const float = floatCodec(dtype, name);
  return float.decodeInto(bytes, new Float32Array(bytes.length / float.bytes));
}

/**
 * f32 values to the output type; F16 overflow counted (and clamped when asked).
 *
 * @example
 * ```ts
 * fromF32(new Float32Array([70000]), "F16", "clamp").overflow; // 1
 * ```
 */
export function fromF32(
  values: Float32Array,
  outType: FloatOutType,
  overflowMode: OverflowMode,
): ConvertedChunk {
  const float = floatCodec(outType, outType);
  const { bytes, overflow } = float.encode(values, overflowMode);
  const shown = outType === "F32"
    ? values
    : float.decodeInto(bytes, new Float32Array(values.length));
  return { written: bytes, values: shown, overflow };
}

/**
 * Converts one chunk of source bytes. BF16 → F16 takes the fast table path;
 * everything else goes through f32.
 *
 * @example
 * ```ts
 * convertChunk("F32", new Uint8Array(new Float32Array([2]).buffer), "BF16", "refuse").written; // [0x00, 0x40]
 * ```
 */
export function convertChunk(
  dtype: string,
  bytes: Uint8Array,
  outType: FloatOutType,
  overflowMode: OverflowMode,
  name = "tensor",
): ConvertedChunk {
  if (dtype === "BF16" && outType === "F16") {
    const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
    const src = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
    const dst = new Uint16Array(src.length);
    const { overflow } = bf16ToF16Array(src, dst, overflowMode);
    const written = new Uint8Array(dst.buffer);
    return {
      written,
      values: floatCodec("F16", name).decodeInto(written, new Float32Array(dst.length)),
      overflow,
    };
  }
  if (dtype === outType) {
    return { written: bytes.slice(), values: toF32(dtype, bytes, name), overflow: 0 };
  }
  return fromF32(toF32(dtype, bytes, name), outType, overflowMode);
}
