// The exact 8-bit output head against the full F16 head: rows engineered to lie
// within the int8 error bound of the best must be recomputed, so the top-k ids
// and logits equal those of the F16 kernel bit for bit; on both backends, both
// SIMD variants, 1 and 2 threads; and greedy generation on the fixture export.

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Kernels } from "../../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { relaxedSimdSupported } from "../../lib/inference/kernels/wasm_module.ts";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import {
  exactTopLogits,
  Int8HeadBuilder,
  int8HeadCopyBytes,
  int8HeadOffset,
} from "../../lib/inference/int8_head.ts";
import { InferenceEngine, keptWeightBytes, topK } from "../../lib/inference/engine.ts";
import { planTensors, weightBytes } from "../../lib/inference/weights.ts";
import { wasmTernaryBytes } from "../../lib/inference/kernels/wasm.ts";
import { readHparams } from "../../lib/arch/hparams.ts";
import { GgmlType } from "../../lib/codecs/table.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";

const ROWS = 3000, COLS = 256, BEST = 1234;

const COPIES = 200;
/** Row `n` of the near copies of row BEST. */
const copyRow = (n: number) => (BEST + 1 + n * 11) % ROWS;

/**
 * F16 rows: random, plus COPIES copies of row BEST, each with 3 elements moved
 * by one f16 ulp. Row BEST has the int8 scale 2⁻¹¹ (its maximum is 127·2⁻¹¹) and
 * every other element sits exactly on an int8 rounding midpoint ((j + ½)·2⁻¹¹),
 * so a one-ulp move can change the int8 code by one step: the int8 scores of
 * the copies then differ from the best by up to 30× their true (one-ulp)
 * differences, and in either direction. Row 7 is an exact copy (a tie).
 */
function engineeredRows(rand: () => number): Uint16Array {
  const bits = new Uint16Array(ROWS * COLS);
  for (let i = 0; i < bits.length; i++) bits[i] = f32ToF16((rand() * 2 - 1) * 0.05);
  const base = bits.subarray(BEST * COLS, (BEST + 1) * COLS);
  base[0] = f32ToF16(127 * 2 ** -11);
  for (let c = 1; c < COLS; c++) {
    base[c] = f32ToF16((Math.floor(rand() * 200) - 100 + 0.5) * 2 ** -11);
  }
  for (let n = 0; n < COPIES; n++) {
    const row = bits.subarray(copyRow(n) * COLS, (copyRow(n) + 1) * COLS);
    row.set(base);
    for (let m = 0; m < 3; m++) {
      const c = 1 + Math.floor(rand() * (COLS - 1));
      row[c] = row[c]! + (rand() < 0.5 ? -1 : 1); // |value| ≥ 2⁻¹²: never crosses zero
    }
  }
  bits.copyWithin(7 * COLS, BEST * COLS, (BEST + 1) * COLS);
  return bits;
}

/** An activation aligned with row BEST, so that it and its near copies are the best. */
function activation(bits: Uint16Array, rand: () => number): Float32Array {
  const x = new Float32Array(COLS);
  for (let c = 0; c < COLS; c++) {
    x[c] = 20 * f16ToF32(bits[BEST * COLS + c]!) + (rand() * 2 - 1) * 0.3;
  }
  return x;
}

function checkAgainstFullHead(k: Kernels, label: string): void {
  const rand = mulberry32(11);
  const bits = engineeredRows(rand);
  const w = k.alloc(bits.byteLength), x = k.alloc(COLS * 4);
  const full = k.alloc(ROWS * 4), top = k.alloc(ROWS * 4);
  k.u16(w, bits.length).set(bits);
  // The head over the resident matrix: its rows handed out in place.
  const builder = new Int8HeadBuilder(k, ROWS, COLS);
  builder.add(w, 0, ROWS);
  const at = (r0: number) => w + r0 * COLS * 2;
  const head = builder.finish({ name: "output", rows: ROWS, cols: COLS, maxRows: ROWS, at })!;
  for (let trial = 0; trial < 3; trial++) {
    k.f32(x, COLS).set(activation(bits, rand));
    k.matmulF16(w, x, full, ROWS, COLS, 1);
    const want = topK(new Float32Array(k.f32(full, ROWS)), COPIES + 2);
    const near = new Set([7, BEST, ...Array.from({ length: COPIES }, (_, n) => copyRow(n))]);
    assert.deepEqual(new Set(want.map(([id]) => id)), near, "engineered rows are the best");
    for (const n of [1, 10, 45]) {
      const recomputed = exactTopLogits(k, head, x, n, top);
      assert.ok(recomputed, `${label}: finite input`);
      const got = topK(new Float32Array(k.f32(top, ROWS)), n);
      assert.deepEqual(got, want.slice(0, n), `${label} trial ${trial} top-${n}`);
      // The bound matters: the near-equal rows are all recomputed, but not every row.
      assert.ok(recomputed.length >= COPIES + 2, `${label}: ${recomputed.length} rows recomputed`);
      assert.ok(recomputed.length < ROWS / 4, `${label}: ${recomputed.length} rows recomputed`);
      for (const r of recomputed) assert.equal(k.f32(top, ROWS)[r], k.f32(full, ROWS)[r]);
    }
  }
  // Rows 7 and BEST tie exactly; both are recomputed and the lower id comes first, as above.
  assert.equal(k.f32(full, ROWS)[7], k.f32(full, ROWS)[BEST]);
}

Deno.test("int8 head: scoreRowsI8 is the exact integer dot product", async () => {
  const rand = mulberry32(3);
  for (
    const k of [
      createReferenceKernels(1 << 20),
      await createWasmKernels({ bytes: 1 << 20, threads: 1 }),
      await createWasmKernels({ bytes: 1 << 20, threads: 2 }), // rows × cols big enough to split
    ]
  ) {
    // 1501 rows: the last group of four holds one row (its other three are zero codes).
    const rows = 1501,
      cols = 160,
      bytes = int8HeadCopyBytes(rows, cols),
      w = k.alloc(bytes),
      x = k.alloc(cols),
      y = k.alloc(rows * 4 + 16);
    // The matrix row by row, then laid out as the head stores it (int8HeadOffset).
    const M = Int8Array.from({ length: rows * cols }, () => Math.floor(rand() * 255) - 127);
    const X = k.i8(x, cols);
    for (let c = 0; c < cols; c++) X[c] = Math.floor(rand() * 255) - 127;
    for (let c = 0; c < cols; c++) M[c] = X[c]! < 0 ? -127 : 127; // row 0: the largest sum
    const W = k.i8(w, bytes).fill(0);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) W[int8HeadOffset(r, c, cols)] = M[r * cols + c]!;
    }
    k.i32(y, rows + 4).fill(-1);
    k.scoreRowsI8(w, x, y, rows, cols);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += M[r * cols + c]! * X[c]!;
      assert.equal(k.i32(y, rows)[r], s, `${k.name} ${k.threads}t row ${r}`);
    }
    assert.equal(k.i32(y, rows)[0], 127 * X.reduce((a, v) => a + Math.abs(v), 0));
    // Nothing is written past the last row.
    assert.deepEqual([...k.i32(y + rows * 4, 4)], [-1, -1, -1, -1], `${k.name} ${k.threads}t`);
    k.close();
  }
});

Deno.test("int8 head: top-k equals the full F16 head on rows within the bound [reference]", () => {
  checkAgainstFullHead(createReferenceKernels(1 << 22), "reference");
});

for (const simd of ["portable", ...(relaxedSimdSupported() ? ["relaxed"] as const : [])] as const) {
  for (const threads of [1, 2]) {
    Deno.test(`int8 head: top-k equals the full F16 head on rows within the bound [wasm ${simd}, ${threads}t]`, async () => {
      const k = await createWasmKernels({ bytes: 1 << 22, threads, simd });
      try {
        checkAgainstFullHead(k, `${simd} ${threads}t`);
      } finally {
        k.close();
      }
    });
  }
}

Deno.test("int8 head: greedy generation and forwardTop on the fixture equal the F16 head", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "int8-head-" });
  try {
    const { ggufPath } = await exportCleanGguf({
      modelDir: "fixtures/tiny-bitnet",
      outDir: join(tmp, "f16"),
      outType: "f16",
      quiet: true,
    });
    const g = await openGguf(ggufPath);
    // The weight bytes each head option keeps (issue 11's memory target divides by them): all of
    // the plan with the F16 head resident; without the tied embedding matrix when it is streamed;
    // plus its int8 copy (whole groups of four rows) and 24 bytes of norms a row with the head.
    const hp = readHparams(g), plan = planTensors(g, hp);
    const embd = g.tensors.find((t) => t.name === "token_embd.weight")!;
    const [rows = 0, cols = 0] = embd.shape;
    assert.ok(hp.tied && embd.type === GgmlType.F16 && rows === hp.vocabSize);
    const all = weightBytes(plan, wasmTernaryBytes);
    const noEmbd = weightBytes(plan.filter((t) => t.name !== embd.name), wasmTernaryBytes);
    assert.ok(all - noEmbd >= rows * cols * 2);
    const kept = (head: { int8Head?: boolean; streamOutput?: boolean }) =>
      keptWeightBytes(plan, hp, head, wasmTernaryBytes);
    assert.equal(kept({ int8Head: false }), all);
    assert.equal(kept({ int8Head: false, streamOutput: true }), noEmbd);
    assert.equal(kept({}), noEmbd + Math.ceil(rows / 4) * 4 * cols + rows * 24);
    const plain = await InferenceEngine.load(g, { threads: 1, maxContext: 64, int8Head: false });
    const fast = await InferenceEngine.load(g, { threads: 1, maxContext: 64 }); // int8 by default
    try {
      assert.equal(plain.int8Head, false);
      assert.equal(fast.int8Head, true);
      const prompt = [2046, 463, 275, 12, 900];
      const a = plain.generate(prompt, { maxTokens: 24 }),
        b = fast.generate(prompt, { maxTokens: 24 });
      assert.deepEqual(b.ids, a.ids);
      plain.reset();
      fast.reset();
      for (const id of [...prompt, ...a.ids.slice(0, 6)]) {
        assert.deepEqual(topK(fast.forwardTop([id], 10), 10), topK(plain.forward([id]), 10));
      }
      // Every logit, streamed from the file: bit for bit the resident F16 head's.
      plain.reset();
      fast.reset();
      assert.deepEqual(fast.forward(prompt), plain.forward(prompt));
      assert.deepEqual(fast.forward([a.ids[0]!]), plain.forward([a.ids[0]!]));
      const seq = [...prompt, ...a.ids];
      assert.deepEqual(fast.forwardAll(seq), plain.forwardAll(seq));
      assert.deepEqual(fast.nll(seq), plain.nll(seq));
      // Going on from an NLL run (its kept hidden states through the int8 head): the same.
      const keep = { promptLength: prompt.length, maxTokens: 8 };
      assert.deepEqual(fast.nll(seq, { keep }), plain.nll(seq));
      const e = fast.generate(prompt, { maxTokens: 8, promptTop: 10 });
      assert.deepEqual(e.ids, a.ids.slice(0, 8));
      assert.deepEqual(topK(e.promptLogits, 10), topK(a.promptLogits, 10));
      // The prompt's top logits only, and sampling with a temperature (every logit).
      const c = plain.generate(prompt, { maxTokens: 4 }),
        d = fast.generate(prompt, { maxTokens: 4, promptTop: 10 });
      assert.deepEqual(topK(d.promptLogits, 10), topK(c.promptLogits, 10));
      assert.equal(d.promptLogits.filter((v) => v === -Infinity).length > 0, true);
      const sampling = { temperature: 0.8, seed: 5 };
      assert.deepEqual(
        fast.generate(prompt, { maxTokens: 6, sampling }).ids,
        plain.generate(prompt, { maxTokens: 6, sampling }).ids,
      );
    } finally {
      plain.close();
      fast.close();
      g.close();
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
