/**
 * Synchronous positional reads of a file into buffers the caller owns (the
 * quantizer's packing kernel memory and copy buffer, the engine's F16 rows of
 * the output matrix, lib/inference/output_head.ts). On a
 * file in the page cache a read is a copy, and reads of at most a few
 * hundred KiB into a buffer that stays in the core's cache cost a third of
 * the system time of megabyte reads (docs/performance.md, "Quantization"),
 * with no hop to an I/O thread and back. The caller's loop never holds more
 * than one slab.
 *
 * The file is opened by path a second time beside the parsed GGUF; its size
 * must equal the size the GGUF was parsed from, or the open is refused.
 *
 * @example
 * ```ts
 * import { SlabReader } from "./slab_reader.ts";
 * const r = SlabReader.open("models/clean/clean-f16.gguf", 7_212_000);
 * try {
 *   r.readInto(0, new Uint8Array(4), "magic");
 * } finally {
 *   r.close();
 * }
 * ```
 * @module
 */

import { FormatError, InputError } from "../errors.ts";

/** A file opened for synchronous reads at given offsets. */
export class SlabReader {
  readonly path: string;
  readonly size: number;
  #file: Deno.FsFile;

  private constructor(path: string, file: Deno.FsFile, size: number) {
    this.path = path;
    this.#file = file;
    this.size = size;
  }

  /**
   * Opens `path`; an {@link InputError} when it cannot be opened or its size
   * is not `expectedSize` (the file changed since it was parsed).
   */
  static open(path: string, expectedSize: number): SlabReader {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { read: true });
    } catch (e) {
      throw new InputError(`${path}: cannot open (${(e as Error).message})`, { cause: e });
    }
    const size = file.statSync().size;
    if (size !== expectedSize) {
      file.close();
      throw new InputError(
        `${path}: the file changed while it was being read (${size} bytes, ${expectedSize} when parsed)`,
      );
    }
    return new SlabReader(path, file, size);
  }

  /** Fills `into` with the bytes at `offset`; a {@link FormatError} past the end of the file. */
  readInto(offset: number, into: Uint8Array, what: string): Uint8Array {
    if (offset < 0 || offset + into.length > this.size) {
      throw new FormatError(
        `${this.path}: ${what} at offset ${offset} with length ${into.length} lies past the end of the file (${this.size} bytes)`,
      );
    }
    this.#file.seekSync(offset, Deno.SeekMode.Start);
    let done = 0;
    while (done < into.length) {
      let n: number | null;
      try {
        n = this.#file.readSync(into.subarray(done));
      } catch (e) {
        throw new InputError(`${this.path}: cannot read ${what} (${(e as Error).message})`, {
          cause: e,
        });
      }
      if (n === null || n === 0) {
        throw new FormatError(`${this.path}: unexpected end of file while reading ${what}`);
      }
      done += n;
    }
    return into;
  }

  /**
   * The `nbytes` bytes at `offset`, read into `buffer` one slab at a time,
   * with the offset of each slab in the run (each slab is valid until the next).
   */
  *slabs(offset: number, nbytes: number, buffer: Uint8Array, what: string) {
    for (let done = 0; done < nbytes; done += buffer.length) {
      const slab = buffer.subarray(0, Math.min(buffer.length, nbytes - done));
      yield { bytes: this.readInto(offset + done, slab, what), done };
    }
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
