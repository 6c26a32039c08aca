/**
 * Ternary products at the limits of the kernels' i16 accumulators, shared by the
 * WebAssembly and the native kernel tests: every q at 127 or -128 (written directly:
 * quantizeRowsI8 never gives -128, a caller may) with every trit +1 (code 2, the largest
 * product), on rows long enough to fill whole 1024-column accumulator chunks and to end in a
 * partial one; each checked against a plain float64 sum computed here.
 *
 * @module
 */

import type { Kernels } from "../../lib/inference/kernels/api.ts";

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
