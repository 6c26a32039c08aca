/**
 * The one softmax and the one log-softmax of the TypeScript side, in float64
 * (attention weights, sampling probabilities, log-likelihoods).
 *
 * @example
 * ```ts
 * import { logSoftmax, softmax } from "./softmax.ts";
 * const p = new Float64Array([0, Math.log(3)]);
 * softmax(p); // p = [0.25, 0.75]
 * logSoftmax(new Float32Array([0, 0]), new Float64Array(2)); // [-ln 2, -ln 2]
 * ```
 * @module
 */

/**
 * In place: x[i] ← exp((x[i] − max) / temperature) / Σ, over the first `n`
 * values (−Infinity entries become 0).
 *
 * @example
 * ```ts
 * softmax(new Float64Array([1, 1, -Infinity])); // [0.5, 0.5, 0]
 * ```
 */
export function softmax(x: Float64Array, n = x.length, temperature = 1): void {
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const e = Math.exp((x[i]! - max) / temperature);
    x[i] = e;
    sum += e;
  }
  for (let i = 0; i < n; i++) x[i] = x[i]! / sum;
}

/**
 * log Σ exp(x), computed stably in float64.
 *
 * @example
 * ```ts
 * logSumExp(new Float32Array([0, 0])); // Math.LN2
 * ```
 */
export function logSumExp(x: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > max) max = x[i]!;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i]! - max);
  return max + Math.log(sum);
}

/**
 * out[i] ← x[i] − log Σ exp(x), in float64.
 *
 * @example
 * ```ts
 * logSoftmax(new Float32Array([1, 1]), new Float64Array(2)); // [-ln 2, -ln 2]
 * ```
 */
export function logSoftmax(x: ArrayLike<number>, out: Float64Array): Float64Array {
  const lse = logSumExp(x);
  for (let i = 0; i < x.length; i++) out[i] = x[i]! - lse;
  return out;
}
