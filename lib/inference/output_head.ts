/**
 * The output layer when the exact int8 head is on: the F16 matrix is not kept
 * in kernel memory at all. At load its int8 copy (int8_head.ts) is built slab
 * by slab while the tensor streams from the file through two bounded buffers;
 * afterwards the few F16 rows a token needs (the candidates the int8 bound
 * cannot rule out, and the embedding rows when the matrix is tied) are read
 * positionally from the file ({@link FileRows}) into a scratch area of kernel
 * memory and run through the same F16 kernel, so every logit it computes is
 * bit for bit the resident F16 head's.
 *
 * Consumers that need every logit (a full softmax: NLL, KL, sampling with a
 * temperature, `forward`) get them from {@link StreamedHead.all}, which streams
 * every row of the matrix from the file through the scratch area: exact, and a
 * read of the whole matrix from the page cache per call. model-validate and the
 * differential comparison load their engine with the F16 head resident instead
 * (`int8Head: false`), as they need every logit of many positions.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import type { Kernels } from "./kernels/api.ts";
 * declare const k: Kernels;
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const info = gguf.tensor("token_embd.weight");
 * const head = await StreamedHead.load(k, gguf, info, { batch: 64 });
 * head.file.read(46, 1, new Uint8Array(head.file.rowBytes)); // row 46's stored bytes
 * ```
 * @module
 */

import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { SlabReader } from "../io/slab_reader.ts";
import { exactTopLogits, type Int8Head, Int8HeadBuilder, int8HeadBytes } from "./int8_head.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { PayloadSink } from "./weights.ts";

/** Bytes of one slab of F16 rows read from the file (two at load, one per token). */
const SLAB_BYTES = 1 << 22;

/** Rows per slab: a multiple of 4 (the matmuls' row groups), at least 4. */
function slabRows(cols: number): number {
  return Math.max(4, Math.floor(SLAB_BYTES / (cols * 2) / 4) * 4);
}

/**
 * Kernel-memory bytes of a streamed head: the int8 copy and its norms, two
 * slabs of F16 rows, and the logits of one slab for `batch` positions.
 *
 * @example
 * ```ts
 * streamedHeadBytes(128256, 2560, 64); // ≈ 340 MB, against 657 MB for the F16 matrix
 * ```
 */
export function streamedHeadBytes(rows: number, cols: number, batch: number, int8 = true): number {
  const slab = slabRows(cols);
  return (int8 ? int8HeadBytes(rows, cols) : 0) + 2 * slab * cols * 2 + slab * batch * 4 + 3 * 64;
}

/**
 * Whole rows of one row-major tensor, read positionally and synchronously from its GGUF file
 * (io/slab_reader.ts), so that the forward pass can fetch the few rows of a matrix it does not
 * keep in memory (candidate rows to recompute, embedding rows of a tied matrix). The page
 * cache holds the file after the load, so a row costs a memory copy.
 */
export class FileRows {
  readonly path: string;
  readonly name: string;
  readonly rows: number;
  readonly rowBytes: number;
  #reader: SlabReader | null;
  #offset: number;

  /**
   * Opens the file of `gguf` for reading the `rows` rows of its tensor `info`; an
   * InputError when the file cannot be opened or its size changed since it was parsed.
   */
  constructor(gguf: GgufFile, info: GgufTensorInfo, rows: number) {
    if (!Number.isSafeInteger(info.nbytes / rows)) {
      throw new RangeError(`${info.name}: ${info.nbytes} bytes do not split into ${rows} rows`);
    }
    this.#reader = SlabReader.open(gguf.path, gguf.fileSize);
    this.path = gguf.path;
    this.name = info.name;
    this.rows = rows;
    this.rowBytes = info.nbytes / rows;
    this.#offset = info.fileOffset;
  }

  /** Fills `into` (at least `count` rows long) with rows [r0, r0 + count); returns that part. */
  read(r0: number, count: number, into: Uint8Array): Uint8Array {
    if (this.#reader === null) {
      throw new RangeError(`${this.path}: ${this.name} rows read after close`);
    }
    if (!Number.isSafeInteger(r0) || r0 < 0 || count < 0 || r0 + count > this.rows) {
      throw new RangeError(`${this.name}: rows ${r0}..${r0 + count} outside 0..${this.rows}`);
    }
    const start = this.#offset + r0 * this.rowBytes;
    const part = into.subarray(0, count * this.rowBytes);
    return this.#reader.readInto(start, part, `rows of tensor ${this.name}`);
  }

  /** Closes the file (again: nothing). */
  close(): void {
    this.#reader?.close();
    this.#reader = null;
  }
}

/** An F16 output matrix kept in its file, with its exact int8 head in kernel memory. */
export class StreamedHead {
  readonly rows: number;
  readonly cols: number;
  /**
   * The int8 head; null when it was not asked for or the matrix holds an infinity or NaN
   * (then every logit is streamed).
   */
  readonly int8: Int8Head | null;
  /** The matrix's rows in the file (also the embedding rows when the matrix is tied). */
  readonly file: FileRows;
  #k: Kernels;
  #slab: Ptr;
  #slabRows: number;
  #tmp: Ptr;
  #batch: number;

  private constructor(
    k: Kernels,
    file: FileRows,
    { cols, batch, slab, tmp }: { cols: number; batch: number; slab: Ptr; tmp: Ptr },
    builder: Int8HeadBuilder | null,
  ) {
    this.#k = k;
    this.file = file;
    this.rows = file.rows;
    this.cols = cols;
    this.#batch = batch;
    this.#slab = slab;
    this.#slabRows = slabRows(cols);
    this.#tmp = tmp;
    this.int8 = builder?.finish({
      name: file.name,
      rows: this.rows,
      cols,
      maxRows: this.#slabRows,
      at: (r0, count) => this.#read(r0, count),
    }) ?? null;
  }

  /**
   * Streams the F16 matrix `info` (`rows × cols`) from `g` once, building its int8 copy
   * slab by slab (the next slab is read while the kernels work on this one); `sink` sees
   * every payload byte, as the weight loader's observers do. `batch`: the most positions
   * {@link StreamedHead.all} is asked for at once. `int8` false: no int8 copy, nothing read
   * at load (unless `sink` wants the bytes); every logit is streamed (for runs that score
   * so few positions that building the copy costs more than streaming the matrix).
   */
  static async load(
    k: Kernels,
    g: GgufFile,
    info: GgufTensorInfo,
    { batch, sink, int8 = true }: { batch: number; sink?: PayloadSink | undefined; int8?: boolean },
  ): Promise<StreamedHead> {
    const [rows = 0, cols = 0] = info.shape;
    const builder = int8 ? new Int8HeadBuilder(k, rows, cols) : null;
    const n = slabRows(cols), slabBytes = n * cols * 2;
    const slabs = [k.alloc(slabBytes), k.alloc(slabBytes)], tmp = k.alloc(n * batch * 4);
    const read = (r0: number, i: number) =>
      g.readTensorSlice(
        info,
        r0 * cols * 2,
        k.u8(slabs[i % 2]!, Math.min(n, rows - r0) * cols * 2),
      );
    let pending: Promise<Uint8Array> | undefined = builder || sink ? read(0, 0) : undefined;
    try {
      for (let r0 = 0, i = 0; pending && r0 < rows; r0 += n, i++) {
        const bytes = await pending;
        pending = r0 + n < rows ? read(r0 + n, i + 1) : undefined;
        sink?.bytes(bytes, r0 * cols * 2);
        builder?.add(slabs[i % 2]!, r0, Math.min(n, rows - r0));
      }
    } finally {
      pending?.catch(() => {}); // a failure above leaves one read in flight: nobody's error
    }
    const file = new FileRows(g, info, rows);
    return new StreamedHead(k, file, { cols, batch, slab: slabs[0]!, tmp }, builder);
  }

  /**
   * The exact top `want` logits of the activation at `x` into `logits` (the others
   * −Infinity, see `exactTopLogits`); false (nothing written) when there is no int8
   * head or x is not finite: then ask {@link StreamedHead.all}.
   */
  top(x: Ptr, want: number, logits: Ptr): boolean {
    return this.int8 !== null && exactTopLogits(this.#k, this.int8, x, want, logits) !== null;
  }

  /**
   * Every logit of `count` activation rows at `x` (`[count × rows]` at `logits`), the
   * matrix streamed from the file slab by slab through the F16 kernel: exactly the
   * resident F16 head's logits.
   */
  all(x: Ptr, logits: Ptr, count: number): void {
    if (count > this.#batch) throw new RangeError(`output head: ${count} rows > ${this.#batch}`);
    const k = this.#k, { rows, cols } = this;
    for (let r0 = 0; r0 < rows; r0 += this.#slabRows) {
      const n = Math.min(this.#slabRows, rows - r0), w = this.#read(r0, n);
      if (count === 1) {
        k.matmulF16(w, x, logits + r0 * 4, n, cols, 1);
        continue;
      }
      k.matmulF16(w, x, this.#tmp, n, cols, count);
      const out = k.f32(logits, count * rows), tmp = k.f32(this.#tmp, count * n);
      for (let b = 0; b < count; b++) out.set(tmp.subarray(b * n, (b + 1) * n), b * rows + r0);
    }
  }

  /** Closes the file. */
  close(): void {
    this.file.close();
  }

  #read(r0: number, count: number): Ptr {
    this.file.read(r0, count, this.#k.u8(this.#slab, count * this.cols * 2));
    return this.#slab;
  }
}
