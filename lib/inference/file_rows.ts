/**
 * Rows of a row-major tensor read positionally from its GGUF file (io/slab_reader.ts),
 * synchronously, so that the forward pass can fetch the few rows of a matrix
 * it does not keep in memory (the output layer behind the exact int8 head:
 * candidate rows to recompute, embedding rows of a tied matrix). The page
 * cache holds the file after the load, so a row costs a memory copy.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { FileRows } from "./file_rows.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const info = gguf.tensor("token_embd.weight");
 * const rows = FileRows.open(gguf, info, info.shape[0]!);
 * const row = rows.read(46, 1, new Uint8Array(rows.rowBytes)); // row 46's stored bytes
 * rows.close();
 * ```
 * @module
 */

import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { SlabReader } from "../io/slab_reader.ts";

/** Synchronous positional reads of whole rows of one tensor. */
export class FileRows {
  readonly path: string;
  readonly name: string;
  readonly rows: number;
  readonly rowBytes: number;
  #reader: SlabReader | null;
  #offset: number;

  private constructor(reader: SlabReader, info: GgufTensorInfo, rows: number) {
    this.path = reader.path;
    this.name = info.name;
    this.rows = rows;
    this.rowBytes = info.nbytes / rows;
    this.#reader = reader;
    this.#offset = info.fileOffset;
  }

  /**
   * Opens the file of `gguf` for reading the `rows` rows of its tensor `info`; an
   * InputError when the file cannot be opened or its size changed since it was parsed.
   */
  static open(gguf: GgufFile, info: GgufTensorInfo, rows: number): FileRows {
    if (!Number.isSafeInteger(info.nbytes / rows)) {
      throw new RangeError(`${info.name}: ${info.nbytes} bytes do not split into ${rows} rows`);
    }
    return new FileRows(SlabReader.open(gguf.path, gguf.fileSize), info, rows);
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
