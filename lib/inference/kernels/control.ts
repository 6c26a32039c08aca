/**
 * The fork/join protocol between the calling thread and the kernel workers,
 * through a control block at the start of the shared WebAssembly memory.
 *
 * A job multiplies one to three matrices that read the same activations (q, k
 * and v of a layer; gate and up), so that a layer needs four fork/joins rather
 * than seven. The row groups (4 rows) of all its matrices, one after the other,
 * are cut into chunks of whole groups. The caller
 * closes the `claim` word (a new generation in its high half, claim index
 * 0xffff), writes the job, resets `done`, and publishes the job by storing claim
 * index 0, then `Atomics.notify`s. Every
 * thread, the caller included, claims chunks with compare-and-swap on `claim`
 * until none are left, and counts each finished chunk in `done`; the caller
 * returns when `done` reaches the chunk count. Claiming (not a fixed split)
 * keeps a product fast when a worker is slow to wake or is descheduled: the
 * caller just takes more chunks. Idle workers spin briefly before sleeping in
 * `Atomics.wait`, because waking a sleeping thread costs tens of microseconds;
 * for the same reason the caller, once nothing is left to claim, spins up to
 * 250 µs for the chunks still running before it sleeps.
 *
 * Determinism: every row group is computed by the same code in the same order
 * whichever thread claims it, so results do not depend on the thread count.
 *
 * @example
 * ```ts
 * import { chunkGroups } from "./control.ts";
 * chunkGroups(3, 0, 2); // [0, 1]: rows 0..3 of a 10-row matrix
 * chunkGroups(3, 1, 2); // [1, 3]: rows 4..9
 * ```
 * @module
 */

import { attendInMemory, type AttentionOperands, type AttentionShape } from "../attention.ts";
import { attendWithKernels, attentionFitsKernels } from "./attention_wasm.ts";
import type { KernelExports } from "./wasm_module.ts";
import { logSumExp } from "../softmax.ts";

/** Bytes at the start of the memory reserved for the control block and per-thread scratch. */
export const RESERVED_BYTES = 65536;
/** The most threads (caller included) the reserved area has scratch for. */
export const MAX_THREADS = 256;
/** The most matrices one job multiplies (q, k and v of a layer: one fork/join for three). */
export const MAX_PARTS = 3;

const CONTROL_BYTES = 256;
const SCRATCH_BYTES = 64;
/** Chunks per thread in a job: more balance the load, fewer cost less claiming. */
const CHUNKS_PER_THREAD = 8;

/** Int32 indices into the control block. */
const CLAIM = 0, DONE = 1, CHUNKS = 2, OP = 3, ERROR = 4, EXIT = 5, SEQ = 6;
const X = 7, COLS = 10, BATCH = 11, Q = 12, T = 13, SUM = 14, PARTS = 15;
/** Where the per-thread scratch of the batched f16 matmul starts. */
const DECODE_SCRATCH = 18;
/** Int32 index of part i's weight, output, row count and first row (Op.int8Head): PART + 4i + (0..3). */
const PART = 20;
/** Float64 index of part i's ternary weight scale: PART_SCALE + i (bytes 128..). */
const PART_SCALE = 16;
/** Int32 indices of an attention job's operands and shape (bytes 160..). */
const ATTENTION = 40;
const ATTENTION_FIELDS = ["q", "keys", "values", "out", "pos0", "batch"] as const;
const SHAPE_FIELDS = ["nHead", "nHeadKv", "headDim"] as const;

/** Job codes. */
export const Op = {
  f32: 1,
  bf16: 2,
  f16: 3,
  ternary: 4,
  f16Decoded: 5,
  scoreI8: 6,
  int8Head: 7,
  attention: 8,
  i2sPack: 9,
  logSumExp: 10,
} as const;
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
 * Units [u0, u1) of chunk `index` out of `chunks`, over `groups` units (row groups of 4
 * rows; the query heads of an attention job).
 *
 * @example
 * ```ts
 * import { chunkGroups } from "./control.ts";
 * chunkGroups(3, 1, 2); // [1, 3]
 * ```
 */
export function chunkGroups(groups: number, index: number, chunks: number): [number, number] {
  return [Math.floor((groups * index) / chunks), Math.floor((groups * (index + 1)) / chunks)];
}

/** Bytes of each thread's scratch for decoded f16 rows: 16 per column, so up to 8192 columns. */
export const DECODE_SCRATCH_BYTES = 1 << 17;
/** Bytes for the activations of a batched f16 product prepared once (batch · cols · 4). */
export const PREPARED_X_BYTES = 1 << 21;
/** From this many batch rows on, an f16 matmul decodes each group of rows once for all of them. */
const DECODE_MIN_BATCH = 4;

/**
 * Whether an f16 product of this shape takes the decoded path (Op.f16Decoded):
 * enough batch rows, and scratch for the decoded rows and the prepared activations.
 *
 * @example
 * ```ts
 * import { f16Decodable } from "./control.ts";
 * f16Decodable(2560, 64); // true
 * f16Decodable(2560, 1); // false
 * ```
 */
export function f16Decodable(cols: number, batch: number): boolean {
  return batch >= DECODE_MIN_BATCH && cols * 16 <= DECODE_SCRATCH_BYTES &&
    batch * cols * 4 <= PREPARED_X_BYTES;
}

/**
 * From this many batch rows on, a ternary matmul (relaxed SIMD) decodes each group of 4 rows
 * once into the thread's decode scratch for all of them: the decode pass costs about two
 * thirds of one pair of rows, and the decoded pairs run ~7% faster (break-even measured at
 * about 20 rows, bench/ternary_ab_bench.ts; docs/performance.md).
 */
export const TERNARY_DECODE_MIN_BATCH = 24;

/**
 * Whether a ternary product of this shape gets a decode scratch (4 bytes a column); the
 * portable kernel ignores it.
 *
 * @example
 * ```ts
 * import { ternaryDecodable } from "./control.ts";
 * ternaryDecodable(6912, 64); // true
 * ternaryDecodable(6912, 8); // false
 * ```
 */
export function ternaryDecodable(cols: number, batch: number): boolean {
  return batch >= TERNARY_DECODE_MIN_BATCH && cols * 4 <= DECODE_SCRATCH_BYTES;
}

/**
 * Records where the `threads` decode scratches (DECODE_SCRATCH_BYTES each) start.
 *
 * @example
 * ```ts
 * import { controlOf, setDecodeScratch } from "./control.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * setDecodeScratch(controlOf(memory), 65536);
 * ```
 */
export function setDecodeScratch(control: Control, base: number): void {
  control.i32[DECODE_SCRATCH] = base;
}

/** The per-thread scratch (32 bytes used) of thread `index`. */
function scratchOf(index: number): number {
  return CONTROL_BYTES + index * SCRATCH_BYTES;
}

/** The calling thread's scratch (thread 0's, 64 bytes): free for its own kernels outside a job. */
export const CALLER_SCRATCH: number = scratchOf(0);

/**
 * Op.i2sPack's tallies in each thread's scratch: the kernel's two counts at +32, and at +40
 * the thread's sums over its chunks (zero codes, +1 codes, the OR of the kernel's results).
 */
const PACK_COUNTS = 32;
const PACK_SUMS = 40;

/** Thread `t`'s Op.i2sPack sums: zero codes, +1 codes, the OR of the kernel's results. */
function packSumsOf(control: Control, t: number): Int32Array {
  return new Int32Array(control.i32.buffer, scratchOf(t) + PACK_SUMS, 3);
}

/**
 * Clears the Op.i2sPack sums of `threads` threads (before a job).
 *
 * @example
 * ```ts
 * import { clearPackTallies, controlOf } from "./control.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * clearPackTallies(controlOf(memory), 2);
 * ```
 */
export function clearPackTallies(control: Control, threads: number): void {
  for (let t = 0; t < threads; t++) packSumsOf(control, t).fill(0);
}

/**
 * The Op.i2sPack totals of `threads` threads (after a job): zero and +1 codes, and
 * whether any chunk saw an invalid code.
 *
 * @example
 * ```ts
 * import { clearPackTallies, controlOf, packTallies } from "./control.ts";
 * const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
 * clearPackTallies(controlOf(memory), 2);
 * packTallies(controlOf(memory), 2); // { zero: 0, pos: 0, bad: false }
 * ```
 */
export function packTallies(
  control: Control,
  threads: number,
): { zero: number; pos: number; bad: boolean } {
  let zero = 0, pos = 0, bad = 0;
  for (let t = 0; t < threads; t++) {
    const sums = packSumsOf(control, t);
    zero += sums[0]!;
    pos += sums[1]!;
    bad |= sums[2]!;
  }
  return { zero, pos, bad: bad !== 0 };
}

/** One matrix of a job: its weights, output and rows (and, ternary, its scale). */
export interface JobPart {
  w: number;
  y: number;
  rows: number;
  wScale?: number;
  /** Op.int8Head: the index of the part's first row in the head's copy. */
  row0?: number;
}

/**
 * The arguments of a matmul job: one or more matrices (`parts`, at most
 * MAX_PARTS) that read the same activations. Chunks are cut from the row
 * groups of all parts together, so one fork/join serves them all.
 */
export interface MatmulJob {
  op: OpCode;
  x: number;
  cols: number;
  batch: number;
  parts: readonly JobPart[];
  q?: number;
  t?: number;
  sum?: number;
  /** Op.attention: one layer's causal attention, split by query heads (parts empty). */
  attention?: { shape: AttentionShape; operands: AttentionOperands };
}

/** The units a job's chunks are cut from: query heads of an attention job, else row groups. */
function unitsOf(job: MatmulJob): number {
  return job.attention ? job.attention.shape.nHead : groupsOf(job.parts);
}

/** Scores scratch of this thread's attention chunks (each worker has its own module instance). */
let scores = new Float64Array(0);

/** Units [u0, u1) of `job`: query heads of an attention job, else row groups of its parts. */
function runUnits(
  kernels: KernelExports,
  control: Control,
  job: MatmulJob,
  u0: number,
  u1: number,
  thread: number,
): void {
  const att = job.attention;
  if (att === undefined) return runGroups(kernels, control, job, u0, u1, thread);
  const positions = att.operands.pos0 + att.operands.batch;
  // The thread's decode scratch is free during an attention job: it holds the scores.
  if (attentionFitsKernels(att.shape, positions, DECODE_SCRATCH_BYTES)) {
    const scratch = control.i32[DECODE_SCRATCH]! + thread * DECODE_SCRATCH_BYTES;
    return attendWithKernels(kernels, control.i32.buffer, att.shape, att.operands, u0, u1, scratch);
  }
  if (scores.length < positions) scores = new Float64Array(positions);
  attendInMemory(control.i32.buffer, att.shape, att.operands, u0, u1, scores);
}

/** Row groups of 4 in all parts of a job. */
function groupsOf(parts: readonly JobPart[]): number {
  let groups = 0;
  for (const part of parts) groups += Math.ceil(part.rows / 4);
  return groups;
}

function writeArgs(control: Control, job: MatmulJob, chunks: number): void {
  const c = control.i32;
  c[SEQ] = (c[SEQ]! + 1) | 0; // a new job: threads parse its arguments again
  c[OP] = job.op;
  c[X] = job.x;
  c[COLS] = job.cols;
  c[BATCH] = job.batch;
  c[Q] = job.q ?? 0;
  c[T] = job.t ?? 0;
  c[SUM] = job.sum ?? 0;
  c[PARTS] = job.parts.length;
  job.parts.forEach((part, i) => {
    c[PART + 4 * i] = part.w;
    c[PART + 4 * i + 1] = part.y;
    c[PART + 4 * i + 2] = part.rows;
    c[PART + 4 * i + 3] = part.row0 ?? 0;
    control.f64[PART_SCALE + i] = part.wScale ?? 0;
  });
  const att = job.attention;
  if (att !== undefined) {
    ATTENTION_FIELDS.forEach((f, i) => c[ATTENTION + i] = att.operands[f]);
    SHAPE_FIELDS.forEach((f, i) => c[ATTENTION + ATTENTION_FIELDS.length + i] = att.shape[f]);
  }
  Atomics.store(c, CHUNKS, chunks);
}

function readArgs(control: Control): MatmulJob {
  const c = control.i32;
  const parts: JobPart[] = [];
  for (let i = 0; i < c[PARTS]!; i++) {
    const rows = c[PART + 4 * i + 2]!, row0 = c[PART + 4 * i + 3]!;
    const wScale = control.f64[PART_SCALE + i]!;
    parts.push({ w: c[PART + 4 * i]!, y: c[PART + 4 * i + 1]!, rows, wScale, row0 });
  }
  const op = c[OP] as OpCode;
  const field = (i: number) => c[ATTENTION + i]!;
  const attention = op !== Op.attention ? undefined : {
    operands: Object.fromEntries(
      ATTENTION_FIELDS.map((f, i) => [f, field(i)]),
    ) as unknown as AttentionOperands,
    shape: Object.fromEntries(
      SHAPE_FIELDS.map((f, i) => [f, field(ATTENTION_FIELDS.length + i)]),
    ) as unknown as AttentionShape,
  };
  return {
    ...(attention ? { attention } : {}),
    op,
    x: c[X]!,
    cols: c[COLS]!,
    batch: c[BATCH]!,
    parts,
    q: c[Q]!,
    t: c[T]!,
    sum: c[SUM]!,
  };
}

/**
 * Row groups [g0, g1) of all the job's parts together: each part's share of
 * them, as rows of that part.
 */
function runGroups(
  kernels: KernelExports,
  control: Control,
  job: MatmulJob,
  g0: number,
  g1: number,
  thread: number,
): void {
  let first = 0;
  for (const part of job.parts) {
    const groups = Math.ceil(part.rows / 4);
    const a = Math.max(g0, first), b = Math.min(g1, first + groups);
    if (a < b) {
      const r0 = (a - first) * 4, r1 = Math.min(part.rows, (b - first) * 4);
      runRows(kernels, control, job, part, r0, r1, thread);
    }
    first += groups;
  }
}

/** Output rows [r0, r1) of one part of `job` (pointers may be negative: wasm reads them as unsigned). */
function runRows(
  kernels: KernelExports,
  control: Control,
  job: MatmulJob,
  part: JobPart,
  r0: number,
  r1: number,
  thread: number,
) {
  const { x, cols, batch } = job, { w, y, rows } = part;
  switch (job.op) {
    case Op.f32:
      return kernels.matmul_f32(w, x, y, rows, cols, batch, r0, r1);
    case Op.bf16:
      return kernels.matmul_bf16(w, x, y, rows, cols, batch, r0, r1);
    case Op.f16:
      return kernels.matmul_f16(w, x, y, rows, cols, batch, r0, r1);
    case Op.f16Decoded: {
      const scratch = control.i32[DECODE_SCRATCH]! + thread * DECODE_SCRATCH_BYTES;
      return kernels.matmul_f16_decoded(w, x, y, rows, cols, batch, r0, r1, scratch);
    }
    case Op.scoreI8: // the int8 head's copy (r0 starts a group of 4) × one int8 activation row
      return kernels.score_rows_i8(w + r0 * cols, x, y + r0 * 4, r1 - r0, cols);
    case Op.i2sPack: { // I2_S code rows (w) into the packed layout (y), from row part.row0
      const counts = scratchOf(thread) + PACK_COUNTS;
      const bad = kernels.i2s_pack_rows(
        w + r0 * (cols / 4),
        r1 - r0,
        cols,
        y,
        (part.row0 ?? 0) + r0,
        counts,
      );
      const got = new Int32Array(control.i32.buffer, counts, 2);
      const sums = packSumsOf(control, thread);
      sums[0]! += got[0]!;
      sums[1]! += got[1]!;
      sums[2]! |= bad;
      return;
    }
    case Op.int8Head: // F16 rows (w) into the int8 head's copy (x) and norms (y), from its start
      return kernels.int8_head_rows(
        w + r0 * cols * 2,
        x,
        y,
        (part.row0 ?? 0) + r0,
        r1 - r0,
        cols,
        part.wScale ?? 0,
      );
    case Op.logSumExp: { // f32 rows at w, one f64 each at y (JavaScript: softmax.ts's logSumExp)
      const out = new Float64Array(control.f64.buffer, y, rows);
      for (let r = r0; r < r1; r++) {
        out[r] = logSumExp(new Float32Array(control.f64.buffer, w + r * cols * 4, cols));
      }
      return;
    }
    case Op.ternary:
      return kernels.matmul_ternary(
        w,
        part.wScale ?? 0,
        job.q ?? 0,
        job.t ?? 0,
        job.sum ?? 0,
        y,
        rows,
        cols,
        batch,
        r0,
        r1,
        scratchOf(thread),
        ternaryDecodable(cols, batch)
          ? control.i32[DECODE_SCRATCH]! + thread * DECODE_SCRATCH_BYTES
          : 0,
      );
    default:
      throw new RangeError(`kernel job: unknown op ${job.op}`);
  }
}

/**
 * This thread's parse of the current job, by control block and job number: a job is
 * cut into up to 8 chunks a thread, and parsing its arguments (objects, arrays) for
 * every chunk repeated the same allocations up to 16 times a job. Safe to reuse: the arguments
 * of job `seq` cannot change while a chunk of it is claimed (the caller waits for
 * every chunk). The control block is part of the key because the calling thread may
 * drive several kernel instances, each numbering its jobs from 1.
 */
let parsed: { control: Control; seq: number; job: MatmulJob; units: number } | undefined;

function currentJob(control: Control): { job: MatmulJob; units: number } {
  const seq = Atomics.load(control.i32, SEQ);
  if (parsed?.seq !== seq || parsed.control !== control) {
    const job = readArgs(control);
    parsed = { control, seq, job, units: unitsOf(job) };
  }
  return parsed;
}

/**
 * Claims and runs chunks of the published job until none are left. Returns the
 * first error thrown by a chunk (after counting it as done, so nobody waits).
 */
function claimChunks(kernels: KernelExports, control: Control, thread: number): unknown {
  const c = control.i32;
  let failure: unknown;
  for (;;) {
    const v = Atomics.load(c, CLAIM);
    const index = v & 0xffff;
    const chunks = Atomics.load(c, CHUNKS);
    if (index >= chunks) return failure;
    if (Atomics.compareExchange(c, CLAIM, v, v + 1) !== v) continue;
    try {
      const { job, units } = currentJob(control);
      const [u0, u1] = chunkGroups(units, index, chunks);
      if (u0 < u1) runUnits(kernels, control, job, u0, u1, thread);
    } catch (e) {
      failure ??= e;
      Atomics.store(c, ERROR, thread + 1);
    }
    if (Atomics.add(c, DONE, 1) + 1 === chunks) Atomics.notify(c, DONE);
  }
}

/** How long one sleep of the joining thread lasts, and how long no progress is tolerated. */
const STALL_WAIT_MS = 1000;
const STALL_LIMIT_MS = 60_000;
/** How long the joining thread spins for the last chunks before it sleeps. */
const JOIN_SPIN_MS = 0.25;

/**
 * Runs `job` on the calling thread (thread 0) and whichever of the `threads - 1`
 * workers join in, and returns when it is done. Throws if any chunk failed.
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
  // Not published, so that no spinning worker takes the one chunk and makes us wait.
  const units = unitsOf(job);
  if (threads === 1) return runUnits(kernels, control, job, 0, units, 0);
  if (job.parts.length > MAX_PARTS) throw new RangeError(`kernel job: over ${MAX_PARTS} parts`);
  const chunks = Math.min(units, threads * CHUNKS_PER_THREAD);
  // Close the claim word first (new generation, index 0xffff: nothing to claim), so that
  // a worker holding the old word cannot claim a chunk while the job is being written.
  const generation = ((Atomics.load(c, CLAIM) >>> 16) + 1) & 0xffff;
  Atomics.store(c, CLAIM, (generation << 16) | 0xffff);
  writeArgs(control, job, chunks);
  Atomics.store(c, ERROR, 0);
  Atomics.store(c, DONE, 0);
  // Claim index 0: publishes the job.
  Atomics.store(c, CLAIM, generation << 16);
  if (threads > 1) Atomics.notify(c, CLAIM);
  const failure = claimChunks(kernels, control, 0);
  // The worker still busy holds at most one chunk (tens to hundreds of µs): spin that long
  // rather than sleep, since a wake-up from Atomics.wait costs about as much again.
  let spins = 0, done: number, stalledMs = 0, spinUntil = 0;
  while ((done = Atomics.load(c, DONE)) !== chunks) {
    if ((++spins & 255) !== 0) continue;
    if (spinUntil === 0) spinUntil = performance.now() + JOIN_SPIN_MS;
    if (performance.now() < spinUntil) continue;
    // A worker that died holding a chunk would leave us waiting forever: fail loudly instead.
    if (Atomics.wait(c, DONE, done, STALL_WAIT_MS) === "timed-out") {
      stalledMs += STALL_WAIT_MS;
      if (stalledMs >= STALL_LIMIT_MS) {
        throw new Error(
          `kernel workers made no progress for ${
            STALL_LIMIT_MS / 1000
          } s on op ${job.op} (${done}/${chunks} chunks done)`,
        );
      }
    } else {
      stalledMs = 0;
    }
  }
  if (failure !== undefined) throw failure;
  const failed = Atomics.load(c, ERROR);
  if (failed !== 0) throw new Error(`kernel worker ${failed - 1} failed on op ${job.op}`);
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
  Atomics.store(c, EXIT, 1);
  Atomics.add(c, CLAIM, 0x10000);
  Atomics.notify(c, CLAIM);
}

/**
 * A worker's loop: claims chunks of published jobs until told to exit. After
 * each job it spins for `spinMicros` before sleeping in `Atomics.wait`.
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
  thread: number,
  spinMicros: number,
): void {
  const c = control.i32;
  for (;;) {
    claimChunks(kernels, control, thread);
    if (Atomics.load(c, EXIT) !== 0) return;
    // Nothing to claim in the current job: wait for the claim word to change.
    const seen = Atomics.load(c, CLAIM);
    if ((seen & 0xffff) < Atomics.load(c, CHUNKS)) continue;
    const until = performance.now() + spinMicros / 1000;
    let spins = 0;
    while (Atomics.load(c, CLAIM) === seen) {
      if ((++spins & 1023) === 0 && performance.now() > until) Atomics.wait(c, CLAIM, seen);
    }
  }
}
