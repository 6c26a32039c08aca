/**
 * Causal attention for a range of query heads through the kernel module's
 * `attention_scores` and `attention_values` (SIMD f64, the same operations in
 * the same order as `causalAttention` in ../attention.ts, so the same bits),
 * with the softmax between them in TypeScript on the thread's scratch. Used by
 * the WebAssembly backend's attention jobs (control.ts); shapes it does not
 * cover fall back to `attendInMemory`.
 *
 * @example
 * ```ts
 * import { attentionFitsKernels } from "./attention_wasm.ts";
 * attentionFitsKernels({ nHead: 20, nHeadKv: 5, headDim: 128 }, 96, 1 << 17); // true
 * ```
 * @module
 */

import type { AttentionOperands, AttentionShape } from "../attention.ts";
import { softmax } from "../softmax.ts";
import type { KernelExports } from "./wasm_module.ts";

/** attention_scores writes up to 3 scores past the last position (its passes take 4). */
const SCORE_SLACK = 3;

/**
 * Whether the kernels cover this shape: head size a multiple of 16 and the scores of
 * `positions` positions (f64, plus slack) within `scratchBytes`.
 *
 * @example
 * ```ts
 * import { attentionFitsKernels } from "./attention_wasm.ts";
 * attentionFitsKernels({ nHead: 4, nHeadKv: 4, headDim: 24 }, 8, 4096); // false: 24 % 16
 * ```
 */
export function attentionFitsKernels(
  shape: AttentionShape,
  positions: number,
  scratchBytes: number,
): boolean {
  return shape.headDim % 16 === 0 && (positions + SCORE_SLACK) * 8 <= scratchBytes;
}

/**
 * Query heads [h0, h1) of every batch row of `o`, as `attendInMemory` computes them;
 * `scratch` is this thread's own memory (see {@link attentionFitsKernels}).
 *
 * @example
 * ```ts
 * import { attendWithKernels } from "./attention_wasm.ts";
 * // attendWithKernels(exports, memory.buffer, shape, operands, 0, shape.nHead, scratch);
 * ```
 */
export function attendWithKernels(
  kernels: KernelExports,
  buffer: ArrayBufferLike,
  shape: AttentionShape,
  o: AttentionOperands,
  h0: number,
  h1: number,
  scratch: number,
): void {
  const { nHead, nHeadKv, headDim } = shape;
  const qDim = nHead * headDim, kvStride = nHeadKv * headDim * 4, group = nHead / nHeadKv;
  const invSqrt = 1 / Math.sqrt(headDim);
  const scores = new Float64Array(buffer, scratch, o.pos0 + o.batch);
  for (let t = 0; t < o.batch; t++) {
    const n = o.pos0 + t + 1;
    for (let h = h0; h < h1; h++) {
      const head = (t * qDim + h * headDim) * 4, kv = Math.floor(h / group) * headDim * 4;
      kernels.attention_scores(o.q + head, o.keys + kv, kvStride, headDim, n, invSqrt, scratch);
      softmax(scores, n);
      kernels.attention_values(scratch, o.values + kv, kvStride, headDim, n, o.out + head);
    }
  }
}
