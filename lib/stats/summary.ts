/**
 * Streaming summary statistics of a tensor's values: count, RMS, mean, min,
 * max and non-finite count, accumulated in float64 chunk by chunk so that a
 * tensor never needs to be held whole; and the median, for comparing a value
 * with its peers (e.g. one layer's projection RMS against the other layers').
 *
 * @example
 * ```ts
 * import { StatsAccumulator } from "./summary.ts";
 * const acc = new StatsAccumulator();
 * acc.add(new Float32Array([1, -1, 2]));
 * acc.result(); // { count: 3, rms: 1.414..., mean: 0.666..., min: -1, max: 2, nonFinite: 0 }
 * ```
 * @module
 */

/** Summary of one tensor's values. */
export interface TensorSummary {
  count: number;
  rms: number;
  mean: number;
  min: number;
  max: number;
  /** NaN and ±Infinity values (excluded from the other figures). */
  nonFinite: number;
}

/** Accumulates a {@link TensorSummary} over chunks. */
export class StatsAccumulator {
  #count = 0;
  #sum = 0;
  #sumSq = 0;
  #min = Infinity;
  #max = -Infinity;
  #nonFinite = 0;

  /** Adds a chunk of values. */
  add(values: ArrayLike<number>): void {
    let sum = 0, sumSq = 0, min = this.#min, max = this.#max, bad = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) {
        bad++;
        continue;
      }
      sum += v;
      sumSq += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.#merge(values.length - bad, bad, sum, sumSq, min, max);
  }

  /**
   * Adds a chunk of 16-bit float bit patterns through `table` (the f32 value of
   * every pattern): the same sums, in the same order, as {@link add} over the
   * decoded values, without materializing them.
   */
  addBits16(bits: Uint16Array, table: Float32Array): void {
    let sum = 0, sumSq = 0, min = this.#min, max = this.#max, bad = 0;
    for (let i = 0; i < bits.length; i++) {
      const v = table[bits[i]!]!;
      if (!Number.isFinite(v)) {
        bad++;
        continue;
      }
      sum += v;
      sumSq += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    this.#merge(bits.length - bad, bad, sum, sumSq, min, max);
  }

  // The two loops above stay separate (one reads values, one looks bit patterns up) for speed.
  #merge(count: number, bad: number, sum: number, sumSq: number, min: number, max: number) {
    this.#count += count;
    this.#sum += sum;
    this.#sumSq += sumSq;
    this.#min = min;
    this.#max = max;
    this.#nonFinite += bad;
  }

  /** The summary so far (zeros for an empty tensor). */
  result(): TensorSummary {
    const n = this.#count;
    return {
      count: n,
      rms: n ? Math.sqrt(this.#sumSq / n) : 0,
      mean: n ? this.#sum / n : 0,
      min: n ? this.#min : 0,
      max: n ? this.#max : 0,
      nonFinite: this.#nonFinite,
    };
  }
}

/**
 * Summary of a whole array in one call.
 *
 * @example
 * ```ts
 * summarize(new Float32Array([3, 4])).rms; // 3.5355...
 * ```
 */
export function summarize(values: ArrayLike<number>): TensorSummary {
  const acc = new StatsAccumulator();
  acc.add(values);
  return acc.result();
}

/**
 * The median of the finite numbers in `values` (mean of the middle two for an
 * even count); NaN when there are none.
 *
 * @example
 * ```ts
 * median([4, 1, 3, 2]); // 2.5
 * ```
 */
export function median(values: readonly number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
