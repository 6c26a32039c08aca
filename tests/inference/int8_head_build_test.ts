// The int8 copy of the output matrix built by the WebAssembly kernel (int8HeadRows) is
// byte for byte the TypeScript reference's (int8HeadRowsReference), norms included, on rows
// engineered at the edges: rounding midpoints of both signs, subnormals, zeros and −0,
// ±65504 (the largest f16), a single nonzero; and the reference itself obeys its definition
// (q = w / s rounded to nearest, ties up; s = max|w| / 127), checked in plain f64 here.

import assert from "node:assert/strict";
import { f16ToF32, f32ToF16 } from "../../lib/codecs/float.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import { relaxedSimdSupported } from "../../lib/inference/kernels/wasm_module.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import {
  int8HeadCopyBytes,
  int8HeadOffset,
  int8HeadRowsReference,
} from "../../lib/inference/int8_head.ts";
import type { Kernels } from "../../lib/inference/kernels/api.ts";

const COLS = 256;
const GAMMA = 2 * COLS * 2 ** -24;

/** Engineered F16 rows (bits), one per case, then random rows. */
function engineeredRows(): Uint16Array[] {
  const rand = mulberry32(17);
  const row = (f: (c: number) => number) => Uint16Array.from({ length: COLS }, (_, c) => f(c));
  const rows: Uint16Array[] = [];
  // Midpoints: s = 2⁻¹¹ exactly (max 127·2⁻¹¹), every other value (j + ½)·2⁻¹¹, both signs.
  rows.push(
    row((c) => c === 0 ? f32ToF16(127 * 2 ** -11) : f32ToF16((c % 127 - 63 + 0.5) * 2 ** -11)),
  );
  rows.push(
    row((c) => c === 5 ? f32ToF16(-127 * 2 ** -11) : f32ToF16(-(c % 120 + 0.5) * 2 ** -11)),
  );
  rows.push(row(() => 0)); // zeros: s = 0
  rows.push(row((c) => c % 2 ? 0x8000 : 0)); // ±0
  rows.push(row((c) => 1 + (c % 1023))); // positive subnormals only
  rows.push(row((c) => (c % 3 === 0 ? 0x8000 : 0) | (1 + ((c * 7) % 1023)))); // subnormals, both signs
  rows.push(row((c) => c === 9 ? 0x7bff : 1 + c)); // 65504 with subnormals
  rows.push(row((c) => c === 0 ? 0xfbff : c === 1 ? 0x7bff : f32ToF16((rand() * 2 - 1) * 60000)));
  rows.push(row((c) => c === 77 ? 0x0001 : 0)); // one smallest subnormal
  rows.push(row((c) => c === 200 ? 0xbc00 : 0)); // one −1
  for (let i = 0; i < 20; i++) {
    const scale = 10 ** (Math.floor(rand() * 8) - 6);
    rows.push(row(() => f32ToF16((rand() * 2 - 1) * scale)));
  }
  return rows;
}

/**
 * The copy of `rows` rows built in slabs (first row of each listed in `starts`, a slab
 * ends where the next begins): the kernel writes each slab's rows into the interleaved
 * copy by their index in the whole matrix, whatever their position in a group of four.
 */
function build(k: Kernels, bits: Uint16Array, rows: number, starts: readonly number[] = [0]) {
  const bytes = int8HeadCopyBytes(rows, COLS);
  const w = k.alloc(bits.byteLength), q = k.alloc(bytes), stats = k.alloc(rows * 24);
  k.u16(w, bits.length).set(bits);
  k.i8(q, bytes).fill(0);
  let bad = 0;
  for (const [i, r0] of starts.entries()) {
    const r1 = starts[i + 1] ?? rows;
    bad += k.int8HeadRows(w + r0 * COLS * 2, q, stats, r0, r1 - r0, COLS, GAMMA);
  }
  // Row by row again, through the layout's definition; `padding`: the last group's missing rows.
  const Q = k.i8(q, bytes), all = new Int8Array(bytes);
  for (let r = 0; r < bytes / COLS; r++) {
    for (let c = 0; c < COLS; c++) all[r * COLS + c] = Q[int8HeadOffset(r, c, COLS)]!;
  }
  return {
    bad,
    q: all.slice(0, rows * COLS),
    padding: all.slice(rows * COLS),
    stats: new Float64Array(new Float64Array(k.buffer, stats, rows * 3)),
  };
}

Deno.test("int8 head build: the reference follows its definition (plain f64 check)", () => {
  const rows = engineeredRows();
  for (const [i, bits] of rows.entries()) {
    const q = new Int8Array(COLS), stats = new Float64Array(3);
    assert.equal(int8HeadRowsReference(bits, q, stats, COLS, GAMMA), 0);
    const w = Array.from(bits, f16ToF32);
    const max = Math.max(...w.map(Math.abs)), s = max / 127;
    assert.equal(stats[0], s, `row ${i} scale`);
    let qq = 0, ee = 0, ww = 0;
    for (let c = 0; c < COLS; c++) {
      const x = s > 0 ? w[c]! / s : 0, lo = Math.floor(x);
      const want = (s > 0 ? (x - lo >= 0.5 ? lo + 1 : lo) : 0) + 0; // ties up; −0 stored as 0
      assert.equal(q[c], want, `row ${i} col ${c}`);
      assert.ok(Math.abs(q[c]!) <= 127);
      const sq = s * q[c]!;
      qq += sq * sq;
      ee += (w[c]! - sq) ** 2;
      ww += w[c]! ** 2;
    }
    assert.equal(stats[1], Math.sqrt(qq));
    assert.equal(stats[2], Math.sqrt(ee) + GAMMA * Math.sqrt(ww));
  }
  // The midpoint rows do hit ties: x − floor(x) = ½ in many columns.
  const w0 = Array.from(rows[0]!, f16ToF32), s0 = 127 * 2 ** -11 / 127;
  assert.ok(w0.filter((v) => (v / s0) % 1 === 0.5 || (v / s0) % 1 === -0.5).length > 200);
});

const variants = ["portable", ...(relaxedSimdSupported() ? ["relaxed"] as const : [])] as const;
for (const simd of variants) {
  for (const threads of [1, 2]) {
    Deno.test(`int8 head build: wasm ${simd} ${threads}t is byte-identical to the TypeScript reference`, async () => {
      // Enough rows for the job to be split over the threads.
      const rows = engineeredRows(), n = rows.length * 24; // above SMALL_JOB: split
      const bits = new Uint16Array(n * COLS);
      for (let i = 0; i < n; i++) bits.set(rows[i % rows.length]!, i * COLS);
      const ref = createReferenceKernels(1 << 22),
        wasm = await createWasmKernels({
          bytes: 1 << 22,
          threads,
          simd,
        });
      try {
        const a = build(ref, bits, n), b = build(wasm, bits, n);
        assert.equal(a.bad, 0);
        assert.equal(b.bad, 0);
        assert.deepEqual(b.q, a.q);
        // Bit for bit, −0 and +0 told apart.
        assert.deepEqual(new BigUint64Array(b.stats.buffer), new BigUint64Array(a.stats.buffer));
        // Built in slabs that start and end anywhere in a group of four (as the loader's
        // slabs do), with a last group of one row: the same copy, zero codes after it.
        const m = n - 3, head = bits.subarray(0, m * COLS);
        const c = build(wasm, head, m, [0, 5, 6, 301, 302]), d = build(ref, head, m);
        assert.deepEqual(c.q, a.q.subarray(0, m * COLS));
        assert.deepEqual(c.q, d.q);
        assert.deepEqual(new BigUint64Array(c.stats.buffer), new BigUint64Array(d.stats.buffer));
        assert.deepEqual(c.padding, new Int8Array(3 * COLS));
        assert.deepEqual(d.padding, new Int8Array(3 * COLS));
        // Infinities and NaNs are counted by both (their copy is never used).
        const odd = bits.slice(0, 3 * COLS);
        odd[10] = 0x7c00;
        odd[COLS + 3] = 0xfe00;
        assert.equal(build(ref, odd, 3).bad, 2);
        assert.equal(build(wasm, odd, 3).bad, 2);
      } finally {
        wasm.close();
      }
    });
  }
}
