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
 * therefore exactly those of the full F16 head. Anything that needs every
 * logit (NLL, KL, sampling with a temperature) keeps the F16 head.
 *
 * @example
 * ```ts
 * import type { Kernels } from "./kernels/api.ts";
 * import type { FloatMatrix } from "./linear.ts";
 * declare const k: Kernels, output: FloatMatrix, y: number, logits: number;
 * const head = buildInt8Head(k, output);
 * const recomputed = exactTopLogits(k, head, y, 10, logits); // rows of `logits` that hold values
 * ```
 * @module
 */

import { f16ToF32Array } from "../codecs/float_bulk.ts";
import { GgmlType } from "../codecs/table.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { FloatMatrix } from "./linear.ts";

/** The int8 copy of an F16 output matrix and its per-row norms. */
export interface Int8Head {
  readonly matrix: FloatMatrix;
  /** `rows × cols` int8 in kernel memory. */
  readonly q: Ptr;
  /** Scratch: the activation as int16 (`cols`), the integer scores (`rows` int32). */
  readonly x16: Ptr;
  readonly dots: Ptr;
  /** Per row: s, ‖s·q‖, and ‖w − s·q‖ + 2·cols·2⁻²⁴·‖w‖ (the part multiplied by ‖x‖). */
  readonly scale: Float64Array;
  readonly qNorm: Float64Array;
  readonly xCoef: Float64Array;
}

/** Relative slack on every bound, far above the f64 rounding of the norms and products. */
const SLACK = 1e-6;

/**
 * Kernel-memory bytes the head needs (int8 copy and scratch, with alignment).
 *
 * @example
 * ```ts
 * int8HeadBytes(128256, 2560); // ≈ 328 MB
 * ```
 */
export function int8HeadBytes(rows: number, cols: number): number {
  return rows * cols + cols * 2 + rows * 4 + 3 * 64;
}

/**
 * Whether `m` can get an exact int8 head (F16 rows whose width is a multiple of 16).
 *
 * @example
 * ```ts
 * import type { FloatMatrix } from "./linear.ts";
 * declare const m: FloatMatrix;
 * if (int8HeadFits(m)) console.log("int8 head possible");
 * ```
 */
export function int8HeadFits(m: FloatMatrix): boolean {
  return m.type === GgmlType.F16 && m.cols % 16 === 0 && m.cols * 127 * 127 < 2 ** 31;
}

/**
 * Makes the int8 copy of the F16 matrix `m` (already in kernel memory) and its norms.
 *
 * @example
 * ```ts
 * import type { Kernels } from "./kernels/api.ts";
 * import type { FloatMatrix } from "./linear.ts";
 * declare const k: Kernels, m: FloatMatrix;
 * const head = buildInt8Head(k, m);
 * ```
 */
export function buildInt8Head(k: Kernels, m: FloatMatrix): Int8Head {
  if (!int8HeadFits(m)) throw new RangeError(`${m.name}: no int8 head for this matrix`);
  const { rows, cols } = m;
  const q = k.alloc(rows * cols), x16 = k.alloc(cols * 2), dots = k.alloc(rows * 4);
  const scale = new Float64Array(rows), qNorm = new Float64Array(rows);
  const xCoef = new Float64Array(rows);
  const w = new Float32Array(cols), gamma = 2 * cols * 2 ** -24;
  for (let r = 0; r < rows; r++) {
    f16ToF32Array(k.u16(m.ptr + r * cols * 2, cols), w);
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[c]!));
    const s = max / 127, Q = k.i8(q + r * cols, cols);
    let qq = 0, ee = 0, ww = 0;
    for (let c = 0; c < cols; c++) {
      const v = w[c]!, qi = s > 0 ? Math.round(v / s) : 0, sq = s * qi, e = v - sq;
      Q[c] = qi;
      qq += sq * sq;
      ee += e * e;
      ww += v * v;
    }
    scale[r] = s;
    qNorm[r] = Math.sqrt(qq);
    xCoef[r] = Math.sqrt(ee) + gamma * Math.sqrt(ww);
  }
  return { matrix: m, q, x16, dots, scale, qNorm, xCoef };
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
  const { rows, cols, ptr } = head.matrix;
  const act = quantizeActivation(k.f32(x, cols), new Int16Array(k.buffer, head.x16, cols));
  if (!act) return null;
  k.scoreRowsI8(head.q, head.x16, head.dots, rows, cols);
  const candidates = screen(head, k.i32(head.dots, rows), act, Math.max(1, want));
  const out = k.f32(logits, rows);
  out.fill(-Infinity);
  for (let i = 0; i < candidates.length;) {
    let j = i + 1; // one kernel call per run of consecutive rows
    while (j < candidates.length && candidates[j] === candidates[j - 1]! + 1) j++;
    const r = candidates[i]!;
    k.matmulF16(ptr + r * cols * 2, x, logits + r * 4, j - i, cols, 1);
    i = j;
  }
  return candidates;
}

/** The activation's int8 form (as int16), its scale and the norms of x and of its residual. */
interface Activation {
  readonly t: number;
  readonly xNorm: number;
  readonly eNorm: number;
}

function quantizeActivation(x: Float32Array, p: Int16Array): Activation | null {
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

/** Rows whose upper bound reaches the `want`-th best lower bound, ascending. */
function screen(head: Int8Head, dots: Int32Array, a: Activation, want: number): number[] {
  const { scale, qNorm, xCoef } = head, rows = dots.length;
  const approx = new Float64Array(rows), err = new Float64Array(rows);
  const best: number[] = []; // the `want` largest lower bounds, descending
  for (let r = 0; r < rows; r++) {
    const v = scale[r]! * a.t * dots[r]!;
    const e = (qNorm[r]! * a.eNorm + xCoef[r]! * a.xNorm) * (1 + SLACK) +
      SLACK * 1e-3 * (Math.abs(v) + 1e-30);
    approx[r] = v;
    err[r] = e;
    const low = v - e;
    if (best.length === want && low <= best[want - 1]!) continue;
    let i = best.length;
    while (i > 0 && best[i - 1]! < low) i--;
    best.splice(i, 0, low);
    if (best.length > want) best.pop();
  }
  const threshold = best.length < want ? -Infinity : best[want - 1]!;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) if (approx[r]! + err[r]! >= threshold) out.push(r);
  return out;
}
