/**
 * Linear layers over the kernels: a weight matrix is either ternary (BitNet
 * BitLinear: int8 activations × trits, docs/reference/formats.md, "BitNet b1.58 forward pass") or float (Llama, and the
 * full-precision embeddings / output layer of both families).
 *
 * @example
 * ```ts
 * import { createReferenceKernels } from "./kernels/reference.ts";
 * import { linear } from "./linear.ts";
 * const k = createReferenceKernels(1 << 16);
 * const w = k.alloc(16), x = k.alloc(8), y = k.alloc(8);
 * k.f32(w, 4).set([1, 2, 3, 4]);
 * k.f32(x, 2).set([1, 1]);
 * linear(k, { kind: "float", type: 0, name: "w", ptr: w, rows: 2, cols: 2 }, { x, cols: 2 }, y, 1);
 * k.f32(y, 2); // [3, 7]
 * ```
 * @module
 */

import { GgmlType } from "../codecs/table.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";

/** The kernel that multiplies each stored float type, by ggml type. */
const FLOAT_MATMUL = {
  [GgmlType.F32]: "matmulF32",
  [GgmlType.F16]: "matmulF16",
  [GgmlType.BF16]: "matmulBF16",
} as const;

/** The float types the kernels multiply directly. */
export type FloatType = keyof typeof FLOAT_MATMUL;

/** A float matrix kept in its stored type. */
export interface FloatMatrix {
  readonly kind: "float";
  readonly name: string;
  readonly type: FloatType;
  readonly ptr: Ptr;
  /** Output features. */
  readonly rows: number;
  /** Input features (contiguous). */
  readonly cols: number;
}

/** A ternary matrix in the backend's packed layout, times one scale. */
export interface TernaryMatrix {
  readonly kind: "ternary";
  readonly name: string;
  readonly ptr: Ptr;
  readonly scale: number;
  readonly rows: number;
  readonly cols: number;
}

/** Any weight matrix. */
export type Matrix = FloatMatrix | TernaryMatrix;

/** Int8 rows with their per-row scale and sum, as `quantizeRowsI8` writes them. */
export interface QuantizedRows {
  readonly q: Ptr;
  readonly scale: Ptr;
  readonly sum: Ptr;
}

/**
 * The input of a linear layer: float rows, and their int8 form when the weights are ternary
 * (AQ(x) of docs/reference/formats.md, "BitNet b1.58 forward pass", as `quantizeRowsI8` writes it).
 */
export interface LinearInput {
  readonly x: Ptr;
  readonly cols: number;
  readonly quantized?: QuantizedRows;
}

/**
 * y[batch, W.rows] = input[batch, W.cols] · Wᵀ.
 *
 * @example
 * ```ts
 * import type { Kernels, Ptr } from "./kernels/api.ts";
 * declare const k: Kernels, wGate: Matrix, f: LinearInput, gate: Ptr, batch: number;
 * linear(k, wGate, f, gate, batch);
 * ```
 */
export function linear(k: Kernels, w: Matrix, input: LinearInput, y: Ptr, batch: number): void {
  checkCols(w, input);
  if (w.kind === "ternary") {
    const q = input.quantized;
    if (!q) throw new RangeError(`${w.name}: a ternary weight needs int8-quantized input`);
    k.matmulTernary(w.ptr, w.scale, q.q, q.scale, q.sum, y, w.rows, w.cols, batch);
  } else {
    k[FLOAT_MATMUL[w.type]](w.ptr, input.x, y, w.rows, w.cols, batch);
  }
}

/**
 * y_i[batch, W_i.rows] = input · W_iᵀ for each matrix, e.g. q, k and v of a layer. When all
 * are ternary they go to the kernels as one product (one fork/join of the threads); the
 * results are those of one `linear` call per matrix.
 *
 * @example
 * ```ts
 * import type { Kernels, Ptr } from "./kernels/api.ts";
 * declare const k: Kernels, wGate: Matrix, wUp: Matrix, f: LinearInput, gate: Ptr, up: Ptr;
 * linearGroup(k, [wGate, wUp], f, [gate, up], 1);
 * ```
 */
export function linearGroup(
  k: Kernels,
  ws: readonly Matrix[],
  input: LinearInput,
  ys: readonly Ptr[],
  batch: number,
): void {
  const q = input.quantized;
  const ternary = ws.filter((w): w is TernaryMatrix => w.kind === "ternary");
  if (q === undefined || ternary.length !== ws.length || ws.length > 3) {
    ws.forEach((w, i) => linear(k, w, input, ys[i]!, batch));
    return;
  }
  for (const w of ws) checkCols(w, input);
  const products = ternary.map((w, i) => ({ w: w.ptr, wScale: w.scale, y: ys[i]!, rows: w.rows }));
  k.matmulTernaryParts(products, q.q, q.scale, q.sum, input.cols, batch);
}

function checkCols(w: Matrix, input: LinearInput): void {
  if (input.cols !== w.cols) {
    throw new RangeError(`${w.name}: input has ${input.cols} columns, weight has ${w.cols}`);
  }
}
