/**
 * Llama q/k row permutation (docs/reference/formats.md, "Tensor names", llama.cpp conversion): HF's
 * rotate_half RoPE pairs dim i with i + head_dim/2, llama.cpp's llama arch
 * pairs 2i with 2i+1, so rows are reordered as
 * `reshape(n_head, 2, rows/n_head/2, cols) → swap axes 1,2 → reshape(rows, cols)`.
 *
 * @example
 * ```ts
 * import { permuteQKRows } from "./permute.ts";
 * // one head of 4 rows, 1 column: rows [a0, a1, b0, b1] -> [a0, b0, a1, b1]
 * permuteQKRows(new Float32Array([0, 1, 2, 3]), 4, 1, 1); // [0, 2, 1, 3]
 * ```
 * @module
 */

import { ModelShapeError } from "../errors.ts";

/** Returns the permuted copy of a row-major `[rows, cols]` matrix. */
export function permuteQKRows<T extends Float32Array | Uint16Array | Int8Array>(
  w: T,
  rows: number,
  cols: number,
  nHead: number,
  name = "tensor",
): T {
  const headDim = rows / nHead;
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ModelShapeError(
      `${name}: ${rows} rows cannot be split into ${nHead} heads of even size`,
    );
  }
  const half = headDim / 2;
  const out = new (w.constructor as new (n: number) => T)(w.length);
  for (let h = 0; h < nHead; h++) {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < half; b++) {
        const from = h * headDim + a * half + b;
        const to = h * headDim + b * 2 + a;
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}
