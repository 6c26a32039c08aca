/**
 * The one interface every compute backend implements: the plain TypeScript
 * reference (`reference.ts`, the oracle in tests) and the WebAssembly SIMD
 * backend (`wasm.ts`). All buffers live in the backend's own memory and are
 * addressed by byte offset (a "pointer"), so the WebAssembly backend and its
 * worker threads see the same bytes without copies.
 *
 * The memory is sized once, up front, by the model loader (weights, KV cache
 * and scratch), and never grows: views taken from it stay valid.
 *
 * Matrix conventions: a weight matrix has `rows` output features and `cols`
 * input features, stored row-major (ggml's ne[0] = cols is contiguous). A batch
 * of `batch` activation rows is row-major `[batch, cols]`; outputs are
 * `[batch, rows]`.
 *
 * @example
 * ```ts
 * import { createReferenceKernels } from "./reference.ts";
 * const k = createReferenceKernels(1 << 16);
 * const w = k.alloc(4 * 4), x = k.alloc(2 * 4), y = k.alloc(2 * 4);
 * k.f32(w, 4).set([1, 2, 3, 4]); // 2 rows x 2 cols
 * k.f32(x, 2).set([1, 1]);
 * k.matmulF32(w, x, y, 2, 2, 1); // y = [3, 7]
 * ```
 * @module
 */

import type { AttentionOperands, AttentionShape } from "../attention.ts";

/** A byte offset into the backend's memory. */
export type Ptr = number;

/** One product of {@link Kernels.matmulTernaryParts}: packed trits, their scale, the output. */
export interface TernaryProduct {
  readonly w: Ptr;
  readonly wScale: number;
  readonly y: Ptr;
  readonly rows: number;
}

/** How many trits of a packed range were −1, 0 and +1 ({@link Kernels.packTernaryI2S}). */
export interface CodeCounts {
  neg: number;
  zero: number;
  pos: number;
}

/** Compute kernels over one flat memory. */
export interface Kernels {
  /** "reference" or "wasm-simd", "wasm-relaxed-simd"... */
  readonly name: string;
  /** Worker threads used by the matmuls (1 = the calling thread only). */
  readonly threads: number;
  /** The whole memory; every `Ptr` indexes into it. */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;

  /** Reserves `bytes` bytes aligned to `align` (default 64); throws when memory is exhausted. */
  alloc(bytes: number, align?: number): Ptr;
  /** Views (valid for the backend's life). */
  f32(ptr: Ptr, n: number): Float32Array;
  i32(ptr: Ptr, n: number): Int32Array;
  u16(ptr: Ptr, n: number): Uint16Array;
  u8(ptr: Ptr, n: number): Uint8Array;
  i8(ptr: Ptr, n: number): Int8Array;

  /** y[b, r] = Σ_c W[r, c] · x[b, c], W f32. */
  matmulF32(w: Ptr, x: Ptr, y: Ptr, rows: number, cols: number, batch: number): void;
  /** Same with W stored as IEEE half (u16 bits). */
  matmulF16(w: Ptr, x: Ptr, y: Ptr, rows: number, cols: number, batch: number): void;
  /** Same with W stored as bfloat16 (u16 bits). */
  matmulBF16(w: Ptr, x: Ptr, y: Ptr, rows: number, cols: number, batch: number): void;

  /**
   * BitNet activation quantization per row (docs/reference/formats.md, "BitNet b1.58 forward pass"):
   * t = 127 / max(max|x|, 1e-5); q = clamp(roundHalfEven(x·t), −128, 127).
   * Writes q (int8, `[batch, cols]`), t (f32 per row) and Σq (i32 per row).
   */
  quantizeRowsI8(
    x: Ptr,
    q: Ptr,
    scale: Ptr,
    sum: Ptr,
    cols: number,
    batch: number,
  ): void;

  /** Bytes needed for a ternary matrix in this backend's packed layout. */
  ternaryBytes(rows: number, cols: number): number;
  /**
   * Packs trits (−1, 0, +1; `rows × cols` row-major, given in `trits` which may
   * be any JS memory) into the backend layout at `dst` (`ternaryBytes` long).
   * `rowOffset` lets a caller pack a big matrix a slab of rows at a time.
   */
  packTernary(
    trits: Int8Array,
    rows: number,
    cols: number,
    dst: Ptr,
    rowOffset?: number,
    totalRows?: number,
  ): void;
  /**
   * A view of kernel memory (at least 1 MiB) that a loader may fill with file
   * bytes for `packTernaryI2S` / `packTernaryHalf`, which then pack them where
   * they lie: no copy, and Deno 2.9 reads the page cache into WebAssembly
   * memory at ≈ 7 GB/s, into an ordinary ArrayBuffer of that size at a quarter
   * of it (docs/performance.md). The same view on every call: one loader at a
   * time, and no batched F16 matmul (which prepares its activations there)
   * between a read into it and the packing.
   */
  loadStaging(): Uint8Array;
  /**
   * Same as `packTernary` from I2_S codes instead of trits: `codes` holds
   * `rows` rows of 2-bit codes in the I2_S layout (docs/reference/formats.md,
   * "I2_S": code = trit + 1, each 128 elements of a row in 32 bytes), `cols` a
   * multiple of 128. Loading an I2_S file this way never expands the weights
   * to one byte per trit (16-bit ternary values: `packTernaryHalf`). Throws a
   * RangeError on the invalid code 3 (the caller reports it through the codec).
   * Returns how many of the `rows · cols` codes were −1, 0 and +1, counted on
   * the way (model-validate's statistics need no second pass over the bytes).
   */
  packTernaryI2S(
    codes: Uint8Array,
    rows: number,
    cols: number,
    dst: Ptr,
    rowOffset: number,
    totalRows: number,
  ): CodeCounts;
  /**
   * Same as `packTernaryI2S` from 16-bit values (F16 or BF16 bit patterns,
   * `rows × cols`, `cols` a multiple of 64) that are exactly −s, ±0 or +s,
   * `sBits` the pattern of +s (0 while no non-zero value has been seen: then
   * only zeros are valid). A clean export's projections load this way without
   * a pass over them in TypeScript. Returns the counts, or null at a value that
   * is none of the three (`dst` then holds partial rows; the caller takes the
   * general path, which names the value).
   */
  packTernaryHalf(
    bits: Uint16Array,
    rows: number,
    cols: number,
    sBits: number,
    dst: Ptr,
    rowOffset: number,
    totalRows: number,
  ): CodeCounts | null;
  /**
   * y[b, r] = wScale · (Σ_c trit[r, c] · q[b, c]) / t[b]: an int8 × ternary
   * product (exact in integers) scaled back to floats. `q`, `scale`, `sum` as
   * written by `quantizeRowsI8`.
   */
  matmulTernary(
    w: Ptr,
    wScale: number,
    q: Ptr,
    scale: Ptr,
    sum: Ptr,
    y: Ptr,
    rows: number,
    cols: number,
    batch: number,
  ): void;

  /**
   * Several ternary products of the same int8 rows at once (q, k and v of a
   * layer; gate and up), each `matmulTernary(p.w, p.wScale, q, scale, sum, p.y,
   * p.rows, cols, batch)`, with the same results. The WebAssembly backend splits
   * the rows of all of them over its threads in one job: one fork/join instead
   * of one per product. At most 3 products.
   */
  matmulTernaryParts(
    products: readonly TernaryProduct[],
    q: Ptr,
    scale: Ptr,
    sum: Ptr,
    cols: number,
    batch: number,
  ): void;

  /**
   * y[r] = Σ_c w[r, c] · x[c] as exact int32 for `rows` rows of the int8 head's copy
   * at `w` (four rows interleaved, `int8HeadOffset` of int8_head.ts; `cols` a multiple
   * of 16), `x` the activation as int8 values within ±127: the screening pass of the
   * exact 8-bit output head, split by rows over the threads like the matmuls.
   */
  scoreRowsI8(w: Ptr, x: Ptr, y: Ptr, rows: number, cols: number): void;
  /**
   * Rows [row0, row0 + rows) of the exact 8-bit output head's copy, from their F16
   * bits at `w` (`cols` a multiple of 16): int8 codes into the copy at `q`
   * (`int8HeadOffset` layout, whose start `q` is) and per row r at `stats + 24·r`
   * three f64 (the scale s, ‖s·q‖, ‖w − s·q‖ + gamma·‖w‖), byte for byte what
   * `int8HeadRowsReference` (int8_head.ts) computes. Returns how many of these rows
   * hold an f16 infinity or NaN (the copy of such a row is meaningless).
   */
  int8HeadRows(
    w: Ptr,
    q: Ptr,
    stats: Ptr,
    row0: number,
    rows: number,
    cols: number,
    gamma: number,
  ): number;

  /**
   * One layer's causal attention (`causalAttention` of attention.ts) over operands in
   * this memory. The WebAssembly backend splits the query heads over its threads when
   * the work is large enough (a prompt, a long context); each head is computed by the
   * same code either way, so the results do not change.
   */
  attention(shape: AttentionShape, operands: AttentionOperands): void;

  /**
   * out[r] = log Σ exp(x[r, ·]) (f64) for `rows` rows of `cols` f32 at `x`: softmax.ts's
   * `logSumExp`, run as is on each row (the same bits), the rows split over the threads
   * like a matmul's. The NLL's log-likelihoods: one row per position.
   */
  logSumExpRows(x: Ptr, out: Ptr, rows: number, cols: number): void;

  /** out[b] = g ⊙ x[b] / sqrt(mean(x[b]²) + eps), in place allowed (out = x). */
  rmsnorm(x: Ptr, g: Ptr, out: Ptr, n: number, batch: number, eps: number): void;

  /**
   * BitNet's gated activation, gate[i] = relu(gate[i])² · up[i] over `n` floats, each
   * product in f64 and rounded once to f32 (relu maps NaN and −0 to +0).
   */
  relu2Mul(gate: Ptr, up: Ptr, n: number): void;

  /** Stops worker threads. */
  close(): void;
}

/** The typed views every backend hands out, over its one buffer. */
export type MemoryViews = Pick<Kernels, "f32" | "i32" | "u16" | "u8" | "i8">;

/**
 * Views of `buffer` at byte offsets (shared by both backends).
 *
 * @example
 * ```ts
 * memoryViews(new ArrayBuffer(64)).f32(16, 4).length; // 4
 * ```
 */
export function memoryViews(buffer: ArrayBuffer | SharedArrayBuffer): MemoryViews {
  return {
    f32: (p, n) => new Float32Array(buffer, p, n),
    i32: (p, n) => new Int32Array(buffer, p, n),
    u16: (p, n) => new Uint16Array(buffer, p, n),
    u8: (p, n) => new Uint8Array(buffer, p, n),
    i8: (p, n) => new Int8Array(buffer, p, n),
  };
}
