/**
 * BitNet b1.58 absmean ternarization and ternary-tensor detection
 * (docs/reference/formats.md, "BitNet b1.58 forward pass"): `s = max(mean|W|, 1e-5)` per tensor,
 * `trit = clamp(round(W / s), -1, 1)` with round half to even.
 *
 * The packers (`i2s.ts`, `ternary_blocks.ts`) take the `Int8Array` of trits
 * (−1, 0, +1) and the scale produced here.
 *
 * @example
 * ```ts
 * import { ternarizeAbsmean, ternaryInfo } from "./ternary.ts";
 * const w = new Float32Array([0.4, -1.2, 0.05, 2.0]);
 * const { trits, scale } = ternarizeAbsmean(w); // trits [1, -1, 0, 1], scale = fround(0.9125)
 * ternaryInfo([0.5, 0, -0.5]).ternary; // true
 * ```
 * @module
 */

import { NotTernaryError } from "../errors.ts";

/**
 * A trit's byte (−1 is 0xff) → its 2-bit code, trit + 1 (0, 1, 2), the code
 * every packed ternary layout stores; 4 marks a byte that is no trit, a bit
 * of its own so that one OR over many codes finds it.
 *
 * @example
 * ```ts
 * [TRIT_CODE[0xff], TRIT_CODE[0], TRIT_CODE[1], TRIT_CODE[2]]; // [0, 1, 2, 4]
 * ```
 */
export const TRIT_CODE: Uint8Array = (() => {
  const t = new Uint8Array(256).fill(4);
  t[0xff] = 0;
  t[0] = 1;
  t[1] = 2;
  return t;
})();

/**
 * Blocks of `block` elements in `n`; a count that is not a whole number of
 * them is a NotTernaryError (`typeName` is the packed type, `name` the tensor).
 *
 * @example
 * ```ts
 * wholeBlocks(512, 256, "TQ2_0", "w"); // 2
 * ```
 */
export function wholeBlocks(n: number, block: number, typeName: string, name: string): number {
  if (!Number.isSafeInteger(n) || n < 0 || n % block !== 0) {
    throw new NotTernaryError(
      `${name}: ${typeName} needs an element count that is a multiple of ${block}, got ${n}`,
    );
  }
  return n / block;
}

/** The floor of the absmean scale, as a float32 (torch clamps a float32 tensor). */
const MIN_SCALE = Math.fround(1e-5);

/**
 * Accumulates mean|W| over chunks, so a tensor can be streamed row by row
 * before it is ternarized with {@link ternarizeAbsmean}.
 *
 * @example
 * ```ts
 * const acc = new AbsmeanAccumulator();
 * acc.add(new Float32Array([1, -2]));
 * acc.add(new Float32Array([3]));
 * acc.scale(); // 2
 * ```
 */
export class AbsmeanAccumulator {
  #sum = 0;
  #count = 0;

  /** Adds the absolute values of one chunk. */
  add(chunk: ArrayLike<number>): void {
    let sum = 0;
    for (let i = 0; i < chunk.length; i++) sum += Math.abs(chunk[i]!);
    this.#sum += sum;
    this.#count += chunk.length;
  }

  /** Number of elements added so far. */
  get count(): number {
    return this.#count;
  }

  /**
   * The absmean scale `max(mean|W|, 1e-5)` as a float32 value.
   *
   * PyTorch computes the mean in float32 (over bf16 values upcast exactly to
   * float32) with its own summation order. We accumulate in float64, which is
   * closer to the exact mean than any float32 ordering, then round once to
   * float32 with `Math.fround`. The two can differ by an ulp or so of the
   * scale; that changes a trit only when `W / s` lies within about an ulp of a
   * rounding boundary (±0.5, ±1.5), which is why the result is a float32 at all:
   * the ratio is then computed on the same float32 operands as torch.
   */
  scale(): number {
    if (this.#count === 0) {
      throw new NotTernaryError("absmean scale of an empty tensor is undefined");
    }
    const mean = Math.fround(this.#sum / this.#count);
    if (!Number.isFinite(mean)) {
      throw new NotTernaryError(
        `absmean scale is not finite (${mean}): the tensor holds inf or NaN`,
      );
    }
    return mean < MIN_SCALE ? MIN_SCALE : mean;
  }
}

/**
 * The per-tensor absmean scale `s = max(mean|W|, 1e-5)`, rounded to float32
 * (see {@link AbsmeanAccumulator.scale} for why float64 accumulation is used).
 * Throws NotTernaryError on an empty tensor or when the mean is not finite.
 *
 * @example
 * ```ts
 * absmeanScale(new Float32Array([1, -2, 3])); // 2
 * absmeanScale(new Float32Array([0, 0])); // Math.fround(1e-5)
 * ```
 */
export function absmeanScale(w: ArrayLike<number>): number {
  const acc = new AbsmeanAccumulator();
  acc.add(w);
  return acc.scale();
}

/**
 * Absmean ternarization: `trit = clamp(roundHalfEven(W / s), -1, 1)`.
 *
 * `W / s` is rounded to float32 (`Math.fround` of the float64 quotient of two
 * float32 values is the correctly rounded float32 quotient, i.e. exactly what
 * torch computes), so ties at exactly ±0.5 go to 0 as `torch.round` does.
 * (For float32 operands the rounding cannot move a quotient across ±0.5, and
 * ±1.5 clamps to ±1 either way; it is kept so the arithmetic is torch's.)
 * The fixture reference (train_tiny_bitnet.py) divides by `s`; HF
 * `AutoBitLinear` and llama.cpp's converter multiply by `fround(1/s)` instead,
 * which can turn an exact ±0.5 tie into ±1 (or back) — only for a quotient
 * within an ulp or so of ±0.5.
 *
 * Pass `scale` when it was computed beforehand (e.g. with
 * {@link AbsmeanAccumulator} over a streamed tensor) to ternarize one row or
 * slab at a time. Throws NotTernaryError on a NaN element (`name` labels the
 * tensor in the message).
 *
 * @example
 * ```ts
 * const { trits, scale } = ternarizeAbsmean(new Float32Array([1, -2, 3, 0.5]));
 * // scale 1.625; ratios 0.615, -1.23, 1.85, 0.308 -> trits [1, -1, 1, 0]
 * ```
 */
export function ternarizeAbsmean(
  w: ArrayLike<number>,
  scale?: number,
  name = "tensor",
): { trits: Int8Array; scale: number } {
  const s = scale ?? absmeanScale(w);
  if (!(s > 0) || !Number.isFinite(s)) {
    throw new NotTernaryError(`${name}: ternarization scale must be finite and > 0, got ${s}`);
  }
  const n = w.length;
  const trits = new Int8Array(n);
  // clamp(roundHalfEven(fround(w / s)), -1, 1) equals comparing w with ±s/2: s/2 is exact, a
  // tie (w = s/2) rounds to 0 on both sides, and for float32 w > s/2 the quotient exceeds 0.5
  // by more than half an ulp of 0.5 (w − s/2 ≥ ulp(s/2) ≥ s·2⁻²⁵ strictly), so fround cannot
  // bring it back to 0.5. ±1.5 needs no care: anything beyond ±0.5 clamps to ±1. The division
  // form is the tests' oracle (tests/codecs/_division.ts), tested equal; this one is ~17× faster.
  const half = s / 2;
  for (let i = 0; i < n; i++) {
    const v = w[i]!;
    if (v !== v) throw new NotTernaryError(`${name}: element ${i} is NaN`);
    trits[i] = v > half ? 1 : v < -half ? -1 : 0;
  }
  return { trits, scale: s };
}

/**
 * Scans a tensor and reports whether it is already ternary (every value
 * exactly equal to −s, 0 or +s for one s > 0; an all-zero tensor is, with
 * scale 0, and scale is 0 when it is not), with sign counts over all values
 * (−0 counts as 0) and the distinct values counted up to 4 (0 and −0 are one).
 * NaN counts as a distinct value that is never ternary.
 *
 * @example
 * ```ts
 * ternaryInfo([0.25, 0, -0.25, 0.25]);
 * // { ternary: true, scale: 0.25, neg: 1, zero: 1, pos: 2, distinct: 3 }
 * ternaryInfo([1, 2]).ternary; // false
 * ```
 */
export function ternaryInfo(values: ArrayLike<number>) {
  const seen: number[] = [];
  let sawNaN = false;
  let neg = 0;
  let zero = 0;
  let pos = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0) neg++;
    else if (v > 0) pos++;
    else if (v === 0) zero++;
    if (seen.length + (sawNaN ? 1 : 0) >= 4) continue;
    if (v !== v) {
      sawNaN = true;
      continue;
    }
    if (!seen.includes(v)) seen.push(v); // SameValueZero: 0 and −0 are one value
  }
  const distinct = Math.min(4, seen.length + (sawNaN ? 1 : 0));
  let ternary = !sawNaN && distinct <= 3;
  let scale = 0;
  if (ternary) {
    for (const v of seen) {
      if (v === 0) continue;
      const mag = Math.abs(v);
      if (!Number.isFinite(mag) || (scale !== 0 && mag !== scale)) {
        ternary = false;
        break;
      }
      scale = mag;
    }
    // Three distinct values must be exactly {-s, 0, s}; {-s, s, t} fails above.
    if (!ternary) scale = 0;
  }
  return { ternary, scale, neg, zero, pos, distinct };
}

/**
 * Trits of a tensor already known to be ternary with scale `scale`
 * (`v === scale` → 1, `v === -scale` → −1, `v === 0` → 0). Any other value
 * throws NotTernaryError naming the element (`name` labels the tensor).
 *
 * @example
 * ```ts
 * tritsFromTernary([0.5, 0, -0.5], 0.5); // Int8Array [1, 0, -1]
 * ```
 */
export function tritsFromTernary(
  values: ArrayLike<number>,
  scale: number,
  name = "tensor",
): Int8Array {
  const n = values.length;
  const trits = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    if (v === 0) continue;
    if (scale !== 0 && v === scale) trits[i] = 1;
    else if (scale !== 0 && v === -scale) trits[i] = -1;
    else {
      throw new NotTernaryError(
        `${name}: element ${i} = ${v} is not one of -${scale}, 0, ${scale}`,
      );
    }
  }
  return trits;
}
