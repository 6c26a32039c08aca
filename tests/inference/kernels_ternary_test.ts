// The ternary products of the WebAssembly backend against the plain TypeScript
// reference (its one-byte-per-trit loop is the oracle): several products in one
// job (matmulTernaryParts) and batches of every size the batched kernel splits
// into pairs of tokens, on shapes whose rows are no multiple of 4 or of the
// thread split, below and from TERNARY_DECODE_MIN_BATCH on (where the relaxed
// kernel decodes each row group once for the batch). Both SIMD variants, 1 and 2
// threads.

import assert from "node:assert/strict";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import { TERNARY_DECODE_MIN_BATCH } from "../../lib/inference/kernels/control.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { relaxedSimdSupported } from "../../lib/inference/kernels/wasm_module.ts";
import {
  extremeTernaryCases,
  loadTernaryCase as loadCase,
  runTernaryParts as runParts,
  type TernaryCase as Case,
} from "./_ternary_cases.ts";

const VARIANTS = relaxedSimdSupported() ? ["relaxed", "portable"] as const : ["portable"] as const;
const MB = 1 << 20;

const CASES: Case[] = [
  { rows: [37], cols: 256, batch: 1 },
  { rows: [130, 5, 5], cols: 512, batch: 1 },
  { rows: [1031, 258], cols: 512, batch: 1 },
  { rows: [37, 6], cols: 1088, batch: 3 },
  { rows: [64, 16, 16], cols: 256, batch: 4 },
  { rows: [203, 1], cols: 768, batch: 5 },
  { rows: [9, 7, 3], cols: 2112, batch: 33 },
  { rows: [130], cols: 2560, batch: 8 },
  { rows: [11, 4], cols: 64, batch: 6 },
  // The decoded path: an even and an odd batch at its threshold, rows no multiple of 4,
  // columns no multiple of 1024, and one product the width of a whole decode block.
  { rows: [13, 6], cols: 1088, batch: TERNARY_DECODE_MIN_BATCH },
  { rows: [13, 6, 64], cols: 1088, batch: TERNARY_DECODE_MIN_BATCH + 1 },
  { rows: [5], cols: 64, batch: TERNARY_DECODE_MIN_BATCH + 3 },
];

/** The same products one matmulTernary call each. */
function runOneByOne(k: Kernels, c: Case): Float32Array[] {
  const { cols, batch } = c;
  const { pq, pt, ps, weights } = loadCase(k, c);
  return weights.map(({ w, wScale, rows }) => {
    const y = k.alloc(batch * rows * 4);
    k.matmulTernary(w, wScale, pq, pt, ps, y, rows, cols, batch);
    return k.f32(y, batch * rows).slice();
  });
}

Deno.test("reference matmulTernaryParts equals one matmulTernary per product", () => {
  for (const c of CASES.slice(0, 4)) {
    const ref = createReferenceKernels(64 * MB);
    const a = runParts(ref, c);
    const b = runOneByOne(createReferenceKernels(64 * MB), c);
    assert.deepEqual(a, b, JSON.stringify(c));
  }
});

for (const simd of VARIANTS) {
  for (const threads of [1, 2]) {
    Deno.test(`wasm ${simd}, ${threads} thread(s): ternary products bit-identical to the reference`, async () => {
      const k = await createWasmKernels({ bytes: 64 * MB, threads, simd });
      try {
        for (const c of CASES) {
          const want = runParts(createReferenceKernels(64 * MB), c);
          const got = runParts(k, c);
          const shape = `rows ${c.rows} x cols ${c.cols}, batch ${c.batch}`;
          for (let i = 0; i < want.length; i++) {
            assert.ok(got[i]!.every(Number.isFinite), `${shape}: product ${i} not all written`);
            assert.deepEqual(got[i], want[i], `${shape}: product ${i}`);
          }
          // One call per product gives the same bits as one job for all.
          assert.deepEqual(runOneByOne(k, c), got, `${shape}: one by one`);
        }
      } finally {
        k.close();
      }
    });
  }
}

Deno.test("wasm matmulTernaryParts: bad arguments throw RangeError", async () => {
  const k = await createWasmKernels({ bytes: 4 * MB, threads: 1 });
  try {
    const p = k.alloc(65536);
    const part = { w: p, wScale: 1, y: p, rows: 4 };
    assert.throws(() => k.matmulTernaryParts([], p, p, p, 64, 1), RangeError);
    assert.throws(() => k.matmulTernaryParts([part, part, part, part], p, p, p, 64, 1), RangeError);
    assert.throws(() => k.matmulTernaryParts([part], p, p, p, 96, 1), RangeError);
    assert.throws(() => k.matmulTernaryParts([{ ...part, y: 8 }], p, p, p, 64, 1), RangeError);
  } finally {
    k.close();
  }
});

for (const simd of VARIANTS) {
  Deno.test(`wasm ${simd}: ternary products at the int8 and code extremes equal a float64 sum`, async () => {
    const k = await createWasmKernels({ bytes: 16 * MB, threads: 1, simd });
    try {
      // 3: pairs and a single row on the packed codes; from TERNARY_DECODE_MIN_BATCH on, pairs on
      // the decoded codes (relaxed) and an odd last row.
      const batches = [1, 3, TERNARY_DECODE_MIN_BATCH + 1];
      for (const c of extremeTernaryCases(k, [1024, 1088, 2112, 4160], batches)) {
        assert.deepEqual(c.got, c.want, c.label);
      }
    } finally {
      k.close();
    }
  });
}
