/**
 * The WebAssembly SIMD backend: the kernels of `kernels.wat` over one shared
 * `WebAssembly.Memory`, with the matmuls split by rows across worker threads.
 *
 * - Variant: "wasm-relaxed-simd" where the engine has relaxed SIMD (the ternary
 *   kernel uses `i16x8.relaxed_dot_i8x16_i7x16_s`, the float ones
 *   `f32x4.relaxed_madd`), else "wasm-simd".
 * - Memory: sized once from `bytes` (plus 64 KiB for the control block and
 *   scratch), never grown; `alloc` is a bump allocator. Up to 4 GiB.
 * - Threads: `threads - 1` workers plus the calling thread claim chunks of
 *   whole 4-row groups (control.ts); every method stays synchronous (the caller
 *   blocks in `Atomics.wait`). Results do not depend on the thread count. Call
 *   `close()` when done: live workers keep the process up. Starting workers from
 *   a local checkout needs read permission for worker.ts.
 * - Shapes: `cols` must be a multiple of 16 for the float matmuls and for
 *   `quantizeRowsI8`, and of 64 for the ternary ones (every BitNet/Llama width
 *   is a multiple of 256); other shapes throw a RangeError. rmsnorm takes any
 *   length.
 * - Ternary layout (`packTernary`): see kernels.wat; `ternaryBytes(rows, cols)`
 *   is ceil(rows / 4) · cols.
 * - f16 weights that are inf or NaN are not supported (decoded as finite).
 *
 * For `deno compile`, include the worker: `--include lib/inference/kernels/worker.ts`.
 *
 * @example
 * ```ts
 * import { createWasmKernels } from "./wasm.ts";
 * const k = await createWasmKernels({ bytes: 1 << 20, threads: 1 });
 * const w = k.alloc(4 * 16 * 4), x = k.alloc(16 * 4), y = k.alloc(4 * 4);
 * k.f32(w, 64).fill(1);
 * k.f32(x, 16).fill(0.5);
 * k.matmulF32(w, x, y, 4, 16, 1); // y = [8, 8, 8, 8]
 * k.close();
 * ```
 * @module
 */

import { TRIT_CODE } from "../../codecs/ternary.ts";
import { type CodeCounts, type Kernels, memoryViews, type Ptr } from "./api.ts";
import { BumpAllocator } from "./reference.ts";
import { int8HeadCopyBytes } from "../int8_head.ts";
import {
  compileKernelModule,
  type KernelExports,
  relaxedSimdSupported,
  type SimdVariant,
} from "./wasm_module.ts";
import {
  CALLER_SCRATCH,
  clearPackTallies,
  type Control,
  controlOf,
  DECODE_SCRATCH_BYTES,
  f16Decodable,
  forkJoin,
  type MatmulJob,
  MAX_PARTS,
  MAX_THREADS,
  Op,
  packTallies,
  PREPARED_X_BYTES,
  RESERVED_BYTES,
  setDecodeScratch,
  stopWorkers,
} from "./control.ts";
import type { WorkerStart } from "./worker.ts";
import { type NativeKernels, openNativeKernels, withNativeKernels } from "./native.ts";

/** Options of {@link createWasmKernels}. */
export interface WasmKernelOptions {
  /** Bytes available to `alloc` (weights, KV cache, activations). */
  bytes: number;
  /** Threads for the matmuls, the calling thread included (default: all cores). */
  threads?: number;
  /** Force a variant (tests, benchmarks); default: relaxed where supported. */
  simd?: SimdVariant;
  /** How long an idle worker spins before sleeping, in µs (default 300). */
  spinMicros?: number;
  /**
   * A compiled module of the `simd` variant to run instead of the built-in one
   * (benchmarks comparing a candidate kernel with the current one in one process).
   */
  module?: WebAssembly.Module;
  /**
   * A native kernel library (native.ts) to run the ternary products, the int8 head's
   * screening and (relaxed variant) the F16 products on every thread: same results; needs
   * `--allow-ffi` for it.
   */
  native?: string;
}

const PAGE = 65536;
const MAX_PAGES = 65536;
/** Matmuls smaller than this many multiply-adds run on the calling thread alone. */
const SMALL_JOB = 1 << 17;
/**
 * Attention's multiply-adds are f64 (two per SIMD operation, attention_wasm.ts): one was
 * counted as 16 of a SIMD matmul's when attention ran in scalar TypeScript, so that a single
 * token's attention is split over the threads from a few positions on. The f64x2 kernels
 * measured 3.4–3.8× faster than that code (bench/attention_bench.ts); the weight has not
 * been re-tuned for them (about 4 would match), so attention may split a little early.
 */
const ATTENTION_COST = 16;

/** A job's size in matmul multiply-adds, to decide whether splitting it pays. */
function workOf(job: MatmulJob): number {
  const att = job.attention;
  if (att) {
    const { pos0, batch } = att.operands;
    return batch * (pos0 + batch) * att.shape.nHead * att.shape.headDim * ATTENTION_COST;
  }
  let work = 0;
  for (const part of job.parts) work += part.rows * job.cols * job.batch;
  return work;
}
const FLOAT_COLS = 16;
const TERNARY_COLS = 64;

/**
 * Bytes of a ternary matrix in this backend's packed layout.
 *
 * @example
 * ```ts
 * import { wasmTernaryBytes } from "./wasm.ts";
 * wasmTernaryBytes(6, 256); // 512
 * ```
 */
export function wasmTernaryBytes(rows: number, cols: number): number {
  checkDims("ternaryBytes", rows, cols, 1, TERNARY_COLS);
  return Math.ceil(rows / 4) * cols;
}

function checkDims(
  what: string,
  rows: number,
  cols: number,
  batch: number,
  colsMultiple: number,
): void {
  for (const [name, v] of [["rows", rows], ["cols", cols], ["batch", batch]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
      throw new RangeError(`${what}: ${name} must be a non-negative integer, got ${v}`);
    }
  }
  if (cols % colsMultiple !== 0 || cols === 0) {
    throw new RangeError(
      `${what}: cols must be a positive multiple of ${colsMultiple}, got ${cols}`,
    );
  }
}

/**
 * Packs `rows` rows of trits, starting at row `rowOffset` of a `totalRows × cols`
 * matrix, into `out` in the kernels' layout (kernels.wat): groups of 4 rows,
 * each 64 columns of a row as 16 bytes of 2-bit codes. The padding rows of the
 * last group hold zero trits (code 1 = 0b01).
 */
function packTernaryRows(
  out: Uint8Array,
  trits: Int8Array,
  rows: number,
  cols: number,
  rowOffset: number,
  totalRows: number,
): void {
  const what = "packTernary";
  if (!Number.isInteger(rowOffset) || rowOffset < 0 || rowOffset + rows > totalRows) {
    throw new RangeError(
      `${what}: rows ${rowOffset}..${rowOffset + rows} out of range of ${totalRows} rows`,
    );
  }
  if (trits.length < rows * cols) {
    throw new RangeError(`${what}: ${trits.length} trits given, ${rows} x ${cols} needed`);
  }
  const src = new Uint8Array(trits.buffer, trits.byteOffset, rows * cols);
  let bad = 0;
  for (let r = 0; r < rows; r++) {
    const row = rowOffset + r;
    let o = (row >> 2) * cols + (row & 3) * 16;
    let s = r * cols;
    for (let j = 0; j < cols; j += 64, o += 64, s += 64) {
      for (let m = 0; m < 16; m++) {
        const c0 = TRIT_CODE[src[s + m]!]!, c1 = TRIT_CODE[src[s + 16 + m]!]!;
        const c2 = TRIT_CODE[src[s + 32 + m]!]!, c3 = TRIT_CODE[src[s + 48 + m]!]!;
        bad |= c0 | c1 | c2 | c3;
        out[o + m] = c0 | (c1 << 2) | (c2 << 4) | (c3 << 6);
      }
    }
  }
  if (bad & 4) {
    const i = src.findIndex((b) => TRIT_CODE[b] === 4);
    throw new RangeError(
      `${what}: trit ${trits[i]} at row ${rowOffset + Math.floor(i / cols)}, ` +
        `col ${i % cols} is not -1, 0 or +1`,
    );
  }
  if (rowOffset + rows === totalRows) padLastGroup(out, totalRows, cols);
}

/** Where a packing kernel writes its rows: the packed layout, from row `rowOffset` of `totalRows`. */
interface PackTarget {
  rows: number;
  cols: number;
  dst: Ptr;
  rowOffset: number;
  totalRows: number;
}

/**
 * Runs a packing kernel (`pack(src, n, row)`: `n` rows at `src` into target row
 * `row`, giving that piece's zero and +1 counts, null on an invalid value) over `bytes`
 * (`rowBytes` per row): where they lie when they are already in kernel memory (the load
 * staging), else through the prepared-activation region (free outside a matmul) in
 * pieces of whole rows. Sums the counts; null when `pack` refused a piece.
 */
function packRows(
  memory: Uint8Array,
  bytes: Uint8Array,
  rowBytes: number,
  to: PackTarget,
  pack: (src: number, n: number, row: number) => PieceCounts | null,
): CodeCounts | null {
  const { rows, cols, dst, rowOffset, totalRows } = to;
  const inPlace = bytes.buffer === memory.buffer;
  const step = inPlace ? rows : Math.floor(PREPARED_X_BYTES / rowBytes);
  let zero = 0, pos = 0;
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    let src = bytes.byteOffset;
    if (!inPlace) {
      memory.set(bytes.subarray(r * rowBytes, (r + n) * rowBytes), RESERVED_BYTES);
      src = RESERVED_BYTES;
    }
    const counts = pack(src, n, rowOffset + r);
    if (!counts) return null;
    zero += counts.zero;
    pos += counts.pos;
  }
  if (rowOffset + rows === totalRows) padLastGroup(memory.subarray(dst), totalRows, cols);
  return { neg: rows * cols - zero - pos, zero, pos };
}

/** Zero and +1 codes of one packed piece. */
interface PieceCounts {
  readonly zero: number;
  readonly pos: number;
}

/** The counts a packing kernel left at `at` (two i32). */
function countsAt(memory: Uint8Array, at: number): PieceCounts {
  const c = new Int32Array(memory.buffer, at, 2);
  return { zero: c[0]!, pos: c[1]! };
}

/** A RangeError unless rows [rowOffset, rowOffset + rows) lie within `totalRows`. */
function checkTargetRows(what: string, { rows, rowOffset, totalRows }: PackTarget): void {
  if (!Number.isInteger(rowOffset) || rowOffset < 0 || rowOffset + rows > totalRows) {
    throw new RangeError(`${what}: rows ${rowOffset}..${rowOffset + rows} out of ${totalRows}`);
  }
}

/** I2_S codes into the kernel layout: `packRowsAt` runs the module's `i2s_pack_rows` (kernels.wat) over them. */
function packI2S(
  memory: Uint8Array,
  codes: Uint8Array,
  to: PackTarget,
  packRowsAt: (src: number, n: number, row: number) => PieceCounts | null,
): CodeCounts {
  const what = "packTernaryI2S", { rows, cols } = to, rowBytes = cols / 4;
  checkTargetRows(what, to);
  if (codes.length < rows * rowBytes) {
    throw new RangeError(`${what}: ${codes.length} code bytes for ${rows} rows of ${cols}`);
  }
  return packRows(memory, codes, rowBytes, to, (src, n, row) => {
    const counts = packRowsAt(src, n, row);
    if (counts) return counts;
    throw new RangeError(`${what}: invalid code 3 in rows ${row}..${row + n}`);
  })!;
}

/** 16-bit ternary values into the kernel layout by the module's `half_pack_rows`. */
function packHalf(
  k: KernelExports,
  memory: Uint8Array,
  bits: Uint16Array,
  sBits: number,
  to: PackTarget,
): CodeCounts | null {
  const what = "packTernaryHalf", { rows, cols, dst } = to;
  checkTargetRows(what, to);
  if (bits.length < rows * cols) {
    throw new RangeError(`${what}: ${bits.length} values for ${rows} rows of ${cols}`);
  }
  if (!Number.isInteger(sBits) || sBits < 0 || sBits > 0x7fff) {
    throw new RangeError(`${what}: the pattern of +s must be 0..0x7fff, got ${sBits}`);
  }
  const bytes = new Uint8Array(bits.buffer, bits.byteOffset, rows * cols * 2);
  return packRows(
    memory,
    bytes,
    cols * 2,
    to,
    (src, n, row) =>
      k.half_pack_rows(src, n, cols, dst, row, sBits, CALLER_SCRATCH) === 0
        ? countsAt(memory, CALLER_SCRATCH)
        : null,
  );
}

/** The padding rows of the last group of 4 hold zero trits (code 1 = 0b01). */
function padLastGroup(out: Uint8Array, totalRows: number, cols: number): void {
  const total = wasmTernaryBytes(totalRows, cols);
  for (let row = totalRows; row % 4 !== 0; row++) {
    for (let o = (row >> 2) * cols + (row & 3) * 16; o < total; o += 64) {
      out.fill(0x55, o, o + 16);
    }
  }
}

/**
 * Creates the WebAssembly backend with `bytes` bytes of kernel memory and
 * `threads` threads (default `navigator.hardwareConcurrency`).
 *
 * @example
 * ```ts
 * import { createWasmKernels } from "./wasm.ts";
 * const k = await createWasmKernels({ bytes: 1 << 24 });
 * console.log(k.name, k.threads);
 * k.close();
 * ```
 */
export async function createWasmKernels(opts: WasmKernelOptions): Promise<Kernels> {
  const { bytes } = opts;
  if (!Number.isInteger(bytes) || bytes < 0) {
    throw new RangeError(`createWasmKernels: bytes must be a non-negative integer, got ${bytes}`);
  }
  const threads = opts.threads ?? navigator.hardwareConcurrency ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > MAX_THREADS) {
    throw new RangeError(`createWasmKernels: threads must be 1..${MAX_THREADS}, got ${threads}`);
  }
  // Between the control block and the heap: the prepared activations of a batched f16
  // product, then each thread's scratch for its decoded weight rows.
  const scratch = PREPARED_X_BYTES + threads * DECODE_SCRATCH_BYTES;
  const pages = Math.ceil((RESERVED_BYTES + scratch + bytes) / PAGE);
  if (pages > MAX_PAGES) {
    throw new RangeError(
      `createWasmKernels: ${bytes} bytes do not fit in a 4 GiB WebAssembly memory ` +
        `(at most ${MAX_PAGES * PAGE - RESERVED_BYTES - scratch} with ${threads} thread(s))`,
    );
  }
  const variant = opts.simd ?? (relaxedSimdSupported() ? "relaxed" : "portable");
  const spinMicros = opts.spinMicros ?? 300;

  const module = opts.module ?? await compileKernelModule(variant);
  const memory = new WebAssembly.Memory(
    { initial: pages, maximum: pages, shared: true } as WebAssembly.MemoryDescriptor,
  );
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const native = opts.native === undefined ? undefined : openNativeKernels(opts.native);
  try {
    const wasmExports = instance.exports as unknown as KernelExports;
    const fusedF16 = variant === "relaxed";
    const exports = native ? withNativeKernels(wasmExports, memory, native, fusedF16) : wasmExports;
    const control = controlOf(memory);
    setDecodeScratch(control, RESERVED_BYTES + PREPARED_X_BYTES);
    const start = {
      module,
      memory,
      spinMicros,
      ...(opts.native ? { native: { path: opts.native, fusedF16 } } : {}),
    };
    const workers = await startWorkers(start, threads - 1);
    const name = variant === "relaxed" ? "wasm-relaxed-simd" : "wasm-simd";
    return wasmKernels(
      native ? `${name}+native-avx2` : name,
      memory,
      exports,
      control,
      workers,
      RESERVED_BYTES + scratch,
      native,
    );
  } catch (error) {
    native?.close();
    throw error;
  }
}

/** A worker that has not reported ready by then never will (e.g. the thread could not start). */
const WORKER_START_MS = 60_000;

async function startWorkers(
  start: Omit<WorkerStart, "index">,
  count: number,
): Promise<Worker[]> {
  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
      workers.push(worker);
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (e: MessageEvent) => {
            worker.onmessage = null;
            worker.onerror = null;
            if (e.data === "ready") resolve();
            else reject(new Error(`kernel worker ${i + 1}: ${JSON.stringify(e.data)}`));
          };
          worker.onerror = (e: ErrorEvent) => {
            e.preventDefault();
            reject(new Error(`kernel worker ${i + 1}: ${e.message}`));
          };
        }),
      );
      worker.postMessage({ ...start, index: i + 1 } satisfies WorkerStart);
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`kernel workers did not start within ${WORKER_START_MS / 1000} s`)),
        WORKER_START_MS,
      );
    });
    try {
      await Promise.race([Promise.all(ready), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return workers;
  } catch (error) {
    for (const w of workers) w.terminate();
    throw error;
  }
}

/** The ternary matmuls: argument checks, then one job split by rows across the threads. */
function ternaryMatmuls(
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
): Pick<Kernels, "matmulTernary" | "matmulTernaryParts"> {
  const parts: Kernels["matmulTernaryParts"] = (products, q, scale, sum, cols, batch) => {
    const what = "matmulTernaryParts";
    if (products.length === 0 || products.length > MAX_PARTS) {
      throw new RangeError(`${what}: 1..${MAX_PARTS} products, got ${products.length}`);
    }
    for (const { w, y, rows } of products) {
      checkDims(what, rows, cols, batch, TERNARY_COLS);
      spans(what, ["w", w, wasmTernaryBytes(rows, cols)], ["y", y, batch * rows * 4]);
    }
    if (batch === 0) return; // cols and batch were checked with the first product
    spans(what, ["q", q, batch * cols], ["scale", scale, batch * 4], ["sum", sum, batch * 4]);
    const jobParts = products.filter((p) => p.rows > 0);
    if (jobParts.length === 0) return;
    run({ op: Op.ternary, x: 0, cols, batch, q, t: scale, sum, parts: jobParts });
  };
  return {
    matmulTernaryParts: parts,
    matmulTernary(w, wScale, q, scale, sum, y, rows, cols, batch) {
      parts([{ w, wScale, y, rows }], q, scale, sum, cols, batch);
    },
  };
}

/** The row-wise steps, on the calling thread: argument checks, then the export. */
function elementwise(
  k: KernelExports,
  spans: ReturnType<typeof spansIn>,
): Pick<Kernels, "rmsnorm" | "relu2Mul"> {
  return {
    rmsnorm(x, g, out, n, batch, eps) {
      checkDims("rmsnorm", 1, Math.max(n, 1), batch, 1);
      if (n === 0 || batch === 0) return;
      spans("rmsnorm", ["x", x, batch * n * 4], ["g", g, n * 4], ["out", out, batch * n * 4]);
      k.rmsnorm(x, g, out, n, batch, eps);
    },
    relu2Mul(gate, up, n) {
      checkDims("relu2Mul", 1, Math.max(n, 1), 1, 1);
      if (n === 0) return;
      spans("relu2Mul", ["gate", gate, n * 4], ["up", up, n * 4]);
      k.relu2_mul(gate, up, n);
    },
  };
}

/** Attention: argument checks, then one job split by query heads across the threads. */
function attentionOverThreads(
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
): Kernels["attention"] {
  return (shape, o) => {
    const qBytes = o.batch * shape.nHead * shape.headDim * 4;
    const kvBytes = (o.pos0 + o.batch) * shape.nHeadKv * shape.headDim * 4;
    const ptrs: [string, Ptr, number][] = [["q", o.q, qBytes], ["out", o.out, qBytes]];
    spans("attention", ...ptrs, ["keys", o.keys, kvBytes], ["values", o.values, kvBytes]);
    if (o.batch === 0) return;
    const attention = { shape, operands: o };
    run({ op: Op.attention, x: 0, cols: 0, batch: o.batch, parts: [], attention });
  };
}

/**
 * `packTernaryI2S`: the codes through {@link packI2S}, each piece split by rows over the
 * threads (Op.i2sPack; the rows of the packed layout are separate bytes), each piece's
 * counts the threads' tallies summed.
 */
function i2sPacker(
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
  control: Control,
  buffer: SharedArrayBuffer,
  threads: () => number,
): Kernels["packTernaryI2S"] {
  return (codes, rows, cols, dst, rowOffset, totalRows) => {
    checkDims("packTernaryI2S", rows, cols, 1, 128);
    spans("packTernaryI2S", ["dst", dst, wasmTernaryBytes(totalRows, cols)]);
    const to = { rows, cols, dst, rowOffset, totalRows };
    return packI2S(new Uint8Array(buffer), codes, to, (src, n, row) => {
      clearPackTallies(control, threads());
      const part = { w: src, y: dst, rows: n, row0: row };
      run({ op: Op.i2sPack, x: 0, cols, batch: 1, parts: [part] });
      const t = packTallies(control, threads());
      return t.bad ? null : t;
    });
  };
}

/** The int8 head's screening over its interleaved copy, split by row groups. */
function scoreRowsI8(
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
): Kernels["scoreRowsI8"] {
  return (w, x, y, rows, cols) => {
    checkDims("scoreRowsI8", rows, cols, 1, 16);
    if (rows === 0) return;
    const copyBytes = int8HeadCopyBytes(rows, cols);
    spans("scoreRowsI8", ["w", w, copyBytes], ["x", x, cols], ["y", y, rows * 4]);
    run({ op: Op.scoreI8, x, cols, batch: 1, parts: [{ w, y, rows }] });
  };
}

/** The int8 head's copy: the job split by rows, then the rows whose scale is not finite counted. */
function int8HeadRows(
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
  buffer: SharedArrayBuffer,
): Kernels["int8HeadRows"] {
  return (w, q, stats, row0, rows, cols, gamma) => {
    checkDims("int8HeadRows", rows, cols, 1, 16);
    if (rows === 0) return 0;
    const end = row0 + rows, copyBytes = int8HeadCopyBytes(end, cols);
    spans("int8HeadRows", ["w", w, rows * cols * 2], ["q", q, copyBytes], [
      "stats",
      stats,
      end * 24,
    ]);
    const part = { w, y: stats, rows, wScale: gamma, row0 };
    run({ op: Op.int8Head, x: q, cols, batch: 1, parts: [part] });
    const scales = new Float64Array(buffer, stats + row0 * 24, rows * 3);
    let bad = 0;
    for (let r = 0; r < rows; r++) if (!Number.isFinite(scales[3 * r]!)) bad++;
    return bad;
  };
}

/** A check that each [ptr, ptr + bytes) of a call lies in the allocatable memory. */
function spansIn(start: number, size: number) {
  return (what: string, ...args: [string, Ptr, number][]): void => {
    for (const [arg, ptr, bytes] of args) {
      if (!Number.isInteger(ptr) || ptr < start || ptr + bytes > size) {
        throw new RangeError(
          `${what}: ${arg} [${ptr}, ${ptr + bytes}) is outside the kernel memory ` +
            `[${start}, ${size})`,
        );
      }
    }
  };
}

/** The float matmuls: argument checks, then the job (batched f16 through the decoded path). */
function floatMatmul(
  k: KernelExports,
  spans: ReturnType<typeof spansIn>,
  run: (job: MatmulJob) => void,
) {
  return (what: string, op: MatmulJob["op"], elem: number): Kernels["matmulF32"] =>
  (w, x, y, rows, cols, batch) => {
    checkDims(what, rows, cols, batch, FLOAT_COLS);
    if (rows === 0 || batch === 0) return;
    spans(what, ["w", w, rows * cols * elem], ["x", x, batch * cols * 4], [
      "y",
      y,
      batch * rows * 4,
    ]);
    if (op === Op.f16 && f16Decodable(cols, batch)) {
      // Activations shuffled and scaled once here, weight rows decoded once per group there.
      k.f16_prepare_x(x, RESERVED_BYTES, cols, batch);
      const parts = [{ w, y, rows }];
      return run({ op: Op.f16Decoded, x: RESERVED_BYTES, cols, batch, parts });
    }
    run({ op, x, cols, batch, parts: [{ w, y, rows }] });
  };
}

function wasmKernels(
  name: string,
  memory: WebAssembly.Memory,
  k: KernelExports,
  control: Control,
  workers: Worker[],
  heapStart: number,
  native: NativeKernels | undefined,
): Kernels {
  const buffer = memory.buffer as SharedArrayBuffer;
  const size = buffer.byteLength;
  // Nothing may end exactly at 2^32, where the ternary kernel's end pointer would wrap to 0.
  const heap = new BumpAllocator(heapStart, Math.min(size, 2 ** 32 - 64));
  let threads = workers.length + 1;

  const spans = spansIn(heapStart, size);

  function run(job: MatmulJob): void {
    forkJoin(k, control, job, workOf(job) < SMALL_JOB ? 1 : threads);
  }

  const matmulFloat = floatMatmul(k, spans, run);

  return {
    name,
    get threads() {
      return threads;
    },
    buffer,
    alloc: (n, align) => heap.alloc(n, align),
    ...memoryViews(buffer),
    matmulF32: matmulFloat("matmulF32", Op.f32, 4),
    matmulF16: matmulFloat("matmulF16", Op.f16, 2),
    matmulBF16: matmulFloat("matmulBF16", Op.bf16, 2),
    quantizeRowsI8(x, q, scale, sum, cols, batch) {
      checkDims("quantizeRowsI8", 1, cols, batch, FLOAT_COLS);
      if (batch === 0) return;
      const rows: [string, Ptr, number][] = [["scale", scale, batch * 4], ["sum", sum, batch * 4]];
      spans("quantizeRowsI8", ["x", x, batch * cols * 4], ["q", q, batch * cols], ...rows);
      k.quantize_rows_i8(x, q, scale, sum, cols, batch);
    },
    ternaryBytes: wasmTernaryBytes,
    packTernary(trits, rows, cols, dst, rowOffset = 0, totalRows = rows) {
      checkDims("packTernary", rows, cols, 1, TERNARY_COLS);
      spans("packTernary", ["dst", dst, wasmTernaryBytes(totalRows, cols)]);
      packTernaryRows(new Uint8Array(buffer, dst), trits, rows, cols, rowOffset, totalRows);
    },
    packTernaryI2S: i2sPacker(spans, run, control, buffer, () => threads),
    loadStaging: () => new Uint8Array(buffer, RESERVED_BYTES, PREPARED_X_BYTES),
    packTernaryHalf(bits, rows, cols, sBits, dst, rowOffset, totalRows) {
      checkDims("packTernaryHalf", rows, cols, 1, 64);
      spans("packTernaryHalf", ["dst", dst, wasmTernaryBytes(totalRows, cols)]);
      const to = { rows, cols, dst, rowOffset, totalRows };
      return packHalf(k, new Uint8Array(buffer), bits, sBits, to);
    },
    ...ternaryMatmuls(spans, run),
    attention: attentionOverThreads(spans, run),
    ...elementwise(k, spans),
    logSumExpRows(x, out, rows, cols) {
      checkDims("logSumExpRows", rows, Math.max(cols, 1), 1, 1);
      if (rows === 0) return;
      spans("logSumExpRows", ["x", x, rows * cols * 4], ["out", out, rows * 8]);
      if (out % 8 !== 0) throw new RangeError(`logSumExpRows: out ${out} is not 8-byte aligned`);
      run({ op: Op.logSumExp, x: 0, cols, batch: 1, parts: [{ w: x, y: out, rows }] });
    },
    scoreRowsI8: scoreRowsI8(spans, run),
    int8HeadRows: int8HeadRows(spans, run, buffer),
    close() {
      if (workers.length > 0) {
        stopWorkers(control);
        for (const w of workers) w.terminate();
        workers.length = 0;
        threads = 1;
      }
      native?.close();
      native = undefined;
    },
  };
}
