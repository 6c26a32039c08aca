/**
 * Rows of a row-major tensor read positionally (pread) from its GGUF file,
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
 * const rows = FileRows.open(gguf.path, info, info.shape[0]!);
 * const row = rows.read(46, 1, new Uint8Array(rows.rowBytes)); // row 46's stored bytes
 * rows.close();
 * ```
 * @module
 */

import { closeSync, openSync, readSync } from "node:fs";
import { FormatError, InputError } from "../errors.ts";
import type { GgufTensorInfo } from "../gguf/reader.ts";

/** Synchronous positional reads of whole rows of one tensor. */
export class FileRows {
  readonly path: string;
  readonly name: string;
  readonly rows: number;
  readonly rowBytes: number;
  #fd: number | null;
  #offset: number;

  private constructor(path: string, info: GgufTensorInfo, rows: number, fd: number) {
    this.path = path;
    this.name = info.name;
    this.rows = rows;
    this.rowBytes = info.nbytes / rows;
    this.#fd = fd;
    this.#offset = info.fileOffset;
  }

  /** Opens `path` (the GGUF that holds `info`) for reading the `rows` rows of that tensor. */
  static open(path: string, info: GgufTensorInfo, rows: number): FileRows {
    if (!Number.isSafeInteger(info.nbytes / rows)) {
      throw new RangeError(`${info.name}: ${info.nbytes} bytes do not split into ${rows} rows`);
    }
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (e) {
      throw new InputError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
    }
    return new FileRows(path, info, rows, fd);
  }

  /** Fills `into` (at least `count` rows long) with rows [r0, r0 + count); returns that part. */
  read(r0: number, count: number, into: Uint8Array): Uint8Array {
    if (this.#fd === null) throw new RangeError(`${this.path}: ${this.name} rows read after close`);
    if (!Number.isSafeInteger(r0) || r0 < 0 || count < 0 || r0 + count > this.rows) {
      throw new RangeError(`${this.name}: rows ${r0}..${r0 + count} outside 0..${this.rows}`);
    }
    const length = count * this.rowBytes, start = this.#offset + r0 * this.rowBytes;
    for (let done = 0; done < length;) {
      const n = readSync(this.#fd, into, done, length - done, start + done);
      if (n === 0) {
        throw new FormatError(
          `${this.path}: unexpected end of file while reading rows of tensor ${this.name}`,
        );
      }
      done += n;
    }
    return into.subarray(0, length);
  }

  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }
}
