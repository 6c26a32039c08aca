/**
 * Round half to even, as torch.round and bitnet.cpp's nearest_int do
 * (docs/reference/formats.md, "BitNet b1.58 forward pass"). `Math.round` rounds halves up and must not be used for
 * quantization.
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./rounding.ts";
 * roundHalfEven(2.5); // 2
 * roundHalfEven(-0.5); // -0
 * roundHalfEven(1.5); // 2
 * ```
 * @module
 */

/** Rounds to the nearest integer, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round(x) rounds x.5 up; on an exact tie with an odd result step back down.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
