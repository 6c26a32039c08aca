/**
 * Streaming ternary statistics: whether a tensor's values are exactly
 * {−s, 0, +s} for one s > 0, and how its values split between −1, 0 and +1,
 * accumulated chunk by chunk (floats) or from decoded trits (I2_S, TQ2_0,
 * TQ1_0).
 *
 * @example
 * ```ts
 * import { TernaryAccumulator } from "./ternary_stats.ts";
 * const acc = new TernaryAccumulator();
 * acc.addValues(new Float32Array([0.5, 0, -0.5]));
 * acc.addValues(new Float32Array([0.5, 0.5]));
 * acc.result(); // { ternary: true, scale: 0.5, neg: 1, zero: 1, pos: 3, count: 5, ... }
 * ```
 * @module
 */

import { ternaryInfo } from "../codecs/ternary.ts";

/** What {@link TernaryAccumulator} found. */
export interface TernaryStats {
  /** Every value is −s, 0 or +s for one s > 0 (every block scale equal, for block types). */
  readonly ternary: boolean;
  /** s of a ternary tensor (largest block scale for block types); 0 when not ternary or all zero. */
  readonly scale: number;
  /** Distinct non-zero block scales seen (1 for single-scale tensors). */
  readonly distinctScales: number;
  readonly neg: number;
  readonly zero: number;
  readonly pos: number;
  readonly count: number;
}

/** Accumulates {@link TernaryStats} over chunks of values or of trits. */
export class TernaryAccumulator {
  #ternary = true;
  #scales = new Set<number>();
  #neg = 0;
  #zero = 0;
  #pos = 0;
  #count = 0;

  /** Adds float values (ternary only if they are exactly −s, 0, +s). */
  addValues(values: ArrayLike<number>): void {
    const info = ternaryInfo(values);
    this.#neg += info.neg;
    this.#zero += info.zero;
    this.#pos += info.pos;
    this.#count += values.length;
    if (!info.ternary) this.#ternary = false;
    else if (info.scale !== 0) this.#scales.add(info.scale);
  }

  /** Adds trits (−1, 0, +1) that share one scale. */
  addTrits(trits: Int8Array, scale: number, start = 0, end = trits.length): void {
    let neg = 0, zero = 0, pos = 0;
    for (let i = start; i < end; i++) {
      const t = trits[i]!;
      if (t < 0) neg++;
      else if (t > 0) pos++;
      else zero++;
    }
    this.#neg += neg;
    this.#zero += zero;
    this.#pos += pos;
    this.#count += end - start;
    if (!(Number.isFinite(scale) && scale >= 0)) this.#ternary = false;
    else if (neg + pos > 0 && scale !== 0) this.#scales.add(scale);
  }

  /** The statistics so far. */
  result(): TernaryStats {
    const scales = [...this.#scales];
    const ternary = this.#ternary && scales.length <= 1;
    return {
      ternary,
      scale: scales.length ? Math.max(...scales) : 0,
      distinctScales: scales.length,
      neg: this.#neg,
      zero: this.#zero,
      pos: this.#pos,
      count: this.#count,
    };
  }
}
