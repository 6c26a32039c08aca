/**
 * Absmean ternarization of 16-bit (BF16 / F16) master weights by table: a
 * 16-bit tensor has at most 65,536 distinct values, so one histogram pass
 * gives the absmean scale and the trit counts, and a second pass maps each
 * source bit pattern straight to the output bits of −s, 0 or +s. Two lookups
 * per element instead of decode, divide, round and encode.
 *
 * The result equals `ternarizeAbsmean` (lib/codecs/ternary.ts) on the decoded
 * values: the same comparison with ±s/2, and the same scale (the float64 sum
 * is taken per distinct value; every term count·|v| is exact, and the sum's
 * rounding error is far below the float32 rounding of the mean).
 *
 * @example
 * ```ts
 * import { Ternary16 } from "./ternary16.ts";
 * import { bf16ToF32 } from "../codecs/float.ts";
 * const t = new Ternary16(bf16ToF32, "w");
 * const src = new Uint16Array([0x3f80, 0xbf80, 0x3c00]); // 1, -1, 0.0078
 * t.count(src);
 * const { scale } = t.finish(() => [0xbc00, 0, 0x3c00]);
 * const out = new Uint16Array(3);
 * t.map(src, out); // [0x3c00, 0xbc00, 0]
 * ```
 * @module
 */

import { NotTernaryError } from "../errors.ts";

/** Decodes one 16-bit pattern to its value. */
export type Decode16 = (bits: number) => number;

/** Histogram, scale and lookup table of one 16-bit tensor. */
export class Ternary16 {
  readonly #decode: Decode16;
  readonly #name: string;
  readonly #hist = new Float64Array(65536);
  /**
   * Two u32 histograms filled alternately (even and odd elements): integer
   * increments on two tables instead of float increments on one, so repeated
   * patterns do not wait on each other. Folded into #hist before a bin could
   * reach 2^32, and at finish.
   */
  readonly #pair = [new Uint32Array(65536), new Uint32Array(65536)] as const;
  #pending = 0;
  #n = 0;
  #lut: Uint16Array | null = null;
  /** Elements counted. */
  get total(): number {
    return this.#n;
  }
  /** Trit counts, known after {@link finish}. */
  nonzero = 0;
  negatives = 0;

  constructor(decode: Decode16, name: string) {
    this.#decode = decode;
    this.#name = name;
  }

  /** Pass 1: counts the bit patterns of a chunk. */
  count(src: Uint16Array): void {
    if (this.#pending + src.length > 0xffffffff) this.#fold();
    const [h0, h1] = this.#pair;
    const n = src.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      h0[src[i]!]!++;
      h1[src[i + 1]!]!++;
    }
    if (i < n) h0[src[i]!]!++;
    this.#pending += n;
    this.#n += n;
  }

  #fold(): void {
    const h = this.#hist, [h0, h1] = this.#pair;
    for (let b = 0; b < 65536; b++) {
      const c = h0[b]! + h1[b]!;
      if (c === 0) continue;
      h[b]! += c;
      h0[b] = 0;
      h1[b] = 0;
    }
    this.#pending = 0;
  }

  /**
   * Computes s = max(mean|W|, 1e-5) rounded to float32, and the table mapping
   * each pattern to `outBits(s)[trit + 1]` (the output type's bits of −s, 0, +s).
   */
  finish(outBits: (scale: number) => readonly [number, number, number]): { scale: number } {
    this.#fold();
    const h = this.#hist, decode = this.#decode;
    if (this.#n === 0) throw new NotTernaryError(`${this.#name}: empty tensor`);
    let sum = 0;
    for (let b = 0; b < 65536; b++) {
      const c = h[b]!;
      if (c === 0) continue;
      const v = decode(b);
      if (Number.isNaN(v)) throw new NotTernaryError(`${this.#name}: holds NaN values`);
      sum += c * Math.abs(v);
    }
    const scale = Math.fround(Math.max(sum / this.#n, 1e-5));
    if (!Number.isFinite(scale)) {
      throw new NotTernaryError(`${this.#name}: ternarization scale is not finite`);
    }
    const half = scale / 2;
    const bits = outBits(scale);
    const lut = new Uint16Array(65536);
    let nonzero = 0, negatives = 0;
    for (let b = 0; b < 65536; b++) {
      const v = decode(b);
      const trit = v > half ? 1 : v < -half ? -1 : 0;
      lut[b] = bits[trit + 1]!;
      const c = h[b]!;
      if (trit !== 0) nonzero += c;
      if (trit < 0) negatives += c;
    }
    this.#lut = lut;
    this.nonzero = nonzero;
    this.negatives = negatives;
    return { scale };
  }

  /** Pass 2: writes the output bits of a chunk. */
  map(src: Uint16Array, out: Uint16Array): void {
    const lut = this.#lut;
    if (!lut) throw new Error("Ternary16.map before finish");
    let i = 0;
    if (src.byteOffset % 4 === 0 && out.byteOffset % 4 === 0) {
      // Two patterns per step through u32 views.
      const pairs = src.length >>> 1;
      const s32 = new Uint32Array(src.buffer, src.byteOffset, pairs);
      const o32 = new Uint32Array(out.buffer, out.byteOffset, pairs);
      for (let j = 0; j < pairs; j++) {
        const w = s32[j]!;
        o32[j] = lut[w & 0xffff]! | (lut[w >>> 16]! << 16);
      }
      i = pairs * 2;
    }
    for (; i < src.length; i++) out[i] = lut[src[i]!]!;
  }
}
