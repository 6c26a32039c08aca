/**
 * Order statistics for comparing a value with its peers (e.g. one layer's
 * projection RMS against the other layers').
 *
 * @example
 * ```ts
 * import { median, medianOfOthers } from "./robust.ts";
 * median([3, 1, 2]); // 2
 * medianOfOthers([1, 1, 1, 50], 3); // 1
 * ```
 * @module
 */

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

/**
 * The median of every value but the one at `index`, so that an outlier does
 * not pull its own reference (NaN when there are no others).
 *
 * @example
 * ```ts
 * medianOfOthers([2, 2, 2, 100], 3); // 2
 * ```
 */
export function medianOfOthers(values: readonly number[], index: number): number {
  return median(values.filter((_, i) => i !== index));
}
