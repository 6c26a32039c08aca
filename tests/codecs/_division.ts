/**
 * The literal torch formula of absmean ternarization, the oracle that
 * ternarizeAbsmean's comparison form (lib/codecs/ternary.ts) is tested against.
 */

import { NotTernaryError } from "../../lib/errors.ts";
import { roundHalfEven } from "../../lib/codecs/rounding.ts";
import { absmeanScale } from "../../lib/codecs/ternary.ts";

/**
 * The literal torch formula `clamp(roundHalfEven(fround(w / s)), -1, 1)`, the
 * oracle that {@link ternarizeAbsmean}'s comparison form is tested against.
 *
 * @example
 * ```ts
 * ternarizeAbsmeanByDivision(new Float32Array([1, -2, 3, 0.5])).trits; // [1, -1, 1, 0]
 * ```
 */
export function ternarizeAbsmeanByDivision(
  w: ArrayLike<number>,
  scale?: number,
  name = "tensor",
): { trits: Int8Array; scale: number } {
  const s = scale ?? absmeanScale(w);
  if (!(s > 0) || !Number.isFinite(s)) {
    throw new NotTernaryError(`${name}: ternarization scale must be finite and > 0, got ${s}`);
  }
  const trits = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) {
    const r = roundHalfEven(Math.fround(w[i]! / s));
    if (r !== r) throw new NotTernaryError(`${name}: element ${i} is NaN`);
    trits[i] = r > 1 ? 1 : r < -1 ? -1 : r;
  }
  return { trits, scale: s };
}
