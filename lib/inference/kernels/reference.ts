/**
 * The plain TypeScript reference backend: the straightforward loops that the
 * WebAssembly kernels are tested against. Slow, single-threaded, obvious.
 *
 * Its ternary layout is one signed byte per trit (−1, 0, +1), row-major.
 *
 * @example
 * ```ts
 * import { createReferenceKernels } from "./reference.ts";
 * const k = createReferenceKernels(1 << 20);
 * const x = k.alloc(4 * 4), g = k.alloc(4 * 4);
 * k.f32(x, 4).set([1, -2, 3, 4]);
 * k.f32(g, 4).fill(1);
 * k.rmsnorm(x, g, x, 4, 1, 1e-6);
 * ```
 * @module
 */

import type { Kernels, Ptr } from "./api.ts";
import { roundHalfEven } from "../../codecs/rounding.ts";
import { bf16ToF32, f16ToF32 } from "../../codecs/float.ts";

/** A bump allocator over one buffer (shared by both backends). */
export class BumpAllocator {
  #next: number;
  readonly limit: number;
  constructor(start: number, limit: number) {
    this.#next = start;
    this.limit = limit;
  }
  alloc(bytes: number, align = 64): Ptr {
    const ptr = Math.ceil(this.#next / align) * align;
    if (ptr + bytes > this.limit) {
      throw new RangeError(
        `kernel memory exhausted: need ${bytes} bytes at ${ptr}, limit ${this.limit}`,
      );
    }
    this.#next = ptr + bytes;
    return ptr;
  }
  get used(): number {
    return this.#next;
  }
}

/** Creates the reference backend with `bytes` bytes of memory. */
export function createReferenceKernels(bytes: number): Kernels {
  const buffer = new ArrayBuffer(bytes);
  const heap = new BumpAllocator(64, bytes);
  const f32 = (p: Ptr, n: number) => new Float32Array(buffer, p, n);
  const u16 = (p: Ptr, n: number) => new Uint16Array(buffer, p, n);
  const i8 = (p: Ptr, n: number) => new Int8Array(buffer, p, n);
  const i32 = (p: Ptr, n: number) => new Int32Array(buffer, p, n);

  function matmulWith(
    get: (r: number, c: number) => number,
    x: Ptr,
    y: Ptr,
    rows: number,
    cols: number,
    batch: number,
  ): void {
    const X = f32(x, batch * cols), Y = f32(y, batch * rows);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += get(r, c) * X[b * cols + c]!;
        Y[b * rows + r] = s;
      }
    }
  }

  return {
    name: "reference",
    threads: 1,
    buffer,
    alloc: (n, align) => heap.alloc(n, align),
    f32,
    i32,
    u16,
    u8: (p, n) => new Uint8Array(buffer, p, n),
    i8,

    matmulF32(w, x, y, rows, cols, batch) {
      const W = f32(w, rows * cols);
      matmulWith((r, c) => W[r * cols + c]!, x, y, rows, cols, batch);
    },
    matmulF16(w, x, y, rows, cols, batch) {
      const W = u16(w, rows * cols);
      matmulWith((r, c) => f16ToF32(W[r * cols + c]!), x, y, rows, cols, batch);
    },
    matmulBF16(w, x, y, rows, cols, batch) {
      const W = u16(w, rows * cols);
      matmulWith((r, c) => bf16ToF32(W[r * cols + c]!), x, y, rows, cols, batch);
    },

    quantizeRowsI8(x, q, scale, sum, cols, batch) {
      const X = f32(x, batch * cols), Q = i8(q, batch * cols);
      const T = f32(scale, batch), S = i32(sum, batch);
      for (let b = 0; b < batch; b++) {
        let max = 0;
        for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(X[b * cols + c]!));
        const t = Math.fround(127 / Math.max(max, 1e-5));
        let s = 0;
        for (let c = 0; c < cols; c++) {
          const v = Math.min(127, Math.max(-128, roundHalfEven(Math.fround(X[b * cols + c]! * t))));
          Q[b * cols + c] = v;
          s += v;
        }
        T[b] = t;
        S[b] = s;
      }
    },

    ternaryBytes: (rows, cols) => rows * cols,
    packTernary(trits, rows, cols, dst, rowOffset = 0, totalRows = rows) {
      if (rowOffset + rows > totalRows) throw new RangeError("packTernary: rows out of range");
      i8(dst + rowOffset * cols, rows * cols).set(trits.subarray(0, rows * cols));
    },
    matmulTernary(w, wScale, q, scale, _sum, y, rows, cols, batch) {
      const W = i8(w, rows * cols), Q = i8(q, batch * cols);
      const T = f32(scale, batch), Y = f32(y, batch * rows);
      for (let b = 0; b < batch; b++) {
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += W[r * cols + c]! * Q[b * cols + c]!;
          Y[b * rows + r] = (s / T[b]!) * wScale;
        }
      }
    },

    rmsnorm(x, g, out, n, batch, eps) {
      const X = f32(x, batch * n), G = f32(g, n), O = f32(out, batch * n);
      for (let b = 0; b < batch; b++) {
        let ss = 0;
        for (let i = 0; i < n; i++) ss += X[b * n + i]! * X[b * n + i]!;
        const inv = 1 / Math.sqrt(ss / n + eps);
        for (let i = 0; i < n; i++) O[b * n + i] = G[i]! * X[b * n + i]! * inv;
      }
    },
    close() {},
  };
}
