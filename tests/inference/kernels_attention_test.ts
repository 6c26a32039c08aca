// Attention through the kernels: the WebAssembly backend splits the query heads over its
// threads; every head must come out bit-identical to causalAttention run over all heads
// at once on the calling thread (attention.ts, checked against PyTorch elsewhere).

import assert from "node:assert/strict";
import { type AttentionShape, causalAttention } from "../../lib/inference/attention.ts";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";

const SHAPE = { nHead: 10, nHeadKv: 2, headDim: 64 };
/** Head size 24 is no multiple of 16: the WebAssembly backend takes its TypeScript path. */
const SMALL = { nHead: 6, nHeadKv: 3, headDim: 24 };

/** Big enough to be split over 2 threads (batch · positions · heads · dim ≫ 2^17). */
const CASES = [{ pos0: 40, batch: 24 }, { pos0: 0, batch: 33 }, { pos0: 300, batch: 1 }];

function randoms(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * 2);
}

/** The random q, keys and values of one case (`seed`, `seed + 1`, `seed + 2`). */
function inputs(shape: AttentionShape, pos0: number, batch: number, seed: number) {
  const qDim = shape.nHead * shape.headDim, kvDim = shape.nHeadKv * shape.headDim;
  const positions = pos0 + batch;
  return {
    q: randoms(batch * qDim, seed),
    keys: randoms(positions * kvDim, seed + 1),
    values: randoms(positions * kvDim, seed + 2),
  };
}

function viaKernels(
  k: Kernels,
  pos0: number,
  batch: number,
  seed: number,
  shape: AttentionShape = SHAPE,
): Float32Array {
  const data = inputs(shape, pos0, batch, seed);
  const qDim = shape.nHead * shape.headDim, kvLength = data.keys.length;
  const q = k.alloc(batch * qDim * 4), out = k.alloc(batch * qDim * 4);
  const keys = k.alloc(kvLength * 4), values = k.alloc(kvLength * 4);
  k.f32(q, batch * qDim).set(data.q);
  k.f32(keys, kvLength).set(data.keys);
  k.f32(values, kvLength).set(data.values);
  k.f32(out, batch * qDim).fill(NaN);
  k.attention(shape, { q, keys, values, out, pos0, batch });
  return k.f32(out, batch * qDim).slice();
}

function direct(
  pos0: number,
  batch: number,
  seed: number,
  shape: AttentionShape = SHAPE,
): Float32Array {
  const { q, keys, values } = inputs(shape, pos0, batch, seed);
  const out = new Float32Array(q.length);
  causalAttention(shape, q, keys, values, out, pos0, batch, new Float64Array(pos0 + batch));
  return out;
}

Deno.test("kernels.attention: reference and wasm (1 and 2 threads) equal causalAttention", async () => {
  const backends: Kernels[] = [createReferenceKernels(16 << 20)];
  for (const threads of [1, 2]) {
    backends.push(await createWasmKernels({ bytes: 16 << 20, threads }));
  }
  try {
    for (const [i, { pos0, batch }] of CASES.entries()) {
      const want = direct(pos0, batch, 100 + i);
      for (const k of backends) {
        const got = viaKernels(k, pos0, batch, 100 + i);
        assert.deepEqual(got, want, `${k.name} x${k.threads}: pos0 ${pos0}, batch ${batch}`);
      }
    }
  } finally {
    for (const k of backends) k.close();
  }
});

Deno.test("kernels.attention: the TypeScript path of the wasm backend (head size 24, or more positions than its scratch holds) equals causalAttention", async () => {
  const backends: Kernels[] = [];
  for (const threads of [1, 2]) {
    backends.push(await createWasmKernels({ bytes: 16 << 20, threads }));
  }
  try {
    const cases: [AttentionShape, number, number][] = [
      [SMALL, 40, 24],
      [SMALL, 300, 1],
      [{ nHead: 2, nHeadKv: 1, headDim: 16 }, 16400, 1], // 16,401 scores: past 128 KiB
    ];
    for (const [i, [shape, pos0, batch]] of cases.entries()) {
      const want = direct(pos0, batch, 200 + i, shape);
      for (const k of backends) {
        const got = viaKernels(k, pos0, batch, 200 + i, shape);
        assert.deepEqual(got, want, `${k.threads}t: head size ${shape.headDim}, pos0 ${pos0}`);
      }
    }
  } finally {
    for (const k of backends) k.close();
  }
});

Deno.test("causalAttention over a range of heads computes exactly those heads", () => {
  const { pos0, batch } = CASES[0]!;
  const whole = direct(pos0, batch, 7);
  const qDim = SHAPE.nHead * SHAPE.headDim;
  const { q, keys, values } = inputs(SHAPE, pos0, batch, 7);
  const out = new Float32Array(q.length).fill(NaN);
  causalAttention(SHAPE, q, keys, values, out, pos0, batch, new Float64Array(pos0 + batch), [3, 7]);
  for (let t = 0; t < batch; t++) {
    for (let h = 0; h < SHAPE.nHead; h++) {
      const at = t * qDim + h * SHAPE.headDim;
      const got = out.subarray(at, at + SHAPE.headDim);
      if (h >= 3 && h < 7) assert.deepEqual(got, whole.subarray(at, at + SHAPE.headDim));
      else assert.ok(got.every(Number.isNaN), `head ${h} of row ${t} was written`);
    }
  }
});
