/**
 * Converting a chunk of source values (SafeTensors dtype) to a GGUF float type,
 * with overflow accounting and the f32 view of the written values for
 * statistics.
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

import {
  bf16ToF16Array,
  bf16ToF32Array,
  f16ToF32Array,
  f32ToBf16Array,
  f32ToF16Array,
} from "../codecs/float_bulk.ts";
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

/** Aligned copy: typed-array views need their byte offset aligned to the element size. */
function aligned(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
}

/** Source values as f32 (exact for BF16, F16, F32). */
export function toF32(dtype: string, bytes: Uint8Array, name: string): Float32Array {
  const b = aligned(bytes);
  switch (dtype) {
    case "F32":
      return new Float32Array(b.buffer, b.byteOffset, b.length / 4).slice();
    case "BF16": {
      const out = new Float32Array(b.length / 2);
      bf16ToF32Array(new Uint16Array(b.buffer, b.byteOffset, b.length / 2), out);
      return out;
    }
    case "F16": {
      const out = new Float32Array(b.length / 2);
      f16ToF32Array(new Uint16Array(b.buffer, b.byteOffset, b.length / 2), out);
      return out;
    }
    default:
      throw new UnsupportedError(`${name}: cannot convert dtype ${dtype} to floats`);
  }
}

/** f32 values to the output type; F16 overflow counted (and clamped when asked). */
export function fromF32(
  values: Float32Array,
  outType: FloatOutType,
  overflowMode: "refuse" | "clamp",
): ConvertedChunk {
  if (outType === "F32") {
    return {
      written: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
      values,
      overflow: 0,
    };
  }
  const bits = new Uint16Array(values.length);
  if (outType === "BF16") {
    f32ToBf16Array(values, bits);
    const shown = new Float32Array(values.length);
    bf16ToF32Array(bits, shown);
    return { written: new Uint8Array(bits.buffer), values: shown, overflow: 0 };
  }
  const { overflow } = f32ToF16Array(values, bits, overflowMode);
  const shown = new Float32Array(values.length);
  f16ToF32Array(bits, shown);
  return { written: new Uint8Array(bits.buffer), values: shown, overflow };
}

/**
 * Converts one chunk of source bytes. BF16 → F16 takes the fast table path;
 * everything else goes through f32.
 */
export function convertChunk(
  dtype: string,
  bytes: Uint8Array,
  outType: FloatOutType,
  overflowMode: "refuse" | "clamp",
  name = "tensor",
): ConvertedChunk {
  if (dtype === "BF16" && outType === "F16") {
    const b = aligned(bytes);
    const src = new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
    const dst = new Uint16Array(src.length);
    const { overflow } = bf16ToF16Array(src, dst, overflowMode);
    const values = new Float32Array(src.length);
    f16ToF32Array(dst, values);
    return { written: new Uint8Array(dst.buffer), values, overflow };
  }
  if (dtype === outType) {
    const values = toF32(dtype, bytes, name);
    return { written: bytes.slice(), values, overflow: 0 };
  }
  return fromF32(toF32(dtype, bytes, name), outType, overflowMode);
}
