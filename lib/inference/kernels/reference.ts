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

import { type CodeCounts, type Kernels, type MemoryViews, memoryViews, type Ptr } from "./api.ts";
import { roundHalfEven } from "../../codecs/rounding.ts";
import { bf16ToF32, f16ToF32 } from "../../codecs/float.ts";
import { classifyBits16, ternaryCodeTable16 } from "../../codecs/ternary_bits.ts";
import { int8HeadCopyBytes, int8HeadOffset, int8HeadRowsReference } from "../int8_head.ts";
import { attendInMemory } from "../attention.ts";
import { logSumExp } from "../softmax.ts";

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

/** y[b, r] = Σ_c W[r, c] · x[b, c], with W[r, c] = `weight(r · cols + c)` decoded from any type. */
function floatMatmul(v: MemoryViews, weight: (w: Ptr, n: number) => (i: number) => number) {
  return (w: Ptr, x: Ptr, y: Ptr, rows: number, cols: number, batch: number): void => {
    const W = weight(w, rows * cols), X = v.f32(x, batch * cols), Y = v.f32(y, batch * rows);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += W(r * cols + c) * X[b * cols + c]!;
        Y[b * rows + r] = s;
      }
    }
  };
}

/** AQ(x) per row: t = 127 / max(max|x|, 1e-5), q = clamp(roundHalfEven(x·t), −128, 127), Σq. */
function quantizeRows(v: MemoryViews): Kernels["quantizeRowsI8"] {
  return (x, q, scale, sum, cols, batch) => {
    const X = v.f32(x, batch * cols), Q = v.i8(q, batch * cols);
    const T = v.f32(scale, batch), S = v.i32(sum, batch);
    for (let b = 0; b < batch; b++) {
      let max = 0;
      for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(X[b * cols + c]!));
      const t = Math.fround(127 / Math.max(max, 1e-5));
      let s = 0;
      for (let c = 0; c < cols; c++) {
        const q = Math.min(127, Math.max(-128, roundHalfEven(Math.fround(X[b * cols + c]! * t))));
        Q[b * cols + c] = q;
        s += q;
      }
      T[b] = t;
      S[b] = s;
    }
  };
}

/** `scoreRowsI8` over `v`: each row's dot product with the activation, column by column. */
function scoreRowsI8Of(v: MemoryViews): Kernels["scoreRowsI8"] {
  return (w, x, y, rows, cols) => {
    const W = v.i8(w, int8HeadCopyBytes(rows, cols)), X = v.i8(x, cols), Y = v.i32(y, rows);
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += W[int8HeadOffset(r, c, cols)]! * X[c]!;
      Y[r] = s;
    }
  };
}

/** `logSumExpRows` over `buffer`: softmax.ts's logSumExp on each row. */
function logSumExpRowsOf(buffer: ArrayBuffer): Kernels["logSumExpRows"] {
  return (x, out, rows, cols) => {
    const o = new Float64Array(buffer, out, rows);
    for (let r = 0; r < rows; r++) {
      o[r] = logSumExp(new Float32Array(buffer, x + r * cols * 4, cols));
    }
  };
}

/** y = wScale · (Σ trit · q) / t, one signed byte per trit. */
function ternaryMatmul(v: MemoryViews): Kernels["matmulTernary"] {
  return (w, wScale, q, scale, _sum, y, rows, cols, batch) => {
    const W = v.i8(w, rows * cols), Q = v.i8(q, batch * cols);
    const T = v.f32(scale, batch), Y = v.f32(y, batch * rows);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += W[r * cols + c]! * Q[b * cols + c]!;
        Y[b * rows + r] = (s / T[b]!) * wScale;
      }
    }
  };
}

function rmsnormRows(v: MemoryViews): Kernels["rmsnorm"] {
  return (x, g, out, n, batch, eps) => {
    const X = v.f32(x, batch * n), G = v.f32(g, n), O = v.f32(out, batch * n);
    for (let b = 0; b < batch; b++) {
      let ss = 0;
      for (let i = 0; i < n; i++) ss += X[b * n + i]! * X[b * n + i]!;
      const inv = 1 / Math.sqrt(ss / n + eps);
      for (let i = 0; i < n; i++) O[b * n + i] = G[i]! * X[b * n + i]! * inv;
    }
  };
}

/** The trits of 16-bit values −s, ±0, +s (`sBits` the pattern of +s) and their counts; null at any other. */
function halfTrits(bits: Uint16Array, sBits: number, trits: Int8Array): CodeCounts | null {
  const counts = new Float64Array(4);
  classifyBits16(bits.subarray(0, trits.length), ternaryCodeTable16(sBits), counts, trits);
  return counts[3] ? null : { neg: counts[0]!, zero: counts[1]!, pos: counts[2]! };
}

/** Element e of I2_S codes: byte 32·(e div 128) + (e mod 32), shift 6 − 2·((e mod 128) div 32). */
function unpackI2SCodes(codes: Uint8Array, n: number, trits: Int8Array): CodeCounts {
  const counts = { neg: 0, zero: 0, pos: 0 };
  for (let e = 0; e < n; e++) {
    const byte = codes[(e >> 7) * 32 + (e & 31)]!;
    const code = (byte >> (6 - 2 * ((e & 127) >> 5))) & 3;
    if (code === 3) throw new RangeError(`packTernaryI2S: invalid code 3 at element ${e}`);
    trits[e] = code - 1;
    counts[code === 0 ? "neg" : code === 1 ? "zero" : "pos"]++;
  }
  return counts;
}

/**
 * Creates the reference backend with `bytes` bytes of memory.
 *
 * @example
 * ```ts
 * createReferenceKernels(1 << 20).name; // "reference"
 * ```
 */
export function createReferenceKernels(bytes: number): Kernels {
  const buffer = new ArrayBuffer(bytes);
  const heap = new BumpAllocator(64, bytes);
  const v = memoryViews(buffer);
  const matmulTernary = ternaryMatmul(v);
  let staging: Uint8Array | undefined;
  const decoded = (decode: (bits: number) => number) => (w: Ptr, n: number) => {
    const W = v.u16(w, n);
    return (i: number) => decode(W[i]!);
  };
  return {
    name: "reference",
    threads: 1,
    buffer,
    alloc: (n, align) => heap.alloc(n, align),
    ...v,
    matmulF32: floatMatmul(v, (w, n) => {
      const W = v.f32(w, n);
      return (i) => W[i]!;
    }),
    matmulF16: floatMatmul(v, decoded(f16ToF32)),
    matmulBF16: floatMatmul(v, decoded(bf16ToF32)),
    quantizeRowsI8: quantizeRows(v),
    ternaryBytes: (rows, cols) => rows * cols,
    packTernary(trits, rows, cols, dst, rowOffset = 0, totalRows = rows) {
      if (rowOffset + rows > totalRows) throw new RangeError("packTernary: rows out of range");
      v.i8(dst + rowOffset * cols, rows * cols).set(trits.subarray(0, rows * cols));
    },
    packTernaryI2S(codes, rows, cols, dst, rowOffset, totalRows) {
      if (rowOffset + rows > totalRows) throw new RangeError("packTernaryI2S: rows out of range");
      return unpackI2SCodes(codes, rows * cols, v.i8(dst + rowOffset * cols, rows * cols));
    },
    loadStaging: () => staging ??= new Uint8Array(1 << 20),
    packTernaryHalf(bits, rows, cols, sBits, dst, rowOffset, totalRows) {
      if (rowOffset + rows > totalRows) throw new RangeError("packTernaryHalf: rows out of range");
      return halfTrits(bits, sBits, v.i8(dst + rowOffset * cols, rows * cols));
    },
    matmulTernary,
    matmulTernaryParts(products, q, scale, sum, cols, batch) {
      for (const p of products) {
        matmulTernary(p.w, p.wScale, q, scale, sum, p.y, p.rows, cols, batch);
      }
    },
    attention(shape, o) {
      attendInMemory(buffer, shape, o, 0, shape.nHead, new Float64Array(o.pos0 + o.batch));
    },
    rmsnorm: rmsnormRows(v),
    logSumExpRows: logSumExpRowsOf(buffer),
    relu2Mul(gate, up, n) {
      const G = v.f32(gate, n), U = v.f32(up, n);
      for (let i = 0; i < n; i++) {
        const g = G[i]! > 0 ? G[i]! : 0;
        G[i] = g * g * U[i]!;
      }
    },
    scoreRowsI8: scoreRowsI8Of(v),
    int8HeadRows(w, q, stats, row0, rows, cols, gamma) {
      const codes = new Int8Array(rows * cols);
      const bad = int8HeadRowsReference(
        v.u16(w, rows * cols),
        codes,
        new Float64Array(buffer, stats + row0 * 24, rows * 3),
        cols,
        gamma,
      );
      const Q = v.i8(q, int8HeadCopyBytes(row0 + rows, cols));
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) Q[int8HeadOffset(row0 + r, c, cols)] = codes[r * cols + c]!;
      }
      return bad;
    },
    close() {},
  };
}
