/**
 * Whole-array float conversions on raw bit patterns (host order, which is
 * little-endian on every platform Deno runs on), for converting tensors
 * (docs/reference/formats.md, "Number conversions"). The scalar versions in `float.ts` define the results; these
 * are the fast paths: 65536-entry lookup tables, built on first use from the
 * scalar functions, applied two u16 at a time through Uint32 views.
 *
 * Rounding is to nearest, ties to even; NaN stays NaN (quiet); a finite value
 * too large for the target becomes ±inf and is counted as an overflow, or with
 * `"clamp"` becomes the largest finite value of the same sign (and is still
 * counted). The caller decides what a non-zero count means.
 *
 * @example
 * ```ts
 * import { bf16ToF16Array, bf16ToF32Array } from "./float_bulk.ts";
 * const bf16 = new Uint16Array([0x3f80, 0x4780, 0x7fc0]); // 1, 65536, NaN
 * const f16 = new Uint16Array(3);
 * bf16ToF16Array(bf16, f16, "clamp"); // { overflow: 1 }; f16 = [0x3c00, 0x7bff, 0x7e00]
 * const f32 = new Float32Array(3);
 * bf16ToF32Array(bf16, f32); // [1, 65536, NaN]
 * ```
 * @module
 */

import { bf16ToF32, f16ToF32, f32ToF16 } from "./float.ts";

/** What to write for a finite value that does not fit: ±inf ("refuse", counted) or ±max ("clamp"). */
export type OverflowMode = "refuse" | "clamp";

/** Largest finite f16, positive (0x7bff = 65504). */
const F16_MAX_BITS = 0x7bff;
/** f16 +inf. */
const F16_INF_BITS = 0x7c00;

/** bf16 bits whose magnitude (b & 0x7fff) is in [OVF_LO, OVF_LO + OVF_SPAN) overflow f16. */
const BF16_F16_OVF_LO = 0x4780; // 65536; 0x477f = 65280 still fits
const BF16_F16_OVF_SPAN = 0x7f80 - BF16_F16_OVF_LO; // up to, not including, inf

function checkLengths(fn: string, src: { length: number }, dst: { length: number }): void {
  if (dst.length !== src.length) {
    throw new RangeError(`${fn}: dst has ${dst.length} elements, src has ${src.length}`);
  }
}

/** `count` u32 over the bytes of `a` from element `start` (which must sit at a 4-aligned byte offset). */
function u32View(a: Uint16Array | Float32Array, start: number, count: number): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset + start * a.BYTES_PER_ELEMENT, count);
}

let bf16ToF16Refuse: Uint16Array | undefined;
let bf16ToF16Clamp: Uint16Array | undefined;
let f16ToF32Bits: Uint32Array | undefined;

function bf16ToF16Table(mode: OverflowMode): Uint16Array {
  if (mode === "refuse" && bf16ToF16Refuse) return bf16ToF16Refuse;
  if (mode === "clamp" && bf16ToF16Clamp) return bf16ToF16Clamp;
  const table = new Uint16Array(65536);
  for (let b = 0; b < 65536; b++) {
    let h = f32ToF16(bf16ToF32(b));
    if (mode === "clamp" && ((b & 0x7fff) - BF16_F16_OVF_LO) >>> 0 < BF16_F16_OVF_SPAN) {
      h = (b & 0x8000) | F16_MAX_BITS;
    }
    table[b] = h;
  }
  if (mode === "refuse") bf16ToF16Refuse = table;
  else bf16ToF16Clamp = table;
  return table;
}

function f16ToF32Table(): Uint32Array {
  if (f16ToF32Bits) return f16ToF32Bits;
  const table = new Uint32Array(65536);
  const one = new Float32Array(1);
  const oneBits = new Uint32Array(one.buffer);
  for (let h = 0; h < 65536; h++) {
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
      // NaN: keep sign and payload, set the quiet bit (a Float32Array write would canonicalize).
      table[h] = ((h & 0x8000) << 16 | 0x7fc00000 | (h & 0x3ff) << 13) >>> 0;
    } else {
      one[0] = f16ToF32(h);
      table[h] = oneBits[0]!;
    }
  }
  f16ToF32Bits = table;
  return table;
}

/**
 * bfloat16 → f32, exact (a 16-bit shift; NaN payloads kept).
 *
 * @example
 * ```ts
 * const dst = new Float32Array(2);
 * bf16ToF32Array(new Uint16Array([0x3f80, 0xc000]), dst); // dst = [1, -2]
 * ```
 */
export function bf16ToF32Array(src: Uint16Array, dst: Float32Array): void {
  checkLengths("bf16ToF32Array", src, dst);
  const out = u32View(dst, 0, dst.length);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
}

/**
 * bfloat16 → IEEE half, round to nearest even. |x| ≥ 65520 (bf16 ≥ 0x4780 in
 * magnitude) overflows: counted, and written as ±inf (`"refuse"`: the caller
 * must refuse when the count is non-zero) or ±65504 (`"clamp"`).
 *
 * @example
 * ```ts
 * const dst = new Uint16Array(2);
 * bf16ToF16Array(new Uint16Array([0x477f, 0xc780]), dst, "refuse"); // { overflow: 1 }, dst = [0x7bf8, 0xfc00]
 * ```
 */
export function bf16ToF16Array(
  src: Uint16Array,
  dst: Uint16Array,
  overflow: OverflowMode,
): { overflow: number } {
  checkLengths("bf16ToF16Array", src, dst);
  const table = bf16ToF16Table(overflow);
  const n = src.length;
  // The hot loop only ORs a cheap "may overflow" flag: bit 15 of each half of
  // (b & 0x7fff) + 0x3880 is set when b ≥ 0x4780 in magnitude (or inf/NaN).
  // Only when it fires does a second pass count exactly; trained weights
  // almost never get there, and counting in the hot loop costs about a third.
  let flag = 0;
  let i = 0;
  const srcMisaligned = (src.byteOffset & 3) !== 0;
  if (srcMisaligned !== ((dst.byteOffset & 3) !== 0)) {
    for (; i < n; i++) {
      const b = src[i]!;
      flag |= (b & 0x7fff) + 0x3880;
      dst[i] = table[b]!;
    }
  } else {
    if (srcMisaligned && n > 0) {
      const b = src[0]!;
      flag |= (b & 0x7fff) + 0x3880;
      dst[0] = table[b]!;
      i = 1;
    }
    const pairs = (n - i) >>> 1;
    flag |= convertPairs(u32View(src, i, pairs), u32View(dst, i, pairs), table, pairs);
    for (i += pairs * 2; i < n; i++) {
      const b = src[i]!;
      flag |= (b & 0x7fff) + 0x3880;
      dst[i] = table[b]!;
    }
  }
  return { overflow: (flag & 0x80008000) === 0 ? 0 : countBf16ToF16Overflow(src) };
}

/** Two bf16 → f16 per step through u32 views; returns the OR of the overflow flags. */
function convertPairs(
  src: Uint32Array,
  dst: Uint32Array,
  table: Uint16Array,
  pairs: number,
): number {
  let flag = 0;
  for (let j = 0; j < pairs; j++) {
    const w = src[j]!;
    flag |= (w & 0x7fff7fff) + 0x38803880;
    dst[j] = table[w & 0xffff]! | (table[w >>> 16]! << 16);
  }
  return flag;
}

/** How many bf16 values are finite but too large for f16. */
function countBf16ToF16Overflow(src: Uint16Array): number {
  let count = 0;
  for (let i = 0; i < src.length; i++) {
    if ((((src[i]! & 0x7fff) - BF16_F16_OVF_LO) >>> 0) < BF16_F16_OVF_SPAN) count++;
  }
  return count;
}

/**
 * IEEE half → f32, exact (NaN keeps its sign and payload, made quiet).
 *
 * @example
 * ```ts
 * const dst = new Float32Array(2);
 * f16ToF32Array(new Uint16Array([0x3c00, 0x0001]), dst); // dst = [1, 2 ** -24]
 * ```
 */
export function f16ToF32Array(src: Uint16Array, dst: Float32Array): void {
  checkLengths("f16ToF32Array", src, dst);
  const table = f16ToF32Table();
  const out = u32View(dst, 0, dst.length);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = table[src[i]!]!;
}

/**
 * f32 → IEEE half, round to nearest even; NaN stays NaN (quiet). A finite value
 * that rounds past 65504 is counted and written as ±inf (`"refuse"`, the
 * default) or ±65504 (`"clamp"`).
 *
 * @example
 * ```ts
 * const dst = new Uint16Array(3);
 * f32ToF16Array(new Float32Array([1, 65504, 70000]), dst); // { overflow: 1 }, dst = [0x3c00, 0x7bff, 0x7c00]
 * ```
 */
export function f32ToF16Array(
  src: Float32Array,
  dst: Uint16Array,
  overflow: OverflowMode = "refuse",
): { overflow: number } {
  checkLengths("f32ToF16Array", src, dst);
  const bits = u32View(src, 0, src.length);
  const big = overflow === "clamp" ? F16_MAX_BITS : F16_INF_BITS;
  const n = src.length;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    const mant = b & 0x7fffff;
    let h: number;
    if (exp >= 113) {
      if (exp === 0xff) {
        h = mant ? 0x7e00 : F16_INF_BITS;
      } else if (exp >= 143) {
        count++;
        h = big;
      } else {
        // Normal range: a carry out of the mantissa rolls into the exponent, as rounding should.
        h = ((exp - 112) << 10) | (mant >>> 13);
        const rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++;
        if (h >= F16_INF_BITS) {
          count++;
          h = big;
        }
      }
    } else if (exp >= 102) {
      // Result is an f16 subnormal (or rounds up to the smallest normal).
      const m = mant | 0x800000;
      const shift = 126 - exp;
      const half = 1 << (shift - 1);
      const rest = m & ((1 << shift) - 1);
      h = m >>> shift;
      if (rest > half || (rest === half && (h & 1))) h++;
    } else {
      h = 0;
    }
    dst[i] = sign | h;
  }
  return { overflow: count };
}

/**
 * f32 → bfloat16, round to nearest even; NaN stays NaN (quiet). Finite values
 * that round past the bf16 maximum become ±inf and are counted.
 *
 * @example
 * ```ts
 * const dst = new Uint16Array(2);
 * f32ToBf16Array(new Float32Array([1, -2]), dst); // { overflow: 0 }, dst = [0x3f80, 0xc000]
 * ```
 */
export function f32ToBf16Array(src: Float32Array, dst: Uint16Array): { overflow: number } {
  checkLengths("f32ToBf16Array", src, dst);
  const bits = u32View(src, 0, src.length);
  const n = src.length;
  let count = 0;
  for (let i = 0; i < n; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0x7f800000) {
      dst[i] = (b & 0x7fffff) ? (b >>> 16) | 0x40 : b >>> 16;
      continue;
    }
    const r = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
    if ((r & 0x7f80) === 0x7f80) count++;
    dst[i] = r;
  }
  return { overflow: count };
}
