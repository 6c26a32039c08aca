/**
 * The exact 8-bit output head: the best `k` logits of an F16 output layer,
 * bit for bit those of the F16 kernel, at the cost of an int8 pass.
 *
 * WebAssembly has no F16 instructions, so the F16 head (128,256 × 2560 on
 * BitNet 2B-4T) is bound by decoding, not by memory. At load, each row w of
 * the output matrix gets an int8 copy q = round(w / s) with s = max|w| / 127,
 * plus the norms ‖s·q‖, ‖w − s·q‖ and ‖w‖ (f64). Per token the activation x
 * is quantized the same way (x = t·p + e), every row is scored with the exact
 * integer dot p·q, and the error of each score is bounded:
 *
 *   |w·x − s·t·(q·p)| ≤ ‖s·q‖·‖e‖ + ‖w − s·q‖·‖x‖          (Cauchy–Schwarz)
 *   |f16 kernel − w·x| ≤ 2·cols·2⁻²⁴ · ‖w‖·‖x‖             (f32 products and sums, any order)
 *
 * Every row whose upper bound reaches the k-th best lower bound is recomputed
 * with the F16 kernel itself; the others cannot be among the best k (their
 * true logit is strictly below the k-th best). Greedy ids and top-k logits are
 * therefore exactly those of the full F16 head. The copy is built by the
 * kernels' `int8HeadRows` (WebAssembly, byte for byte {@link int8HeadRowsReference}),
 * four rows interleaved ({@link int8HeadOffset}) so that the screening reads one stream;
 * the F16 rows come from an {@link F16Rows} source (output_head.ts reads them
 * from the file). Anything that needs every logit
 * (NLL, KL, sampling with a temperature) runs the F16 kernel over every row
 * (docs/explanation/int8-output-head.md).
 *
 * @example
 * ```ts
 * import type { Kernels, Ptr } from "./kernels/api.ts";
 * declare const k: Kernels, rows: F16Rows, w: Ptr, y: Ptr, logits: Ptr;
 * const builder = new Int8HeadBuilder(k, rows.rows, rows.cols);
 * builder.add(w, 0, rows.rows); // every row, as F16 at `w`
 * const head = builder.finish(rows); // null if the matrix holds an infinity or NaN
 * if (head) exactTopLogits(k, head, y, 10, logits); // the rows of `logits` that hold values
 * ```
 * @module
 */

import { f16ToF32Array } from "../codecs/float_bulk.ts";
import { GgmlType } from "../codecs/table.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";

/** Where the F16 rows the head recomputes come from (output_head.ts: read from the file). */
export interface F16Rows {
  readonly name: string;
  readonly rows: number;
  readonly cols: number;
  /** The most rows one `at` call can hand out. */
  readonly maxRows: number;
  /** A pointer to rows [r0, r0 + count) as F16 in kernel memory (valid until the next call). */
  at(r0: number, count: number): Ptr;
}

/** The int8 copy of an F16 output matrix and its per-row norms. */
export interface Int8Head {
  readonly source: F16Rows;
  /** The int8 copy in kernel memory, {@link int8HeadOffset}'s layout. */
  readonly q: Ptr;
  /** Scratch: the activation as int8 (`cols`), the integer scores (`rows` int32). */
  readonly x8: Ptr;
  readonly dots: Ptr;
  /**
   * Per row r, at 3r..3r+2: s, ‖s·q‖, and ‖w − s·q‖ + 2·cols·2⁻²⁴·‖w‖ (the part multiplied
   * by ‖x‖); a view of kernel memory.
   */
  readonly stats: Float64Array;
  /** Scratch of the screening: every row's upper bound (`rows` f64, JavaScript memory). */
  readonly upper: Float64Array;
}

/** Relative slack on every bound, far above the f64 rounding of the norms and products. */
const SLACK = 1e-6;

/**
 * Kernel-memory bytes the head needs (int8 copy, per-row norms and scratch, with alignment).
 *
 * @example
 * ```ts
 * int8HeadBytes(128256, 2560); // ≈ 331 MB
 * ```
 */
export function int8HeadBytes(rows: number, cols: number): number {
  return int8HeadCopyBytes(rows, cols) + rows * 24 + cols + rows * 4 + 4 * 64;
}

/**
 * Where row `r`, column `c` of the int8 copy lies (bytes from its start): the rows go in
 * groups of four (4·cols bytes each), and within a group each 16-column block holds the
 * four rows' 16 codes in turn, so that the screening kernel reads one stream and each
 * activation load serves four rows. `cols` is a multiple of 16.
 *
 * @example
 * ```ts
 * int8HeadOffset(5, 17, 32); // group 1 (128 bytes on), block 1 (64 on), row 1 of it (16 on), byte 1
 * ```
 */
export function int8HeadOffset(r: number, c: number, cols: number): number {
  return (r >> 2) * 4 * cols + (c >> 4) * 64 + (r & 3) * 16 + (c & 15);
}

/**
 * Bytes of the int8 copy of `rows` rows of `cols`: whole groups of four rows (the missing
 * rows of the last group are zero codes, scored but never read).
 *
 * @example
 * ```ts
 * int8HeadCopyBytes(5, 32); // 256: two groups of four rows
 * ```
 */
export function int8HeadCopyBytes(rows: number, cols: number): number {
  return Math.ceil(rows / 4) * 4 * cols;
}

/**
 * Whether a matrix of this type and width can get an exact int8 head (F16 rows whose
 * width is a multiple of 16).
 *
 * @example
 * ```ts
 * import { GgmlType } from "../codecs/table.ts";
 * int8HeadFits({ type: GgmlType.F16, cols: 2560 }); // true
 * ```
 */
export function int8HeadFits(m: { readonly type: number; readonly cols: number }): boolean {
  return m.type === GgmlType.F16 && m.cols % 16 === 0 && m.cols * 127 * 127 < 2 ** 31;
}

/** The f32 rounding term of the bound: |f16 kernel − w·x| ≤ gamma·‖w‖·‖x‖. */
function gammaOf(cols: number): number {
  return 2 * cols * 2 ** -24;
}

/**
 * The reference build of the int8 copy, in plain TypeScript (the kernels'
 * `int8HeadRows` must match it byte for byte): per row of F16 bits `w`
 * (`rows × cols`), s = max|w| / 127, q = Math.round(w / s) (0 when s = 0), and in
 * `stats` (3 per row) s, ‖s·q‖ and ‖w − s·q‖ + gamma·‖w‖, the sums taken in f64 in
 * column order. Returns how many rows hold an infinity or NaN.
 *
 * @example
 * ```ts
 * import { f32ToF16 } from "../codecs/float.ts";
 * const w = new Uint16Array(16).fill(f32ToF16(0.5)), q = new Int8Array(16);
 * const stats = new Float64Array(3);
 * int8HeadRowsReference(w, q, stats, 16, 0); // q all 127, stats[0] = 0.5 / 127
 * ```
 */
export function int8HeadRowsReference(
  w: Uint16Array,
  q: Int8Array,
  stats: Float64Array,
  cols: number,
  gamma: number,
): number {
  const rows = w.length / cols, v = new Float32Array(cols);
  let bad = 0;
  for (let r = 0; r < rows; r++) {
    f16ToF32Array(w.subarray(r * cols, (r + 1) * cols), v);
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(v[c]!));
    if (!Number.isFinite(max)) bad++;
    const s = max / 127, Q = q.subarray(r * cols, (r + 1) * cols);
    let qq = 0, ee = 0, ww = 0;
    for (let c = 0; c < cols; c++) {
      const x = v[c]!, qi = s > 0 ? Math.round(x / s) : 0, sq = s * qi, e = x - sq;
      Q[c] = qi;
      qq += sq * sq;
      ee += e * e;
      ww += x * x;
    }
    stats[3 * r] = s;
    stats[3 * r + 1] = Math.sqrt(qq);
    stats[3 * r + 2] = Math.sqrt(ee) + gamma * Math.sqrt(ww);
  }
  return bad;
}

/**
 * A head whose int8 copy is filled slab by slab ({@link Int8HeadBuilder.add}):
 * the F16 rows need never all be in memory at once.
 *
 * @example
 * ```ts
 * import type { Kernels, Ptr } from "./kernels/api.ts";
 * declare const k: Kernels, rows: F16Rows, slab: Ptr;
 * const builder = new Int8HeadBuilder(k, rows.rows, rows.cols);
 * builder.add(slab, 0, 64); // rows 0..63, as F16 at `slab`
 * const head = builder.finish(rows); // null if a row held an infinity or NaN
 * ```
 */
export class Int8HeadBuilder {
  readonly rows: number;
  readonly cols: number;
  #k: Kernels;
  #q: Ptr;
  #stats: Ptr;
  #bad = 0;
  #filled = 0;

  constructor(k: Kernels, rows: number, cols: number) {
    if (!int8HeadFits({ type: GgmlType.F16, cols })) {
      throw new RangeError(`no int8 head for rows of ${cols} columns`);
    }
    this.#k = k;
    this.rows = rows;
    this.cols = cols;
    const copyBytes = int8HeadCopyBytes(rows, cols);
    this.#q = k.alloc(copyBytes);
    // The last group's missing rows: zero codes, whatever the memory held before (the
    // group is cleared before its rows are written: they are interleaved with the missing ones).
    k.i8(this.#q + copyBytes - 4 * cols, 4 * cols).fill(0);
    this.#stats = k.alloc(rows * 24);
  }

  /** Copies `count` F16 rows at `w` (rows r0… of the matrix), in order. */
  add(w: Ptr, r0: number, count: number): void {
    if (r0 !== this.#filled || r0 + count > this.rows) {
      throw new RangeError(`int8 head: rows ${r0}..${r0 + count} added after ${this.#filled}`);
    }
    const { cols } = this;
    this.#bad += this.#k.int8HeadRows(w, this.#q, this.#stats, r0, count, cols, gammaOf(cols));
    this.#filled += count;
  }

  /** The head over `source` (the same rows), or null when a row was not finite. */
  finish(source: F16Rows): Int8Head | null {
    if (this.#filled !== this.rows) {
      throw new RangeError(`int8 head: ${this.#filled} of ${this.rows} rows added`);
    }
    if (this.#bad > 0) return null;
    const k = this.#k, x8 = k.alloc(this.cols), dots = k.alloc(this.rows * 4);
    const stats = new Float64Array(k.buffer, this.#stats, this.rows * 3);
    return { source, q: this.#q, x8, dots, stats, upper: new Float64Array(this.rows) };
  }
}

/**
 * Writes into `logits` (`rows` f32 in kernel memory) the F16 kernel's logits of
 * every row that may be among the `want` best for the activation at `x`
 * (`cols` f32), and −Infinity everywhere else; returns those rows. The top
 * `want` of `logits` then equal those of the full F16 head exactly. Returns
 * null (and writes nothing) when x holds a non-finite value.
 *
 * @example
 * ```ts
 * import type { Kernels } from "./kernels/api.ts";
 * declare const k: Kernels, head: Int8Head, y: number, logits: number;
 * exactTopLogits(k, head, y, 1, logits); // then argmax(logits) is the F16 head's greedy id
 * ```
 */
export function exactTopLogits(
  k: Kernels,
  head: Int8Head,
  x: Ptr,
  want: number,
  logits: Ptr,
): number[] | null {
  const { rows, cols, maxRows } = head.source;
  const act = quantizeActivation(k.f32(x, cols), k.i8(head.x8, cols));
  if (!act) return null;
  k.scoreRowsI8(head.q, head.x8, head.dots, rows, cols);
  const candidates = screen(head, k.i32(head.dots, rows), act, Math.max(1, want));
  const out = k.f32(logits, rows);
  out.fill(-Infinity);
  for (let i = 0; i < candidates.length;) {
    let j = i + 1; // one kernel call (and one read, if from the file) per run of consecutive rows
    while (
      j < candidates.length && j - i < maxRows && candidates[j] === candidates[j - 1]! + 1
    ) j++;
    const r = candidates[i]!;
    k.matmulF16(head.source.at(r, j - i), x, logits + r * 4, j - i, cols, 1);
    i = j;
  }
  return candidates;
}

/** The activation's int8 form, its scale and the norms of x and of its residual. */
interface Activation {
  readonly t: number;
  readonly xNorm: number;
  readonly eNorm: number;
}

function quantizeActivation(x: Float32Array, p: Int8Array): Activation | null {
  let max = 0;
  for (let c = 0; c < x.length; c++) {
    const v = Math.abs(x[c]!);
    if (!Number.isFinite(v)) return null;
    if (v > max) max = v;
  }
  const t = max / 127;
  let xx = 0, ee = 0;
  for (let c = 0; c < x.length; c++) {
    const v = x[c]!, pi = t > 0 ? Math.round(v / t) : 0, e = v - t * pi;
    p[c] = pi;
    xx += v * v;
    ee += e * e;
  }
  return { t, xNorm: Math.sqrt(xx), eNorm: Math.sqrt(ee) };
}

/**
 * Rows whose upper bound reaches the `want`-th best lower bound, ascending. One pass
 * computes every row's bounds (the upper ones kept in the head's scratch) and the
 * `want` best lower bounds; a second pass keeps the rows whose upper bound reaches them.
 */
function screen(head: Int8Head, dots: Int32Array, a: Activation, want: number): number[] {
  const { stats, upper } = head, rows = dots.length, t = a.t, eNorm = a.eNorm, xNorm = a.xNorm;
  const best = new Float64Array(want).fill(-Infinity); // the `want` largest lower bounds, descending
  let floor = -Infinity; // best[want - 1]: a row must beat it to enter
  for (let r = 0; r < rows; r++) {
    const v = stats[3 * r]! * t * dots[r]!;
    const e = (stats[3 * r + 1]! * eNorm + stats[3 * r + 2]! * xNorm) * (1 + SLACK) +
      SLACK * 1e-3 * (Math.abs(v) + 1e-30);
    upper[r] = v + e;
    const low = v - e;
    if (low <= floor) continue;
    let i = want - 1;
    while (i > 0 && best[i - 1]! < low) {
      best[i] = best[i - 1]!;
      i--;
    }
    best[i] = low;
    floor = best[want - 1]!;
  }
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (upper[r]! >= floor) out.push(r);
  return out;
}
