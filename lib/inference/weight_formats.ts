/**
 * The one table of how each stored ggml type becomes a weight the kernels can
 * use. Three kinds of tensor are loaded:
 *
 * - BitNet projections become trits + one scale (`TERNARY_SOURCES`). Float
 *   tensors that are already exactly ternary ({−s, 0, +s}) keep their values;
 *   float master weights are ternarized with absmean (FORMATS.md §4).
 *   Packed ternary types (I2_S, TQ2_0, TQ1_0) are decoded from their codes
 *   to trits and a scale.
 * - Float matrices (embeddings, output layer, Llama projections) are kept as
 *   stored and multiplied by the matching kernel (`FLOAT_MATRIX_TYPES`).
 * - Norm weights become f32 (`FLOAT_DECODERS`).
 *
 * @example
 * ```ts
 * import { GgmlType } from "../gguf/types.ts";
 * import { TERNARY_SOURCES } from "./weight_formats.ts";
 * const payload = new Uint8Array(new Float32Array([0.5, 0, -0.5, 0.5]).buffer);
 * const { trits, scale } = TERNARY_SOURCES[GgmlType.F32]!.decode(payload, 2, 2, "w");
 * // trits [1, 0, -1, 1], scale 0.5
 * ```
 * @module
 */

import { bf16ToF32, f16ToF32 } from "../codecs/float.ts";
import { ternarizeAbsmean, ternaryInfo, tritsFromTernary } from "../codecs/ternary.ts";
import { unpackI2S } from "../codecs/i2s.ts";
import { decodeTQ2_0 } from "../codecs/tq2_0.ts";
import { decodeTQ1_0 } from "../codecs/tq1_0.ts";
import { GGML_TYPES, GgmlType } from "../gguf/types.ts";

/** The float types that float-matrix kernels multiply directly. */
export type FloatType = typeof GgmlType.F32 | typeof GgmlType.F16 | typeof GgmlType.BF16;

/** Float matrices are kept in these stored types (embeddings, output, Llama projections). */
export const FLOAT_MATRIX_TYPES: readonly FloatType[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * True when `type` is one of {@link FLOAT_MATRIX_TYPES}.
 *
 * @example
 * ```ts
 * isFloatType(GgmlType.BF16); // true
 * isFloatType(GgmlType.TQ2_0); // false
 * ```
 */
export function isFloatType(type: number): type is FloatType {
  return (FLOAT_MATRIX_TYPES as readonly number[]).includes(type);
}

let f16Table: Float32Array | undefined;
/** All 65536 half values, built once: a table lookup is far faster than decoding each value. */
function f16Lookup(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let bits = 0; bits < 65536; bits++) f16Table[bits] = f16ToF32(bits);
  }
  return f16Table;
}

/** `bytes` as a typed array of `n` elements, copied only when misaligned. */
function view<T>(
  bytes: Uint8Array,
  n: number,
  size: number,
  make: (buffer: ArrayBufferLike, offset: number, n: number) => T,
): T {
  if (bytes.byteOffset % size === 0) return make(bytes.buffer, bytes.byteOffset, n);
  return make(bytes.slice().buffer, 0, n);
}
const asF32 = (b: ArrayBufferLike, o: number, n: number) => new Float32Array(b, o, n);
const asU16 = (b: ArrayBufferLike, o: number, n: number) => new Uint16Array(b, o, n);
const asU32 = (b: ArrayBufferLike, o: number, n: number) => new Uint32Array(b, o, n);

/** Decodes a float payload to f32 values. */
export type FloatDecoder = (payload: Uint8Array, n: number) => Float32Array;

/** Float payload decoders by ggml type (exact for every type: f16 and bf16 fit in f32). */
export const FLOAT_DECODERS: Readonly<Partial<Record<number, FloatDecoder>>> = {
  [GgmlType.F32]: (payload, n) => view(payload, n, 4, asF32),
  [GgmlType.F16]: (payload, n) => {
    const bits = view(payload, n, 2, asU16), table = f16Lookup();
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = table[bits[i]!]!;
    return out;
  },
  [GgmlType.BF16]: (payload, n) => {
    const bits = view(payload, n, 2, asU16);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = bits[i]! << 16;
    return new Float32Array(out.buffer);
  },
};

/**
 * One element of a float matrix in memory, as f32 (for embedding lookups).
 *
 * @example
 * ```ts
 * floatElementReader(GgmlType.BF16)(new Uint16Array([0x3f80]), 0); // 1
 * ```
 */
export function floatElementReader(
  type: FloatType,
): (bits: Uint16Array | Float32Array, i: number) => number {
  if (type === GgmlType.F32) return (v, i) => v[i]!;
  if (type === GgmlType.F16) return (v, i) => f16ToF32(v[i]!);
  return (v, i) => bf16ToF32(v[i]!);
}

/** Trits (−1, 0, +1) of a `rows × cols` matrix and the one scale they multiply. */
export interface TernaryWeights {
  trits: Int8Array;
  scale: number;
  /**
   * How the trits were obtained: float values that were exactly ternary,
   * float values ternarized with absmean (master weights), or packed codes.
   */
  origin: "ternary" | "absmean" | "packed";
}

/** Turns one stored projection payload into {@link TernaryWeights}. */
export interface TernarySource {
  decode(payload: Uint8Array, rows: number, cols: number, name: string): TernaryWeights;
}

/**
 * Exactly ternary float values keep their trits and scale; anything else is
 * a master weight and is ternarized with absmean, as BitNet's BitLinear does
 * on the fly (FORMATS.md §4).
 *
 * @example
 * ```ts
 * ternaryFromFloats(new Float32Array([0.5, 0, -0.5]), "w"); // trits [1, 0, -1], scale 0.5, origin "ternary"
 * ```
 */
export function ternaryFromFloats(values: Float32Array, name: string): TernaryWeights {
  const info = ternaryInfo(values);
  if (info.ternary) {
    return {
      trits: tritsFromTernary(values, info.scale, name),
      scale: info.scale,
      origin: "ternary",
    };
  }
  const { trits, scale } = ternarizeAbsmean(values, undefined, name);
  return { trits, scale, origin: "absmean" };
}

/** Bit layout of the stored float types: magnitude mask and the first non-finite magnitude. */
const FLOAT_BITS: Readonly<Record<FloatType, { bytes: 2 | 4; mask: number; inf: number }>> = {
  [GgmlType.F32]: { bytes: 4, mask: 0x7fffffff, inf: 0x7f800000 },
  [GgmlType.F16]: { bytes: 2, mask: 0x7fff, inf: 0x7c00 },
  [GgmlType.BF16]: { bytes: 2, mask: 0x7fff, inf: 0x7f80 },
};

/**
 * Trits of an exactly ternary float tensor read straight from its bit
 * patterns, or null when it is not ternary. Every magnitude must be 0 or one
 * finite nonzero pattern S; the sign gives the trit. Because each float type
 * decodes exactly and injectively to f32, this is the same decision as
 * `ternaryInfo` + `tritsFromTernary` on the decoded values (tests check it),
 * about ten times faster, which matters for 2 billion weights.
 *
 * @example
 * ```ts
 * ternaryFromFloatBits(new Uint8Array(new Uint16Array([0x3800, 0, 0xb800]).buffer), 3, GgmlType.F16);
 * // { trits: [1, 0, -1], scale: 0.5 }
 * ```
 */
export function ternaryFromFloatBits(
  payload: Uint8Array,
  n: number,
  type: FloatType,
): { trits: Int8Array; scale: number } | null {
  const { bytes, mask, inf } = FLOAT_BITS[type];
  const trits = new Int8Array(n);
  const s = bytes === 2
    ? ternaryHalfBits(view(payload, n, 2, asU16), mask, inf, trits)
    : ternaryWordBits(view(payload, n, 4, asU32), mask, inf, trits);
  if (s < 0) return null;
  const scale = type === GgmlType.F32
    ? new Float32Array(Uint32Array.of(s).buffer)[0]!
    : type === GgmlType.F16
    ? f16ToF32(s)
    : bf16ToF32(s);
  return { trits, scale };
}

/**
 * 16-bit floats: after the first nonzero magnitude S, a 65536-entry table maps
 * each bit pattern to trit + 1 (0, 1, 2) or 3 for "neither 0 nor ±S", which
 * keeps the loop free of branches. Returns S (0 if all zero) or −1 when the
 * tensor is not ternary; fills `trits`.
 */
function ternaryHalfBits(bits: Uint16Array, mask: number, inf: number, trits: Int8Array): number {
  let first = 0;
  while (first < bits.length && (bits[first]! & mask) === 0) first++;
  if (first === bits.length) return 0;
  const s = bits[first]! & mask, sign = mask + 1;
  if (s >= inf) return -1;
  const code = new Uint8Array(65536).fill(3);
  code[0] = code[sign] = 1;
  code[s] = 2;
  code[s | sign] = 0;
  let bad = 0;
  for (let i = first; i < bits.length; i++) {
    const c = code[bits[i]!]!;
    trits[i] = c - 1;
    bad |= c & (c >> 1);
  }
  return bad ? -1 : s;
}

/** The same for 32-bit floats, with a branch per value (F32 projections are rare). */
function ternaryWordBits(bits: Uint32Array, mask: number, inf: number, trits: Int8Array): number {
  let s = 0;
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!, mag = (b & mask) >>> 0;
    if (mag === 0) continue;
    if (mag !== s) {
      if (s !== 0 || mag >= inf) return -1;
      s = mag;
    }
    trits[i] = mag === b ? 1 : -1;
  }
  return s;
}

function fromFloat(type: FloatType): TernarySource {
  return {
    decode(payload, rows, cols, name) {
      const n = rows * cols;
      const exact = ternaryFromFloatBits(payload, n, type);
      if (exact) return { ...exact, origin: "ternary" };
      const { trits, scale } = ternarizeAbsmean(FLOAT_DECODERS[type]!(payload, n), undefined, name);
      return { trits, scale, origin: "absmean" };
    },
  };
}

/** Decodes a block-quantized ternary payload to trits and one scale per block. */
type BlockDecoder = (
  payload: Uint8Array,
  n: number,
  name: string,
) => { trits: Int8Array; scales: Float32Array };

/**
 * TQ2_0 / TQ1_0 keep one scale per 256-element block (max|x| of the block). A
 * ternary tensor gives every block that holds a nonzero trit the same scale,
 * which the trits then share. Blocks with different scales mean the file was
 * quantized from non-ternary values: its dequantized values are ternarized
 * with absmean instead, the closest one-scale BitLinear.
 */
function fromBlocks(decodeBlocks: BlockDecoder, blockSize: number): TernarySource {
  return {
    decode(payload, rows, cols, name) {
      const n = rows * cols;
      const { trits, scales } = decodeBlocks(payload, n, name);
      let common = 0, shared = true;
      for (let b = 0; b < scales.length && shared; b++) {
        let used = false;
        for (let i = b * blockSize; i < (b + 1) * blockSize && !used; i++) used = trits[i] !== 0;
        if (!used) continue;
        if (common === 0) common = scales[b]!;
        else if (scales[b] !== common) shared = false;
      }
      if (shared) return { trits, scale: common, origin: "packed" };
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = trits[i]! * scales[Math.floor(i / blockSize)]!;
      return ternaryFromFloats(values, name);
    },
  };
}

/**
 * How each stored type becomes BitNet ternary weights: floats (ternary or
 * master weights) and the packed ternary types. A new packed type is one more
 * entry here; the loader and the forward pass need no change.
 */
export const TERNARY_SOURCES: Readonly<Partial<Record<number, TernarySource>>> = {
  [GgmlType.F32]: fromFloat(GgmlType.F32),
  [GgmlType.F16]: fromFloat(GgmlType.F16),
  [GgmlType.BF16]: fromFloat(GgmlType.BF16),
  [GgmlType.I2_S]: {
    decode(payload, rows, cols, name) {
      const { trits, scale } = unpackI2S(payload, rows * cols, name);
      return { trits, scale, origin: "packed" };
    },
  },
  [GgmlType.TQ2_0]: fromBlocks(decodeTQ2_0, GGML_TYPES[GgmlType.TQ2_0].blockSize),
  [GgmlType.TQ1_0]: fromBlocks(decodeTQ1_0, GGML_TYPES[GgmlType.TQ1_0].blockSize),
};

/**
 * Names of the types in a table, for error messages.
 *
 * @example
 * ```ts
 * typeNames([0, 1, 30]); // "F32, F16, BF16"
 * ```
 */
export function typeNames(types: Iterable<number>): string {
  return [...types].map((t) => GGML_TYPES[t as GgmlType]?.name ?? String(t)).join(", ");
}
