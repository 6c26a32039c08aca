/**
 * RoPE pairings and causal GQA attention against values worked out by hand.
 */

import assert from "node:assert/strict";
import { RopeTable } from "../../lib/inference/rope.ts";
import { causalAttention } from "../../lib/inference/attention.ts";

const close = (a: ArrayLike<number>, b: number[], eps = 1e-6) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < b.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) < eps, `[${i}] ${a[i]} vs ${b[i]}`);
  }
};

Deno.test("RoPE neox pairs dim i with i + d/2; normal pairs 2i with 2i+1", () => {
  // d = 4, base 100: pair 0 turns by pos·1, pair 1 by pos·100^(-1/2) = pos/10.
  const c1 = Math.cos(2), s1 = Math.sin(2), c2 = Math.cos(0.2), s2 = Math.sin(0.2);
  const neox = new RopeTable({ dim: 4, base: 100, maxPositions: 4, mode: "neox" });
  const v = new Float32Array([1, 2, 3, 4]);
  neox.rotate(v, 0, 1, 4, 2);
  // pairs (0, 2) angle 2 and (1, 3) angle 0.2
  close(v, [1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 1 * s1 + 3 * c1, 2 * s2 + 4 * c2]);

  const normal = new RopeTable({ dim: 4, base: 100, maxPositions: 4, mode: "normal" });
  const u = new Float32Array([1, 2, 3, 4]);
  normal.rotate(u, 0, 1, 4, 2);
  // pairs (0, 1) angle 2 and (2, 3) angle 0.2
  close(u, [1 * c1 - 2 * s1, 1 * s1 + 2 * c1, 3 * c2 - 4 * s2, 3 * s2 + 4 * c2]);
});

Deno.test("RoPE: position 0 is the identity, dims past ropeDim are untouched, heads are independent", () => {
  const rope = new RopeTable({ dim: 2, base: 10000, maxPositions: 8, mode: "neox" });
  const v = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  rope.rotate(v, 0, 2, 4, 0);
  close(v, [1, 2, 3, 4, 5, 6, 7, 8]);
  rope.rotate(v, 0, 2, 4, 1); // dim 2 of 4: only dims 0 and 1 of each head turn, by 1 rad
  const c = Math.cos(1), s = Math.sin(1);
  close(v, [c - 2 * s, s + 2 * c, 3, 4, 5 * c - 6 * s, 5 * s + 6 * c, 7, 8], 1e-5);
  assert.throws(() => rope.rotate(v, 0, 1, 4, 8), RangeError);
});

Deno.test("attention: causal mask, softmax weights and grouped kv heads", () => {
  // 2 query heads share 1 kv head; head_dim 2; two positions.
  const shape = { nHead: 2, nHeadKv: 1, headDim: 2 };
  const keys = new Float32Array([1, 0, 0, 1]); // k0 = [1, 0], k1 = [0, 1]
  const values = new Float32Array([10, 0, 0, 20]); // v0, v1
  const q = new Float32Array([2, 0, 0, 0, 0, 2, 2, 0]); // pos0: h0 [2,0] h1 [0,0]; pos1: h0 [0,2] h1 [2,0]
  const out = new Float32Array(8);
  causalAttention(shape, q, keys, values, out, 0, 2, new Float64Array(2));
  // Position 0 sees only v0, whatever q is.
  close(out.subarray(0, 4), [10, 0, 10, 0]);
  // Position 1, head 0: scores [0, 2/√2]; head 1: scores [2/√2, 0].
  const e = Math.exp(Math.SQRT2), w1 = e / (1 + e), w0 = 1 / (1 + e);
  close(out.subarray(4, 8), [10 * w0, 20 * w1, 10 * w1, 20 * w0], 1e-5);
});
