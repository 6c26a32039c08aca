/**
 * Causal multi-head attention with grouped key/value heads over the KV cache:
 * o = softmax(q·kᵀ / sqrt(head_dim) + causal mask) · v, where query head h
 * reads kv head floor(h / (n_head / n_head_kv)) (docs/reference/formats.md, "BitNet b1.58 forward pass").
 *
 * Its cost is small next to the projections (it grows with the context, they
 * with the model), so it is plain TypeScript over views of kernel memory.
 *
 * @example
 * ```ts
 * import { causalAttention } from "./attention.ts";
 * const shape = { nHead: 1, nHeadKv: 1, headDim: 2 };
 * const q = new Float32Array([1, 0]), out = new Float32Array(2);
 * const keys = new Float32Array([1, 0]), values = new Float32Array([3, 4]);
 * causalAttention(shape, q, keys, values, out, 0, 1, new Float64Array(1)); // out = [3, 4]
 * ```
 * @module
 */

import { softmax } from "./softmax.ts";

/** The head layout. */
export interface AttentionShape {
  readonly nHead: number;
  readonly nHeadKv: number;
  readonly headDim: number;
}

/**
 * For each of the `batch` query rows in `q` (`[batch, nHead·headDim]`, row t at
 * position `pos0 + t`), attends to cache rows 0…pos0+t of `keys` and `values`
 * (`[positions, nHeadKv·headDim]`) and writes `out` (`[batch, nHead·headDim]`).
 * `scores` is scratch of at least pos0 + batch entries. `heads` limits the work
 * to query heads [h0, h1) (threads split a batch by heads; each head is
 * computed the same way whoever computes it).
 *
 * @example
 * ```ts
 * const q = new Float32Array([1, 0]), out = new Float32Array(2);
 * const keys = new Float32Array([1, 0]), values = new Float32Array([3, 4]);
 * causalAttention({ nHead: 1, nHeadKv: 1, headDim: 2 }, q, keys, values, out, 0, 1, new Float64Array(1));
 * ```
 */
export function causalAttention(
  shape: AttentionShape,
  q: Float32Array,
  keys: Float32Array,
  values: Float32Array,
  out: Float32Array,
  pos0: number,
  batch: number,
  scores: Float64Array,
  heads: readonly [number, number] = [0, shape.nHead],
): void {
  const { nHead, nHeadKv, headDim } = shape;
  const [h0, h1] = heads;
  const qDim = nHead * headDim, kvDim = nHeadKv * headDim, group = nHead / nHeadKv;
  const invSqrt = 1 / Math.sqrt(headDim);
  const acc = new Float64Array(headDim);
  const unrolled = headDim - (headDim % 4);
  for (let t = 0; t < batch; t++) {
    const last = pos0 + t;
    for (let h = h0; h < h1; h++) {
      const qh = t * qDim + h * headDim, kvh = Math.floor(h / group) * headDim;
      // scores[j] = q·k_j / sqrt(head_dim); four partial sums keep the loop short.
      for (let j = 0, kj = kvh; j <= last; j++, kj += kvDim) {
        let d0 = 0, d1 = 0, d2 = 0, d3 = 0, d = 0;
        for (; d < unrolled; d += 4) {
          d0 += q[qh + d]! * keys[kj + d]!;
          d1 += q[qh + d + 1]! * keys[kj + d + 1]!;
          d2 += q[qh + d + 2]! * keys[kj + d + 2]!;
          d3 += q[qh + d + 3]! * keys[kj + d + 3]!;
        }
        for (; d < headDim; d++) d0 += q[qh + d]! * keys[kj + d]!;
        scores[j] = (d0 + d1 + d2 + d3) * invSqrt;
      }
      softmax(scores, last + 1);
      // o = Σ_j softmax_j · v_j
      acc.fill(0);
      for (let j = 0, vj = kvh; j <= last; j++, vj += kvDim) {
        const w = scores[j]!;
        let d = 0;
        for (; d < unrolled; d += 4) {
          acc[d] = acc[d]! + w * values[vj + d]!;
          acc[d + 1] = acc[d + 1]! + w * values[vj + d + 1]!;
          acc[d + 2] = acc[d + 2]! + w * values[vj + d + 2]!;
          acc[d + 3] = acc[d + 3]! + w * values[vj + d + 3]!;
        }
        for (; d < headDim; d++) acc[d] = acc[d]! + w * values[vj + d]!;
      }
      out.set(acc, t * qDim + h * headDim);
    }
  }
}

/** Where the operands of one layer's attention lie in kernel memory (byte offsets). */
export interface AttentionOperands {
  /** `[batch, nHead·headDim]` f32 queries. */
  readonly q: number;
  /** The layer's cache rows from position 0, `[positions, nHeadKv·headDim]` f32. */
  readonly keys: number;
  readonly values: number;
  /** `[batch, nHead·headDim]` f32 output. */
  readonly out: number;
  readonly pos0: number;
  readonly batch: number;
}

/**
 * {@link causalAttention} of query heads [h0, h1) over operands in `buffer`.
 *
 * @example
 * ```ts
 * const buffer = new ArrayBuffer(64);
 * new Float32Array(buffer).set([1, 0, 1, 0, 3, 4]); // q, key, value
 * const ops = { q: 0, keys: 8, values: 16, out: 24, pos0: 0, batch: 1 };
 * attendInMemory(buffer, { nHead: 1, nHeadKv: 1, headDim: 2 }, ops, 0, 1, new Float64Array(1));
 * new Float32Array(buffer, 24, 2); // [3, 4]
 * ```
 */
export function attendInMemory(
  buffer: ArrayBufferLike,
  shape: AttentionShape,
  o: AttentionOperands,
  h0: number,
  h1: number,
  scores: Float64Array,
): void {
  const qDim = shape.nHead * shape.headDim, kvDim = shape.nHeadKv * shape.headDim;
  const positions = o.pos0 + o.batch;
  causalAttention(
    shape,
    new Float32Array(buffer, o.q, o.batch * qDim),
    new Float32Array(buffer, o.keys, positions * kvDim),
    new Float32Array(buffer, o.values, positions * kvDim),
    new Float32Array(buffer, o.out, o.batch * qDim),
    o.pos0,
    o.batch,
    scores,
    [h0, h1],
  );
}
