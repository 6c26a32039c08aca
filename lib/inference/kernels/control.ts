/**
 * The fork/join protocol between the calling thread and the kernel workers,
 * through a control block at the start of the shared WebAssembly memory.
 *
 * The caller writes a job (op and arguments), sets `pending` to the number of
 * workers, bumps `generation` and `Atomics.notify`s it; every thread (the caller
 * is thread 0) computes its own contiguous share of the output rows; each
 * worker decrements `pending` and the last one notifies the caller, which
 * `Atomics.wait`s for zero. Workers spin briefly on `generation` before
 * sleeping, because waking a sleeping thread costs tens of microseconds here.
 *
 * Shares are whole groups of 4 rows, so every output element is computed by the
 * same code in the same order whatever the thread count.
 *
 * @example
 * ```ts
 * import { rowShare } from "./control.ts";
 * rowShare(10, 0, 2); // [0, 4]
 * rowShare(10, 1, 2); // [4, 10]
 * ```
 * @module
 */

import type { KernelExports } from "./wasm_module.ts";

/** Bytes at the start of the memory reserved for the control block and per-thread scratch. */
export const RESERVED_BYTES = 65536;
/** The most threads (caller included) the reserved area has scratch for. */
export const MAX_THREADS = 256;

const CONTROL_BYTES = 128;
const SCRATCH_BYTES = 64;

/** Int32 indices into the control block. */
const GEN = 0, PENDING = 1, OP = 2, ERROR = 3, THREADS = 4;
const W = 5, X = 6, Y = 7, ROWS = 8, COLS = 9, BATCH = 10, Q = 11, T = 12, SUM = 13;
/** Float64 index of the ternary weight scale. */
const WSCALE = 8;

/** Job codes. */
export const Op = { f32: 1, bf16: 2, f16: 3, ternary: 4, exit: 255 } as const;
/** One job code. */
export type OpCode = (typeof Op)[keyof typeof Op];

/** Typed views of the control block. */
export interface Control {
  i32: Int32Array;
  f64: Float64Array;
}

/**
 * Views of the control block of `memory`.
 *
 * @example
 * ```ts
 * import { controlOf } from "./control.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * controlOf(memory).i32[0]; // 0
 * ```
 */
export function controlOf(memory: WebAssembly.Memory): Control {
  return {
    i32: new Int32Array(memory.buffer, 0, CONTROL_BYTES / 4),
    f64: new Float64Array(memory.buffer, 0, CONTROL_BYTES / 8),
  };
}

/**
 * Rows [r0, r1) of thread `index` out of `threads`: whole groups of 4, the last
 * share ending at `rows`.
 *
 * @example
 * ```ts
 * import { rowShare } from "./control.ts";
 * rowShare(6, 1, 3); // [4, 6]
 * ```
 */
export function rowShare(rows: number, index: number, threads: number): [number, number] {
  const groups = Math.ceil(rows / 4);
  const g0 = Math.floor((groups * index) / threads);
  const g1 = Math.floor((groups * (index + 1)) / threads);
  return [Math.min(rows, g0 * 4), Math.min(rows, g1 * 4)];
}

/** The per-thread scratch (32 bytes used) of thread `index`. */
function scratchOf(index: number): number {
  return CONTROL_BYTES + index * SCRATCH_BYTES;
}

/** The arguments of a matmul job. */
export interface MatmulJob {
  op: OpCode;
  w: number;
  x: number;
  y: number;
  rows: number;
  cols: number;
  batch: number;
  q?: number;
  t?: number;
  sum?: number;
  wScale?: number;
}

/**
 * Writes a job into the control block (not yet published).
 *
 * @example
 * ```ts
 * import { controlOf, Op, writeJob } from "./control.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * writeJob(controlOf(memory), { op: Op.f32, w: 0, x: 0, y: 0, rows: 4, cols: 16, batch: 1 }, 1);
 * ```
 */
export function writeJob(control: Control, job: MatmulJob, threads: number): void {
  const c = control.i32;
  c[OP] = job.op;
  c[THREADS] = threads;
  c[W] = job.w;
  c[X] = job.x;
  c[Y] = job.y;
  c[ROWS] = job.rows;
  c[COLS] = job.cols;
  c[BATCH] = job.batch;
  c[Q] = job.q ?? 0;
  c[T] = job.t ?? 0;
  c[SUM] = job.sum ?? 0;
  control.f64[WSCALE] = job.wScale ?? 0;
}

/**
 * Runs thread `index`'s share of the job in the control block.
 *
 * @example
 * ```ts
 * import { runShare } from "./control.ts";
 * // runShare(instance.exports as KernelExports, control, 0);
 * ```
 */
export function runShare(kernels: KernelExports, control: Control, index: number): void {
  const c = control.i32;
  const rows = c[ROWS]!;
  const [r0, r1] = rowShare(rows, index, c[THREADS]!);
  if (r0 >= r1) return;
  const w = c[W]!, x = c[X]!, y = c[Y]!, cols = c[COLS]!, batch = c[BATCH]!;
  switch (c[OP]) {
    case Op.f32:
      return kernels.matmul_f32(w, x, y, rows, cols, batch, r0, r1);
    case Op.bf16:
      return kernels.matmul_bf16(w, x, y, rows, cols, batch, r0, r1);
    case Op.f16:
      return kernels.matmul_f16(w, x, y, rows, cols, batch, r0, r1);
    case Op.ternary:
      return kernels.matmul_ternary(
        w,
        control.f64[WSCALE]!,
        c[Q]!,
        c[T]!,
        c[SUM]!,
        y,
        rows,
        cols,
        batch,
        r0,
        r1,
        scratchOf(index),
      );
    default:
      throw new RangeError(`kernel control block: unknown op ${c[OP]}`);
  }
}

/**
 * Runs `job` on the calling thread (index 0) and `threads - 1` waiting workers,
 * and returns when all are done. Throws if a worker failed.
 *
 * @example
 * ```ts
 * import { forkJoin } from "./control.ts";
 * // forkJoin(exports, control, job, 2);
 * ```
 */
export function forkJoin(
  kernels: KernelExports,
  control: Control,
  job: MatmulJob,
  threads: number,
): void {
  const c = control.i32;
  writeJob(control, job, threads);
  if (threads > 1) {
    Atomics.store(c, ERROR, 0);
    Atomics.store(c, PENDING, threads - 1);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
  }
  let failure: unknown;
  try {
    runShare(kernels, control, 0);
  } catch (e) {
    failure = e;
  }
  if (threads > 1) {
    let spins = 0, p: number;
    while ((p = Atomics.load(c, PENDING)) !== 0) {
      if (++spins > 20000) Atomics.wait(c, PENDING, p);
    }
    const failed = Atomics.load(c, ERROR);
    if (failed !== 0 && failure === undefined) {
      failure = new Error(`kernel worker ${failed} failed on op ${job.op}`);
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * Tells every worker to leave its loop (then they can be terminated).
 *
 * @example
 * ```ts
 * import { stopWorkers } from "./control.ts";
 * // stopWorkers(control);
 * ```
 */
export function stopWorkers(control: Control): void {
  const c = control.i32;
  c[OP] = Op.exit;
  Atomics.add(c, GEN, 1);
  Atomics.notify(c, GEN);
}

/**
 * A worker's loop: waits for jobs, runs its share, reports, until `Op.exit`.
 * Spins for `spinMicros` after each job before sleeping in `Atomics.wait`.
 *
 * @example
 * ```ts
 * import { serveJobs } from "./control.ts";
 * // serveJobs(exports, controlOf(memory), 1, 300);
 * ```
 */
export function serveJobs(
  kernels: KernelExports,
  control: Control,
  index: number,
  spinMicros: number,
): void {
  const c = control.i32;
  let seen = Atomics.load(c, GEN);
  for (;;) {
    let gen = Atomics.load(c, GEN);
    if (gen === seen) {
      const until = performance.now() + spinMicros / 1000;
      let spins = 0;
      while ((gen = Atomics.load(c, GEN)) === seen) {
        if ((++spins & 1023) === 0 && performance.now() > until) Atomics.wait(c, GEN, seen);
      }
    }
    seen = gen;
    if (c[OP] === Op.exit) return;
    try {
      runShare(kernels, control, index);
    } catch {
      Atomics.store(c, ERROR, index);
    }
    if (Atomics.sub(c, PENDING, 1) === 1) Atomics.notify(c, PENDING);
  }
}
