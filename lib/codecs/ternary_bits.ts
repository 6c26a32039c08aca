/**
 * The fast path for ternary F16 / BF16 projections (what the export writes):
 * each 16-bit pattern is classified with a 65536-entry table built for the
 * tensor's scale, with no branch on the data. With trits drawn at random,
 * the branchy per-value comparisons of `ternaryInfo` / `tritsFromTernary`
 * mispredict about every other element; the table does not.
 *
 * The table says exactly what those functions say (and the tests check it on
 * every bit pattern): for finite s, a value equals +s, −s or ±0 exactly when
 * its bits are S, S | 0x8000, 0x0000 or 0x8000 (S = the bits of +s); NaN
 * equals nothing, and no other pattern has one of these values.
 *
 * Codes: 0 = −s, 1 = ±0, 2 = +s, 4 = anything else (trit = code − 1).
 *
 * @example
 * ```ts
 * import { classifyBits16, ternaryCodeTable16 } from "./ternary_bits.ts";
 * const table = ternaryCodeTable16(0x3800); // s = 0.5 in F16
 * const counts = new Float64Array(4);
 * const trits = new Int8Array(3);
 * classifyBits16(new Uint16Array([0x3800, 0x8000, 0xb800]), table, counts, trits);
 * // trits [1, 0, -1], counts [1, 1, 1, 0]
 * ```
 * @module
 */

/** Sign bit of F16 and BF16. */
const SIGN = 0x8000;

/** The code of a value that is not −s, 0 or +s: a bit of its own, so one OR finds it. */
export const INVALID = 4;

/**
 * The code of every 16-bit pattern for scale bits `scaleBits` (the bits of
 * +s, sign clear; 0 for an all-zero tensor, where only ±0 are valid).
 *
 * @example
 * ```ts
 * ternaryCodeTable16(0x3c00)[0xbc00]; // 0 (−1.0 in F16 is −s)
 * ```
 */
export function ternaryCodeTable16(scaleBits: number): Uint8Array {
  if (!Number.isInteger(scaleBits) || scaleBits < 0 || scaleBits >= SIGN) {
    throw new RangeError(`scale bits must be a 15-bit magnitude pattern, got ${scaleBits}`);
  }
  const table = new Uint8Array(65536).fill(INVALID);
  table[0] = 1;
  table[SIGN] = 1;
  if (scaleBits !== 0) {
    table[scaleBits] = 2;
    table[scaleBits | SIGN] = 0;
  }
  return table;
}

/**
 * Classifies `bits` with `table`: adds the number of −s, 0 and +s values to
 * `counts[0..2]` and, when `trits` is given (at least as long as `bits`),
 * writes code − 1 into it. `counts[3]` is incremented when some element is
 * invalid (then the other counts and trits are meaningless).
 *
 * The loop keeps only register sums (of codes, and of nonzero trits), with no
 * branch and no memory counter, so random trits cost no more than constant ones.
 *
 * @example
 * ```ts
 * const counts = new Float64Array(4);
 * classifyBits16(new Uint16Array([0x3c00, 0x4000]), ternaryCodeTable16(0x3c00), counts);
 * counts[3]; // 1: 2.0 is not ±1 or 0
 * ```
 */
export function classifyBits16(
  bits: Uint16Array,
  table: Uint8Array,
  counts: Float64Array,
  trits?: Int8Array,
): void {
  const n = bits.length;
  let any = 0, sum = 0, nonzero = 0;
  if (trits) {
    for (let i = 0; i < n; i++) {
      const c = table[bits[i]!]!;
      any |= c;
      sum += c;
      nonzero += (c & 1) ^ 1;
      trits[i] = c - 1;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const c = table[bits[i]!]!;
      any |= c;
      sum += c;
      nonzero += (c & 1) ^ 1;
    }
  }
  if (any & INVALID) {
    counts[3]! += 1;
    return;
  }
  // Σ trit = sum − n = pos − neg, and nonzero = pos + neg.
  const diff = sum - n;
  counts[0]! += (nonzero - diff) / 2;
  counts[1]! += n - nonzero;
  counts[2]! += (nonzero + diff) / 2;
}

/**
 * The magnitude bits (sign cleared) of the first element that is not ±0, or
 * 0 when every element is ±0.
 *
 * @example
 * ```ts
 * firstMagnitude16(new Uint16Array([0x8000, 0, 0xb800, 0x3c00])); // 0x3800
 * ```
 */
export function firstMagnitude16(bits: Uint16Array): number {
  for (let i = 0; i < bits.length; i++) {
    const m = bits[i]! & 0x7fff;
    if (m !== 0) return m;
  }
  return 0;
}

/**
 * Index of the first element whose code is {@link INVALID} (not −s, 0 or +s), or −1.
 *
 * @example
 * ```ts
 * firstInvalid16(new Uint16Array([0, 0x4000]), ternaryCodeTable16(0x3c00)); // 1
 * ```
 */
export function firstInvalid16(bits: Uint16Array, table: Uint8Array): number {
  for (let i = 0; i < bits.length; i++) if (table[bits[i]!] === INVALID) return i;
  return -1;
}
