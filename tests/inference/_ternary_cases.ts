/**
 * Ternary product cases shared by the WebAssembly and the native kernel tests:
 * - random ones ({@link runTernaryParts}): several products of one job, random trits and
 *   activations from the shape, for comparing a backend with the reference;
 * - extreme ones ({@link extremeTernaryCases}), at the limits of the kernels' i16
 *   accumulators: every q at 127 or -128 (written directly: quantizeRowsI8 never gives
 *   -128, a caller may) with every trit +1 (code 2, the largest product), on rows long
 *   enough to fill whole 1024-column accumulator chunks and to end in a partial one; each
 *   checked against a plain float64 sum computed here.
 *
 * @module
 */

import type { Kernels, Ptr, TernaryProduct } from "../../lib/inference/kernels/api.ts";
import { mulberry32 } from "../../lib/inference/sampler.ts";
import { randomTrits } from "../_fuzz.ts";

/** One random case: the rows of each product (one job), the shared input width and the batch. */
export interface TernaryCase {
  rows: number[];
  cols: number;
  batch: number;
}

/** Trits, activations and per-product scales of a case, from its shape. */
function caseData(c: TernaryCase) {
  const seed = c.rows.reduce((a, r) => a * 31 + r, c.cols * 7 + c.batch);
  const r = mulberry32(seed);
  const x = Float32Array.from({ length: c.batch * c.cols }, () => (r() * 2 - 1) * 3);
  // A few rows at the int8 extremes, so that q reaches -128 and 127.
  for (let b = 0; b < c.batch; b += 2) x[b * c.cols] = b % 4 ? -50 : 50;
  const trits = c.rows.map((rows, i) => randomTrits(rows * c.cols, seed + i + 1));
  const scales = c.rows.map((_, i) => 0.25 + i * 0.375);
  return { x, trits, scales };
}

/** A case's activations quantized on `k` and its products' weights packed there (no outputs yet). */
export function loadTernaryCase(k: Kernels, c: TernaryCase) {
  const { x, trits, scales } = caseData(c);
  const { cols, batch } = c;
  const px = k.alloc(batch * cols * 4);
  k.f32(px, batch * cols).set(x);
  const pq = k.alloc(batch * cols), pt = k.alloc(batch * 4), ps = k.alloc(batch * 4);
  k.quantizeRowsI8(px, pq, pt, ps, cols, batch);
  const weights = c.rows.map((rows, i) => {
    const w = k.alloc(k.ternaryBytes(rows, cols));
    k.packTernary(trits[i]!, rows, cols, w);
    return { w, wScale: scales[i]!, rows };
  });
  return { pq, pt, ps, weights };
}

/** The outputs of every product of `c` on `k`, through matmulTernaryParts (one job). */
export function runTernaryParts(k: Kernels, c: TernaryCase): Float32Array[] {
  const { cols, batch } = c;
  const { pq, pt, ps, weights } = loadTernaryCase(k, c);
  const products: TernaryProduct[] = weights.map((p) => {
    const y: Ptr = k.alloc(batch * p.rows * 4);
    k.f32(y, batch * p.rows).fill(NaN); // unwritten outputs stay NaN
    return { ...p, y };
  });
  k.matmulTernaryParts(products, pq, pt, ps, cols, batch);
  return products.map((p) => k.f32(p.y, batch * p.rows).slice());
}

const EXTREME_Q: [string, (c: number) => number][] = [
  ["all 127", () => 127],
  ["all -128", () => -128],
  ["127/-128 alternating", (c) => (c % 2 ? -128 : 127)],
  ["-128 on odd 16-column runs", (c) => ((c >> 4) % 2 ? -128 : 127)],
];
const EXTREME_TRITS: [string, (r: number, c: number) => number][] = [
  ["all +1", () => 1],
  ["all -1", () => -1],
  ["row-dependent", (r, c) => ((r + c) % 3) - 1],
  ["+1 on one bit pair per row", (r, c) => ((c >> 4) % 4 === r % 4 ? 1 : 0)],
];

/** f32((f64(Σ trit·q) / f64(t)) · wScale), the scale-back of the reference, in plain numbers. */
function expectedTernary(
  trits: Int8Array,
  q: Int8Array,
  t: number,
  wScale: number,
  rows: number,
  cols: number,
  batch: number,
): Float32Array {
  const y = new Float32Array(batch * rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += trits[r * cols + c]! * q[b * cols + c]!;
      y[b * rows + r] = Math.fround((s / t) * wScale);
    }
  }
  return y;
}

/** One extreme case: `k`'s `matmulTernary` output and the float64 sum it must equal. */
export interface ExtremeTernaryCase {
  readonly got: Float32Array;
  readonly want: Float32Array;
  readonly label: string;
}

/**
 * Runs `k.matmulTernary` on 6 rows for every width, batch, activation and trit pattern
 * (odd batch rows flip 127 to -128, so that the rows of a pair or tile differ).
 */
export function* extremeTernaryCases(
  k: Kernels,
  colsList: readonly number[],
  batches: readonly number[],
): Generator<ExtremeTernaryCase> {
  const rows = 6, t = 0.75, wScale = 1.5;
  for (const cols of colsList) {
    for (const batch of batches) {
      for (const [qName, qOf] of EXTREME_Q) {
        for (const [tName, tritOf] of EXTREME_TRITS) {
          const trits = Int8Array.from(
            { length: rows * cols },
            (_, i) => tritOf(Math.floor(i / cols), i % cols),
          );
          const q = Int8Array.from({ length: batch * cols }, (_, i) => {
            const v = qOf(i % cols);
            return Math.floor(i / cols) % 2 && v === 127 ? -128 : v;
          });
          const pq = k.alloc(batch * cols), pt = k.alloc(batch * 4), ps = k.alloc(batch * 4);
          k.i8(pq, batch * cols).set(q);
          k.f32(pt, batch).fill(t);
          const sums = k.i32(ps, batch);
          for (let b = 0; b < batch; b++) {
            sums[b] = q.subarray(b * cols, (b + 1) * cols).reduce((a, v) => a + v, 0);
          }
          const w = k.alloc(k.ternaryBytes(rows, cols));
          k.packTernary(trits, rows, cols, w);
          const y = k.alloc(batch * rows * 4);
          k.matmulTernary(w, wScale, pq, pt, ps, y, rows, cols, batch);
          yield {
            got: k.f32(y, batch * rows),
            want: expectedTernary(trits, q, t, wScale, rows, cols, batch),
            label: `cols ${cols}, batch ${batch}, q ${qName}, trits ${tName}`,
          };
        }
      }
    }
  }
}
