/**
 * Signs that float values were quantized: how many distinct values a tensor
 * holds, and whether every block of values sits on a symmetric low-bit grid
 * `k·d` (integer |k| ≤ maxLevel, one step d per block), as a ternary
 * ({−d, 0, +d}), Q4_0-like or other block quantizer leaves them.
 *
 * Genuine trained gammas stored as F16/BF16 hold dozens of distinct values in
 * every block: a block of them lands on such a grid only when it has two or
 * three distinct values, so a whole tensor on the grid is strong evidence of
 * quantization, whatever the value range.
 *
 * @example
 * ```ts
 * import { countDistinct, lowBitGrid } from "./grid.ts";
 * countDistinct([1, 1, -0, 0, 2]); // 2 + 1 = 3
 * lowBitGrid(new Float32Array([0.5, 0, -0.5, 0.5])).onGrid; // true (ternary, level 1)
 * lowBitGrid(new Float32Array([0.97, 1.02, 1.05, 0.99])).onGrid; // false
 * ```
 * @module
 */

/**
 * Distinct values, counted up to `cap` (a larger count is returned as `cap`).
 * 0 and −0 are one value; every NaN counts as one value together.
 *
 * @example
 * ```ts
 * countDistinct(new Float32Array([1, 2, 2, NaN, NaN])); // 3
 * ```
 */
export function countDistinct(values: ArrayLike<number>, cap = 4096): number {
  const seen = new Set<number>();
  for (let i = 0; i < values.length && seen.size < cap; i++) {
    const v = values[i]!;
    seen.add(v === 0 ? 0 : v);
  }
  return Math.min(seen.size, cap);
}

/** Options of {@link lowBitGrid}. */
export interface GridOptions {
  /** Elements per block with its own step (32: Q4_0/Q8_0 blocks; sub-blocks of 256-blocks). */
  readonly blockSize?: number;
  /** Largest |k| accepted: 1 is ternary, 8 covers 4-bit symmetric grids. */
  readonly maxLevel?: number;
  /** Accepted distance of v/d from an integer, in levels: BF16 re-rounding of the values and of the step moves a level-8 value by up to 8 x 2 x 2^-9 = 0.031 (default 0.04). */
  readonly tolerance?: number;
}

/** What {@link lowBitGrid} found. */
export interface GridFinding {
  /** Every block sits on a grid k·d with |k| ≤ maxLevel. */
  readonly onGrid: boolean;
  /** The largest level used by any block when on the grid (1 = ternary), else null. */
  readonly levels: number | null;
  readonly blockSize: number;
  /** The first block that is off the grid, or null. */
  readonly firstOffGridBlock: number | null;
}

/**
 * Tests whether every block of `values` sits on a symmetric low-bit grid.
 * Non-finite values are never on a grid. An all-zero block is on the grid.
 *
 * @example
 * ```ts
 * lowBitGrid(new Float32Array([0.3, 0.6, -0.9, 0]), { maxLevel: 3 }); // onGrid, levels 3
 * ```
 */
export function lowBitGrid(values: ArrayLike<number>, options: GridOptions = {}): GridFinding {
  const blockSize = options.blockSize ?? 32;
  const maxLevel = options.maxLevel ?? 8;
  const tol = options.tolerance ?? 0.04;
  const offGrid = (b: number) => ({ onGrid: false, levels: null, blockSize, firstOffGridBlock: b });
  let levels = 0;
  for (let start = 0, b = 0; start < values.length; start += blockSize, b++) {
    const end = Math.min(values.length, start + blockSize);
    let maxAbs = 0;
    for (let i = start; i < end; i++) {
      const a = Math.abs(values[i]!);
      if (!Number.isFinite(a)) return offGrid(b);
      if (a > maxAbs) maxAbs = a;
    }
    if (maxAbs === 0) continue;
    // The largest magnitude sits on level k for some k ≤ maxLevel, so d = maxAbs / k exactly.
    const onLevel = (k: number, d = maxAbs / k) => {
      for (let i = start; i < end; i++) {
        const r = values[i]! / d;
        if (Math.abs(r - Math.round(r)) > tol) return false;
      }
      return true;
    };
    let found = 1;
    while (found <= maxLevel && !onLevel(found)) found++;
    if (found > maxLevel) return offGrid(b);
    if (found > levels) levels = found;
  }
  return { onGrid: true, levels, blockSize, firstOffGridBlock: null };
}
