/**
 * Ternary products of random data in kernel memory, for the kernel benches
 * (bench/ternary_ab_bench.ts, bench/native_ternary_bench.ts): the 2B-4T layer's
 * shapes, random trits drawn once per shape, packed weights with quantized
 * activations ready for `matmulTernary`.
 *
 * @example
 * ```ts
 * import { createWasmKernels } from "../lib/inference/kernels/wasm.ts";
 * import { mulberry32 } from "../lib/inference/sampler.ts";
 * import { RandomTrits, ternaryProduct } from "./_ternary_products.ts";
 * const k = await createWasmKernels({ bytes: 8 << 20, threads: 1 });
 * const rnd = mulberry32(7);
 * const p = ternaryProduct(k, new RandomTrits(rnd), rnd, 2560, 2560, 1);
 * p.run(); // y = the product, in kernel memory at p.y
 * ```
 * @module
 */

import type { Kernels, Ptr } from "../lib/inference/kernels/api.ts";

/**
 * The 7 ternary products of one BitNet 2B-4T layer as [rows, cols]: q and o 2560 × 2560, k and
 * v 640 × 2560 (5 KV heads of 128), gate and up 6912 × 2560, down 2560 × 6912.
 */
export const LAYER_2B: readonly [number, number][] = [
  [2560, 2560],
  [640, 2560],
  [640, 2560],
  [2560, 2560],
  [6912, 2560],
  [6912, 2560],
  [2560, 6912],
];

/**
 * Random trits per shape, drawn once: matrices of one shape share their values but not their
 * memory, which is what streaming from DRAM needs (drawing 70 M trits a layer with a callback
 * per element took minutes for 30 layers).
 */
export class RandomTrits {
  #rnd: () => number;
  #byShape = new Map<string, Int8Array>();

  constructor(rnd: () => number) {
    this.#rnd = rnd;
  }

  of(rows: number, cols: number): Int8Array {
    const key = `${rows}x${cols}`;
    let trits = this.#byShape.get(key);
    if (trits === undefined) {
      trits = new Int8Array(rows * cols);
      for (let i = 0; i < trits.length; i++) trits[i] = Math.floor(this.#rnd() * 3) - 1;
      this.#byShape.set(key, trits);
    }
    return trits;
  }
}

/** One product's operands in kernel memory (`matmulTernary`'s arguments) and its run. */
export interface TernaryProduct {
  readonly rows: number;
  readonly cols: number;
  readonly batch: number;
  /** Packed weights (`ternaryBytes(rows, cols)` bytes), scaled by `wScale`. */
  readonly w: Ptr;
  readonly wScale: number;
  /** Activations as int8 (batch · cols), their scales (batch f32) and sums (batch i32). */
  readonly q: Ptr;
  readonly t: Ptr;
  readonly sum: Ptr;
  /** The output (batch · rows f32). */
  readonly y: Ptr;
  /** `matmulTernary` of the above into `y`. */
  run(): void;
  /** The output's bytes (a copy). */
  out(): Uint8Array;
}

/** Random trits (from `trits`) packed and `batch` random activation rows quantized, in `k`. */
export function ternaryProduct(
  k: Kernels,
  trits: RandomTrits,
  rnd: () => number,
  rows: number,
  cols: number,
  batch: number,
): TernaryProduct {
  const w = k.alloc(k.ternaryBytes(rows, cols));
  k.packTernary(trits.of(rows, cols), rows, cols, w);
  const x = k.alloc(batch * cols * 4);
  const xs = k.f32(x, batch * cols);
  for (let i = 0; i < xs.length; i++) xs[i] = rnd() * 2 - 1;
  const q = k.alloc(batch * cols), t = k.alloc(batch * 4), sum = k.alloc(batch * 4);
  k.quantizeRowsI8(x, q, t, sum, cols, batch);
  const y = k.alloc(batch * rows * 4), wScale = 0.5;
  return {
    rows,
    cols,
    batch,
    w,
    wScale,
    q,
    t,
    sum,
    y,
    run: () => k.matmulTernary(w, wScale, q, t, sum, y, rows, cols, batch),
    out: () => new Uint8Array(k.f32(y, batch * rows).slice().buffer),
  };
}
