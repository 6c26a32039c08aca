// The WebAssembly kernels against the plain TypeScript reference (the oracle)
// and against facts computed by hand; both SIMD variants, 1 and 2 threads.

import assert from "node:assert/strict";
import type { CodeCounts, Kernels, Ptr } from "../../lib/inference/kernels/api.ts";
import { createReferenceKernels } from "../../lib/inference/kernels/reference.ts";
import { createWasmKernels } from "../../lib/inference/kernels/wasm.ts";
import {
  kernelModuleBytes,
  relaxedSimdSupported,
} from "../../lib/inference/kernels/wasm_module.ts";
import { assembleKernels, selectVariant } from "../../lib/inference/kernels/assemble.ts";
import { bf16ToF32, f16ToF32, f32ToBf16 } from "../../lib/codecs/float.ts";
import { randomTrits } from "../_fuzz.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";

/** How many of `trits` are −1, 0 and +1, counted one by one. */
function tally(trits: Int8Array): CodeCounts {
  const t = { neg: 0, zero: 0, pos: 0 };
  for (const v of trits) t[v < 0 ? "neg" : v === 0 ? "zero" : "pos"]++;
  return t;
}

/** Calls `pack(r0, n)` over slabs of `step` rows and sums the counts; fails on a refused slab. */
function packInSlabs(
  rows: number,
  step: number,
  pack: (r0: number, n: number) => CodeCounts | null,
): CodeCounts {
  const counted = { neg: 0, zero: 0, pos: 0 };
  for (let r0 = 0; r0 < rows; r0 += step) {
    const c = pack(r0, Math.min(step, rows - r0));
    assert.ok(c !== null, `slab at ${r0} refused`);
    counted.neg += c.neg;
    counted.zero += c.zero;
    counted.pos += c.pos;
  }
  return counted;
}

/**
 * I2_S codes written by the codec's own encoder (packI2S), loaded in slabs,
 * give the same kernel bytes as the trits, and the counts it returns are the
 * trits' (also for all-zero and all-+1 rows, where one field alone is full);
 * a code 3 is refused.
 */
function i2sPackingMatchesTrits(k: Kernels): void {
  const shapes = [[11, 128], [6, 384], [1, 256], [2100, 256], [3, 6912]] as const;
  for (const [i, [rows, cols]] of shapes.entries()) {
    const trits = randomTrits(rows * cols, rows + cols);
    if (i === 4) trits.fill(1, 0, cols).fill(0, cols, 2 * cols); // a row of +1s, one of zeros
    const codes = packI2S(trits, 0.5).subarray(0, (rows * cols) / 4);
    const want = k.alloc(k.ternaryBytes(rows, cols));
    k.packTernary(trits, rows, cols, want);
    const got = k.alloc(k.ternaryBytes(rows, cols));
    k.u8(got, k.ternaryBytes(rows, cols)).fill(0xff);
    const rowBytes = cols / 4;
    const counted = packInSlabs(rows, 4, (r0, n) => {
      const slab = codes.slice(r0 * rowBytes, (r0 + n) * rowBytes);
      return k.packTernaryI2S(slab, n, cols, got, r0, rows);
    });
    const n = k.ternaryBytes(rows, cols);
    assert.deepEqual(k.u8(got, n), k.u8(want, n), `${rows} x ${cols}`);
    assert.deepEqual(counted, tally(trits), `counts of ${rows} x ${cols}, in slabs`);
    const whole = k.alloc(k.ternaryBytes(rows, cols));
    const c = k.packTernaryI2S(codes, rows, cols, whole, 0, rows);
    assert.deepEqual(c, tally(trits), `counts of ${rows} x ${cols}, in one call`);
    const bad = codes.slice();
    bad[5] = bad[5]! | 0x30; // element 32 + 5 of row 0 gets code 3
    assert.throws(() => k.packTernaryI2S(bad, rows, cols, got, 0, rows), /invalid code 3/);
  }
}

/**
 * 16-bit ternary values (F16 ±0.5 and BF16 ±2⁻³, both zero signs) give the same
 * kernel bytes and counts as the trits, in slabs and in one call; every kind
 * of value that is not −s, ±0 or +s (another magnitude, a NaN, +s with another
 * sign bit pattern, a non-zero while s is still 0) gives null.
 */
function halfPackingMatchesTrits(k: Kernels): void {
  const shapes = [[11, 128], [6, 384], [2100, 64], [3, 6912]] as const;
  for (const [i, [rows, cols]] of shapes.entries()) {
    const sBits = i % 2 === 0 ? 0x3800 : 0x3e00; // F16 0.5, BF16 0.125
    const trits = randomTrits(rows * cols, rows * cols + i);
    if (i === 3) trits.fill(1, 0, cols).fill(0, cols, 2 * cols);
    const sign = mulberry32(i);
    const bits = Uint16Array.from(
      trits,
      (t) => t === 0 ? (sign() < 0.5 ? 0 : 0x8000) : t > 0 ? sBits : sBits | 0x8000,
    );
    const want = k.alloc(k.ternaryBytes(rows, cols));
    k.packTernary(trits, rows, cols, want);
    const got = k.alloc(k.ternaryBytes(rows, cols));
    k.u8(got, k.ternaryBytes(rows, cols)).fill(0xff);
    const counted = packInSlabs(rows, 5, (r0, n) => {
      const slab = bits.slice(r0 * cols, (r0 + n) * cols);
      return k.packTernaryHalf(slab, n, cols, sBits, got, r0, rows);
    });
    const n = k.ternaryBytes(rows, cols);
    assert.deepEqual(k.u8(got, n), k.u8(want, n), `${rows} x ${cols}`);
    assert.deepEqual(counted, tally(trits), `counts of ${rows} x ${cols}, in slabs`);
    const whole = k.alloc(k.ternaryBytes(rows, cols));
    assert.deepEqual(k.packTernaryHalf(bits, rows, cols, sBits, whole, 0, rows), tally(trits));
    const at = rows * cols - 1;
    for (const odd of [sBits + 1, 0x7e00, 0x7c00, sBits ^ 0x4000, 1, 0x8001]) {
      const bad = bits.slice();
      bad[at] = odd;
      assert.equal(
        k.packTernaryHalf(bad, rows, cols, sBits, whole, 0, rows),
        null,
        `0x${odd.toString(16)}`,
      );
    }
    const zeros = new Uint16Array(rows * cols).fill(0x8000, 0, cols);
    assert.deepEqual(k.packTernaryHalf(zeros, rows, cols, 0, whole, 0, rows), {
      neg: 0,
      zero: rows * cols,
      pos: 0,
    });
    zeros[at] = sBits;
    assert.equal(k.packTernaryHalf(zeros, rows, cols, 0, whole, 0, rows), null, "s = 0");
  }
}

Deno.test("reference packTernaryHalf equals packTernary of the trits", () => {
  halfPackingMatchesTrits(createReferenceKernels(1 << 26));
});

Deno.test("reference packTernaryI2S equals packTernary of the trits", () => {
  i2sPackingMatchesTrits(createReferenceKernels(1 << 22));
});

const VARIANTS = relaxedSimdSupported()
  ? (["relaxed", "portable"] as const)
  : (["portable"] as const);
const MB = 1 << 20;

function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

/** Finite f16 bit patterns over the whole range, with subnormals, ±0 and ±max. */
function randomF16Bits(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed);
  const special = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x0400, 0x7bff, 0xfbff, 0x3c00];
  return Uint16Array.from({ length: n }, (_, i) => {
    if (i < special.length) return special[i]!;
    let b: number;
    do b = Math.floor(r() * 65536); while ((b & 0x7c00) === 0x7c00);
    return b;
  });
}

/** bf16 bit patterns of values spread over 2^-30..2^30, with a few subnormals. */
function randomBf16Bits(n: number, seed: number): Uint16Array {
  const r = mulberry32(seed);
  return Uint16Array.from({ length: n }, (_, i) => {
    if (i % 97 === 5) return 0x0001 + Math.floor(r() * 0x7f); // subnormal
    return f32ToBf16((r() * 2 - 1) * 2 ** Math.floor(r() * 60 - 30));
  });
}

/** Copies `data` into fresh memory of `k` and returns its pointer. */
function put(k: Kernels, data: Float32Array | Uint16Array | Int8Array): Ptr {
  const p = k.alloc(data.byteLength);
  if (data instanceof Float32Array) k.f32(p, data.length).set(data);
  else if (data instanceof Uint16Array) k.u16(p, data.length).set(data);
  else k.i8(p, data.length).set(data);
  return p;
}

type FloatKind = "f32" | "f16" | "bf16";

function matmulFloat(
  k: Kernels,
  kind: FloatKind,
  w: Float32Array | Uint16Array,
  x: Float32Array,
  rows: number,
  cols: number,
  batch: number,
): Float32Array {
  const pw = put(k, w), px = put(k, x), py = k.alloc(batch * rows * 4);
  if (kind === "f32") k.matmulF32(pw, px, py, rows, cols, batch);
  else if (kind === "f16") k.matmulF16(pw, px, py, rows, cols, batch);
  else k.matmulBF16(pw, px, py, rows, cols, batch);
  return k.f32(py, batch * rows).slice();
}

function ternary(
  k: Kernels,
  trits: Int8Array,
  x: Float32Array,
  rows: number,
  cols: number,
  batch: number,
  wScale: number,
): { y: Float32Array; q: Int8Array; t: Float32Array; sum: Int32Array } {
  const pw = k.alloc(k.ternaryBytes(rows, cols));
  k.packTernary(trits, rows, cols, pw);
  const px = put(k, x), pq = k.alloc(batch * cols), pt = k.alloc(batch * 4);
  const ps = k.alloc(batch * 4), py = k.alloc(batch * rows * 4);
  k.quantizeRowsI8(px, pq, pt, ps, cols, batch);
  k.matmulTernary(pw, wScale, pq, pt, ps, py, rows, cols, batch);
  return {
    y: k.f32(py, batch * rows).slice(),
    q: k.i8(pq, batch * cols).slice(),
    t: k.f32(pt, batch).slice(),
    sum: k.i32(ps, batch).slice(),
  };
}

/**
 * |a − b| ≤ rel · Σ_c |w·x| per output: the natural scale of a reordered f32
 * sum (a wrong pairing of weights and activations errs by about Σ|w·x| itself).
 */
function assertMatmulClose(
  got: Float32Array,
  want: Float32Array,
  w: (r: number, c: number) => number,
  x: Float32Array,
  rows: number,
  cols: number,
  rel: number,
  what: string,
): void {
  for (let b = 0; b < want.length / rows; b++) {
    for (let r = 0; r < rows; r++) {
      let mag = 0;
      for (let c = 0; c < cols; c++) mag += Math.abs(w(r, c) * x[b * cols + c]!);
      const i = b * rows + r;
      const err = Math.abs(got[i]! - want[i]!);
      if (!(err <= rel * mag + 1e-30)) {
        assert.fail(`${what}: y[${b}, ${r}] = ${got[i]}, reference ${want[i]} (Σ|w·x| = ${mag})`);
      }
    }
  }
}

const FLOAT_SHAPES: [rows: number, cols: number, batch: number][] = [
  [5, 48, 3], // cols not a multiple of 128: the float kernels only need 16
  [203, 768, 7], // odd rows (a partial group of 4), odd batch, big enough to split
  [517, 256, 1], // matrix x vector, split across threads
  [3, 2560, 2],
];

const TERNARY_SHAPES: [rows: number, cols: number, batch: number][] = [
  [6, 64, 1],
  [203, 768, 7],
  [517, 256, 1],
  [33, 1152, 7], // more than 1024 columns: the i16 accumulators are flushed mid-row
  [4, 2560, 2],
];

Deno.test("wasm_bytes.ts matches kernels.wat (run `deno task build:wasm` after editing the .wat)", async () => {
  const wat = await Deno.readTextFile("lib/inference/kernels/kernels.wat");
  const built = await assembleKernels(wat);
  assert.deepEqual(kernelModuleBytes("relaxed"), built.relaxed, "relaxed variant is stale");
  assert.deepEqual(kernelModuleBytes("portable"), built.portable, "portable variant is stale");
});

Deno.test("selectVariant keeps one variant's lines, blanks the other's and the markers", () => {
  const wat = "a\n;;@relaxed\nr\n;;@end\n;;@portable\np\n;;@end\nz";
  assert.equal(selectVariant(wat, "relaxed"), "a\n\nr\n\n\n\n\nz");
  assert.equal(selectVariant(wat, "portable"), "a\n\n\n\n\np\n\nz");
  assert.throws(() => selectVariant(";;@relaxed\nx", "relaxed"), SyntaxError);
  assert.throws(() => selectVariant(";;@end", "relaxed"), SyntaxError);
});

Deno.test("only the relaxed variant uses relaxed-SIMD opcodes", () => {
  // Relaxed SIMD opcodes are 0xfd 0x80..0x93 0x02 (LEB128 0x100..0x113);
  // i16x8.relaxed_dot_i8x16_i7x16_s is 0x112.
  const relaxedOps = (bytes: Uint8Array) => {
    const found: number[] = [];
    for (let i = 0; i + 2 < bytes.length; i++) {
      const b = bytes[i + 1]!;
      if (bytes[i] === 0xfd && b >= 0x80 && b <= 0x93 && bytes[i + 2] === 0x02) {
        found.push(0x100 + (b & 0x7f));
      }
    }
    return found;
  };
  assert.deepEqual(relaxedOps(kernelModuleBytes("portable")), []);
  assert.ok(relaxedOps(kernelModuleBytes("relaxed")).includes(0x112));
});

Deno.test("the default variant is relaxed SIMD where the engine has it", async () => {
  const k = await createWasmKernels({ bytes: MB, threads: 1 });
  try {
    assert.equal(k.name, relaxedSimdSupported() ? "wasm-relaxed-simd" : "wasm-simd");
    assert.ok(k.buffer instanceof SharedArrayBuffer);
  } finally {
    k.close();
  }
});

for (const simd of VARIANTS) {
  for (const threads of [1, 2]) {
    Deno.test(`wasm kernels (${simd} SIMD, ${threads} thread(s)) match the reference`, async (t) => {
      const k = await createWasmKernels({ bytes: 48 * MB, threads, simd });
      const ref = createReferenceKernels(48 * MB);
      try {
        assert.equal(k.threads, threads);

        await t.step("matmulF32 on a case computed by hand", () => {
          // Row r of W is (r + 1) repeated; x is 0.5 repeated: y[r] = (r + 1) * 0.5 * 16.
          const w = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.floor(i / 16) + 1);
          const y = matmulFloat(k, "f32", w, new Float32Array(16).fill(0.5), 3, 16, 1);
          assert.deepEqual([...y], [8, 16, 24]);
        });

        await t.step("matmulF16 / matmulBF16 decode known bit patterns exactly", () => {
          // Row r holds one weight at column r (zeros elsewhere); x is all ones: y[r] = weight.
          const cases: [FloatKind, number[], number[]][] = [
            ["f16", [0x3c00, 0x0001, 0x7bff, 0xc000, 0x03ff, 0x0400], [
              1,
              2 ** -24,
              65504,
              -2,
              1023 * 2 ** -24,
              2 ** -14,
            ]],
            ["bf16", [0x3f80, 0xc0a0, 0x0001, 0x7f7f, 0x8080], [
              1,
              -5,
              2 ** -133,
              Math.fround(3.3895313892515355e38),
              -(2 ** -126),
            ]],
          ];
          for (const [kind, bits, values] of cases) {
            const rows = bits.length, cols = 16;
            const w = new Uint16Array(rows * cols);
            bits.forEach((b, r) => (w[r * cols + r] = b));
            const y = matmulFloat(k, kind, w, new Float32Array(cols).fill(1), rows, cols, 1);
            assert.deepEqual([...y], values, kind);
          }
        });

        for (const kind of ["f32", "f16", "bf16"] as const) {
          await t.step(`matmul${kind.toUpperCase()} vs reference`, () => {
            for (const [rows, cols, batch] of FLOAT_SHAPES) {
              const seed = rows * 7919 + cols + batch;
              const x = randomF32(batch * cols, seed);
              const w = kind === "f32"
                ? randomF32(rows * cols, seed + 1)
                : kind === "f16"
                ? randomF16Bits(rows * cols, seed + 1)
                : randomBf16Bits(rows * cols, seed + 1);
              const value = kind === "f32"
                ? (r: number, c: number) => w[r * cols + c]!
                : kind === "f16"
                ? (r: number, c: number) => f16ToF32(w[r * cols + c]!)
                : (r: number, c: number) => bf16ToF32(w[r * cols + c]!);
              const got = matmulFloat(k, kind, w, x, rows, cols, batch);
              const want = matmulFloat(ref, kind, w, x, rows, cols, batch);
              assertMatmulClose(
                got,
                want,
                value,
                x,
                rows,
                cols,
                1e-5,
                `${kind} ${rows}x${cols}x${batch}`,
              );
            }
          });
        }

        await t.step(
          "quantizeRowsI8 on values computed by hand (ties to even, clamp, zero row)",
          () => {
            const cols = 16;
            // Row 0: max|x| = 127 so t = 1 and q = roundHalfEven(x).
            // Row 1: all zeros: t = 127 / 1e-5 and q = 0.
            const x = new Float32Array(2 * cols);
            x.set([127, 2.5, -2.5, 3.5, -3.5, 0.5, -0.5, 1.5, 126.5, -127, 0.49, 5, 6, 7, 8, 9]);
            const px = put(k, x), pq = k.alloc(2 * cols), pt = k.alloc(8), ps = k.alloc(8);
            k.quantizeRowsI8(px, pq, pt, ps, cols, 2);
            const q0 = [127, 2, -2, 4, -4, 0, 0, 2, 126, -127, 0, 5, 6, 7, 8, 9];
            assert.deepEqual([...k.i8(pq, cols)], q0);
            assert.deepEqual([...k.i8(pq + cols, cols)], new Array(cols).fill(0));
            assert.deepEqual([...k.f32(pt, 2)], [1, Math.fround(127 / 1e-5)]);
            assert.deepEqual([...k.i32(ps, 2)], [q0.reduce((a, b) => a + b, 0), 0]);
          },
        );

        await t.step(
          "packTernary + quantizeRowsI8 + matmulTernary are bit-identical to the reference",
          () => {
            for (const [rows, cols, batch] of TERNARY_SHAPES) {
              const seed = rows * 131 + cols * 7 + batch;
              const trits = randomTrits(rows * cols, seed);
              const x = randomF32(batch * cols, seed + 1, 3);
              const got = ternary(k, trits, x, rows, cols, batch, 0.8125);
              const want = ternary(ref, trits, x, rows, cols, batch, 0.8125);
              const shape = `${rows}x${cols}x${batch}`;
              assert.deepEqual(got.q, want.q, `q ${shape}`);
              assert.deepEqual(got.t, want.t, `t ${shape}`);
              assert.deepEqual(got.sum, want.sum, `sum ${shape}`);
              assert.deepEqual(got.y, want.y, `y ${shape}`);
            }
          },
        );

        await t.step(
          "matmulTernary is exact at the i16 accumulator bounds (q = -128 and 127)",
          () => {
            // Rows 0-3: all trits +1 (code 2), so every i16 lane of the relaxed kernel reaches
            // -32768 (q = -128) or 32512 (q = 127) after 1024 columns, then is flushed.
            // Row 4: trits -1, 0, +1 repeating; 2048 = 3 * 682 + 2 leaves -1, 0: Σ trit = -1.
            // Batch rows 0 and 1 go through the paired kernel, row 2 through the single one.
            const rows = 5, cols = 2048, batch = 3;
            const trits = new Int8Array(rows * cols).fill(1);
            for (let c = 0; c < cols; c++) trits[4 * cols + c] = (c % 3) - 1;
            const pw = k.alloc(k.ternaryBytes(rows, cols));
            k.packTernary(trits, rows, cols, pw);
            const q = new Int8Array(batch * cols).fill(-128);
            q.fill(127, cols, 2 * cols);
            const pq = put(k, q), pt = put(k, new Float32Array([1, 2, 4])), ps = k.alloc(12);
            k.i32(ps, 3).set([-128 * cols, 127 * cols, -128 * cols]);
            const py = k.alloc(batch * rows * 4);
            k.matmulTernary(pw, 1, pq, pt, ps, py, rows, cols, batch);
            assert.deepEqual([...k.f32(py, batch * rows)], [
              ...[-262144, -262144, -262144, -262144, 128], // -128 * 2048 / 1; 128 / 1
              ...[130048, 130048, 130048, 130048, -63.5], // 127 * 2048 / 2; -127 / 2
              ...[-65536, -65536, -65536, -65536, 32], // -128 * 2048 / 4; 128 / 4
            ]);
          },
        );

        await t.step("packTernary in slabs equals packing at once; bad trits are refused", () => {
          const rows = 11, cols = 128;
          const trits = randomTrits(rows * cols, 5);
          const whole = k.alloc(k.ternaryBytes(rows, cols));
          k.packTernary(trits, rows, cols, whole);
          const slabs = k.alloc(k.ternaryBytes(rows, cols));
          for (const [r0, n] of [[0, 3], [3, 5], [8, 3]] as const) {
            k.packTernary(trits.subarray(r0 * cols, (r0 + n) * cols), n, cols, slabs, r0, rows);
          }
          const n = k.ternaryBytes(rows, cols);
          assert.deepEqual(k.u8(slabs, n), k.u8(whole, n));
          const bad = trits.slice();
          bad[3 * cols + 7] = 2;
          assert.throws(() => k.packTernary(bad, rows, cols, whole), /trit 2 at row 3, col 7/);
        });

        await t.step(
          "packTernaryI2S (I2_S codes, in slabs) equals packTernary of the trits",
          () => {
            i2sPackingMatchesTrits(k);
          },
        );

        await t.step(
          "packTernaryHalf (16-bit ternary values) equals packTernary of the trits",
          () => {
            halfPackingMatchesTrits(k);
          },
        );

        await t.step("matmulF16 of a batch (rows decoded once) is bit-identical to pairs", () => {
          for (const [rows, cols, batch] of [[10, 64, 5], [9, 2560, 4], [4, 128, 7]] as const) {
            const seed = rows + cols + batch;
            const x = randomF32(batch * cols, seed, 3);
            const w = randomF16Bits(rows * cols, seed + 1);
            const whole = matmulFloat(k, "f16", w, x, rows, cols, batch);
            // Batches of 2 and 1 take the tiles that decode the weights themselves.
            const parts: number[] = [];
            for (let b = 0; b < batch; b += 2) {
              const n = Math.min(2, batch - b);
              const xs = x.subarray(b * cols, (b + n) * cols);
              parts.push(...matmulFloat(k, "f16", w, xs, rows, cols, n));
            }
            assert.deepEqual([...whole], parts, `${rows} x ${cols}, batch ${batch}`);
          }
        });

        await t.step("rmsnorm vs reference (any n, in place)", () => {
          for (const [n, batch] of [[256, 1], [37, 7], [2560, 2], [1, 1]] as const) {
            const x = randomF32(n * batch, n + batch, 4);
            const g = randomF32(n, n * 3, 2);
            const run = (kk: Kernels) => {
              const px = put(kk, x), pg = put(kk, g);
              kk.rmsnorm(px, pg, px, n, batch, 1e-5);
              return kk.f32(px, n * batch).slice();
            };
            const got = run(k), want = run(ref);
            for (let i = 0; i < got.length; i++) {
              assert.ok(
                Math.abs(got[i]! - want[i]!) <= 1e-6 * Math.abs(want[i]!),
                `rmsnorm ${n}x${batch}[${i}]`,
              );
            }
          }
        });

        await t.step("relu2Mul: relu(g)²·u rounded once from f64, bit for bit", () => {
          // Edge values first (−0, NaN, ±Inf, a product that overflows f32), then random;
          // n = 7 and 2561 leave a tail after the 4-wide SIMD loop.
          const edge = [-0, 0, -1.5, NaN, Infinity, -Infinity, 3e30, 1e-30, 2];
          const edgeUp = [-2, -3, 5, 1, 0.5, 7, 3e30, -1e-30, NaN];
          for (const n of [7, 9, 2561]) {
            const g = randomF32(n, n, 3), u = randomF32(n, n + 1, 3);
            for (let i = 0; i < Math.min(n, edge.length); i++) {
              [g[i], u[i]] = [edge[i]!, edgeUp[i]!];
            }
            const want = new Float32Array(n);
            for (let i = 0; i < n; i++) {
              const r = g[i]! > 0 ? g[i]! : 0;
              want[i] = Math.fround((r * r) * u[i]!); // f64 products, one rounding to f32
            }
            for (const kk of [k, ref]) {
              const pg = put(kk, g), pu = put(kk, u);
              kk.relu2Mul(pg, pu, n);
              const got = kk.f32(pg, n);
              for (let i = 0; i < n; i++) {
                assert.ok(
                  Object.is(got[i], want[i]),
                  `${kk.name} relu2Mul n=${n} [${i}]: ${got[i]} vs ${want[i]}`,
                );
              }
            }
          }
        });

        await t.step("unsupported shapes and pointers throw RangeError", () => {
          const p = k.alloc(4096);
          assert.throws(() => k.matmulF32(p, p, p, 2, 8, 1), RangeError);
          assert.throws(() => k.matmulTernary(p, 1, p, p, p, p, 4, 96, 1), RangeError);
          assert.throws(() => k.ternaryBytes(4, 100), RangeError);
          assert.throws(() => k.quantizeRowsI8(p, p, p, p, 20, 1), RangeError);
          assert.throws(() => k.matmulF32(0, p, p, 1, 16, 1), RangeError);
          assert.throws(() => k.matmulF32(p, p, k.buffer.byteLength - 8, 4, 16, 1), RangeError);
          assert.throws(() => k.alloc(k.buffer.byteLength), RangeError);
        });
      } finally {
        k.close();
      }
    });
  }

  Deno.test(`wasm kernels (${simd} SIMD): results do not depend on the thread count`, async () => {
    const one = await createWasmKernels({ bytes: 24 * MB, threads: 1, simd });
    const two = await createWasmKernels({ bytes: 24 * MB, threads: 2, simd });
    try {
      for (const [rows, cols, batch] of [[1031, 512, 1], [203, 768, 7]] as const) {
        const trits = randomTrits(rows * cols, rows);
        const x = randomF32(batch * cols, cols, 2);
        const a = ternary(one, trits, x, rows, cols, batch, 0.3);
        const b = ternary(two, trits, x, rows, cols, batch, 0.3);
        assert.deepEqual(b.y, a.y, `ternary ${rows}x${cols}x${batch}`);
        const w = randomF16Bits(rows * cols, rows);
        for (const kind of ["f32", "f16", "bf16"] as const) {
          const ww = kind === "f32" ? randomF32(rows * cols, cols) : w;
          assert.deepEqual(
            matmulFloat(two, kind, ww, x, rows, cols, batch),
            matmulFloat(one, kind, ww, x, rows, cols, batch),
            `${kind} ${rows}x${cols}x${batch}`,
          );
        }
      }
    } finally {
      one.close();
      two.close();
    }
  });

  Deno.test(`wasm kernels (${simd} SIMD): 300 back-to-back threaded jobs of varying shapes`, async () => {
    // Races in the fork/join protocol would show as stale or missing rows.
    const one = await createWasmKernels({ bytes: 16 * MB, threads: 1, simd });
    const two = await createWasmKernels({ bytes: 16 * MB, threads: 2, simd });
    try {
      const rows = 1031, cols = 256, batch = 2;
      const trits = randomTrits(rows * cols, 77), w = randomF32(rows * cols, 78);
      const x = randomF32(batch * cols, 79);
      const setup = (k: Kernels) => {
        const pt = k.alloc(k.ternaryBytes(rows, cols));
        k.packTernary(trits, rows, cols, pt);
        const pw = put(k, w), px = put(k, x), pq = k.alloc(batch * cols);
        const ps = k.alloc(batch * 4), pm = k.alloc(batch * 4), py = k.alloc(batch * rows * 4);
        k.quantizeRowsI8(px, pq, ps, pm, cols, batch);
        return (i: number) => {
          // Prefixes of the matrices: 257..1031 rows, around the single-thread cut-off.
          const r = 257 + ((i * 389) % (rows - 256)), b = 1 + (i % batch);
          k.f32(py, batch * rows).fill(NaN);
          if (i % 2) k.matmulTernary(pt, 0.5, pq, ps, pm, py, r, cols, b);
          else k.matmulF32(pw, px, py, r, cols, b);
          return k.f32(py, b * r).slice();
        };
      };
      const a = setup(one), b = setup(two);
      for (let i = 0; i < 300; i++) assert.deepEqual(b(i), a(i), `job ${i}`);
    } finally {
      one.close();
      two.close();
    }
  });
}

Deno.test("a 3 GiB memory works, with pointers past 2 GiB", async () => {
  const k = await createWasmKernels({ bytes: 3 * 2 ** 30, threads: 2 });
  const ref = createReferenceKernels(8 * MB);
  try {
    k.alloc(2 ** 31 + 12345); // push the allocator past 2^31
    const rows = 517, cols = 256, batch = 3;
    const trits = randomTrits(rows * cols, 9), x = randomF32(batch * cols, 10);
    const got = ternary(k, trits, x, rows, cols, batch, 1.5);
    assert.deepEqual(got.y, ternary(ref, trits, x, rows, cols, batch, 1.5).y);
    const w = randomF32(rows * cols, 11);
    const y = matmulFloat(k, "f32", w, x, rows, cols, batch);
    assertMatmulClose(
      y,
      matmulFloat(ref, "f32", w, x, rows, cols, batch),
      (r, c) => w[r * cols + c]!,
      x,
      rows,
      cols,
      1e-5,
      "f32 high",
    );
    assert.ok(k.alloc(64) > 2 ** 31);
  } finally {
    k.close();
  }
  await assert.rejects(() => createWasmKernels({ bytes: 2 ** 32 }), RangeError);
});

Deno.test("logSumExpRows: every row's logSumExp bit for bit, on 1 and 2 threads and the reference", async () => {
  const { logSumExp } = await import("../../lib/inference/softmax.ts");
  for (const [rows, cols] of [[33, 128256], [1, 7], [5, 4096]] as const) {
    const rnd = mulberry32(rows + cols);
    const x = Float32Array.from({ length: rows * cols }, () => (rnd() * 2 - 1) * 30);
    x[3] = -Infinity; // a masked logit
    const want = Float64Array.from(
      { length: rows },
      (_, r) => logSumExp(x.subarray(r * cols, (r + 1) * cols)),
    );
    const kernels: Kernels[] = [
      createReferenceKernels(rows * cols * 4 + rows * 8 + 4096),
      await createWasmKernels({ bytes: rows * cols * 4 + rows * 8 + 4096, threads: 1 }),
      await createWasmKernels({ bytes: rows * cols * 4 + rows * 8 + 4096, threads: 2 }),
    ];
    for (const k of kernels) {
      try {
        const px = k.alloc(rows * cols * 4), out = k.alloc(rows * 8);
        k.f32(px, rows * cols).set(x);
        k.logSumExpRows(px, out, rows, cols);
        const got = new Float64Array(k.buffer, out, rows);
        for (let r = 0; r < rows; r++) {
          assert.ok(
            Object.is(got[r], want[r]),
            `${k.name} ${k.threads}: ${rows} x ${cols}, row ${r}`,
          );
        }
      } finally {
        k.close();
      }
    }
  }
});
