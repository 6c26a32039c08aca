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

/** The f32 value of every bit pattern of a 16-bit float type, built once per type. */
const BITS16_TABLES = new Map<string, Float32Array>();

/** The f32 value of each of the 65536 patterns of F16 or BF16, decoded by the codec table. */
function bits16Table(type: "F16" | "BF16"): Float32Array {
  let table = BITS16_TABLES.get(type);
  if (!table) {
    const all = new Uint16Array(65536).map((_, i) => i);
    table = floatCodec(type, type).decodeInto(new Uint8Array(all.buffer), new Float32Array(65536));
    BITS16_TABLES.set(type, table);
  }
  return table;
}

/** A converted chunk in reused memory, with its values given for statistics as 16-bit patterns. */
export interface ConvertedBits16 {
  /** Bytes to write: valid until the next conversion. */
  written: Uint8Array;
  /** The written values as bit patterns, and the f32 value of each pattern. */
  bits16: { bits: Uint16Array; table: Float32Array };
  overflow: number;
}

/**
 * Converts chunks into one reused buffer (no allocation per chunk). 16-bit
 * outputs from 16-bit sources (BF16 → F16, F16 → F16, BF16 → BF16) give their
 * statistics as bit patterns plus a lookup table, so no f32 copy of the values
 * is made; other conversions fall back to {@link convertChunk}.
 *
 * @example
 * ```ts
 * const conv = new ChunkConverter();
 * const bf16 = new Uint8Array(new Uint16Array([0x3f80]).buffer); // 1
 * const out = conv.convert("BF16", bf16, "F16", "refuse");
 * out.written; // bytes of f16 1 (0x3c00)
 * ```
 */
export class ChunkConverter {
  /** [output, aligned copy of an odd-offset source]. */
  #scratch = [new ArrayBuffer(0), new ArrayBuffer(0)];

  /** A reused u16 buffer of `n` elements (grown when needed): the output buffer, or the other. */
  u16(n: number, which: 0 | 1 = 0): Uint16Array {
    if (this.#scratch[which]!.byteLength < n * 2) this.#scratch[which] = new ArrayBuffer(n * 2);
    return new Uint16Array(this.#scratch[which]!, 0, n);
  }

  /** Converts `bytes` (valid until the next call); the result is valid until the next call. */
  convert(
    dtype: string,
    bytes: Uint8Array,
    outType: FloatOutType,
    overflowMode: OverflowMode,
    name = "tensor",
  ): ConvertedChunk | ConvertedBits16 {
    const same16 = dtype === outType && (dtype === "F16" || dtype === "BF16");
    if (!(dtype === "BF16" && outType === "F16") && !same16) {
      return convertChunk(dtype, bytes, outType, overflowMode, name);
    }
    const n = bytes.length / 2;
    let src: Uint16Array;
    if (bytes.byteOffset % 2 === 0) src = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    else {
      src = this.u16(n, 1);
      new Uint8Array(src.buffer, 0, bytes.length).set(bytes);
    }
    const table = bits16Table(outType as "F16" | "BF16");
    if (same16) return { written: bytes, bits16: { bits: src, table }, overflow: 0 };
    // Not in place: the overflow count, when the flag fires, reads the source again.
    const dst = this.u16(n);
    const { overflow } = bf16ToF16Array(src, dst, overflowMode);
    return {
      written: new Uint8Array(dst.buffer, dst.byteOffset, bytes.length),
      bits16: { bits: dst, table },
      overflow,
    };
  }
}

/**
 * Converts one chunk of source bytes through f32 into fresh arrays: the plain
 * path that {@link ChunkConverter} takes for other conversions and is tested against.
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
  if (dtype === outType) {
    return { written: bytes.slice(), values: toF32(dtype, bytes, name), overflow: 0 };
  }
  return fromF32(toF32(dtype, bytes, name), outType, overflowMode);
}
