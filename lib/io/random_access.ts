/**
 * Positional reads from a file of known size, with bounds checked before any
 * allocation: the base of every streaming reader here.
 *
 * @example
 * ```ts
 * import { RandomAccessFile } from "./random_access.ts";
 * const f = await RandomAccessFile.open("fixtures/tiny-bitnet/model.safetensors");
 * const head = await f.readAt(0, 8);
 * f.close();
 * ```
 * @module
 */

import { type FileHandle, open as openFile } from "node:fs/promises";
import { FormatError, InputError, rethrowAs } from "../errors.ts";

/**
 * Read buffers of {@link RandomAccessFile.stream}, reused from one stream to
 * the next: fresh memory costs a page fault per 4 KiB touched, which on a
 * virtual machine is as dear as the read itself. At most {@link POOL_MAX}
 * buffers of at most {@link POOL_LARGEST} bytes are kept.
 */
const POOL: Uint8Array[] = [];
const POOL_MAX = 6;
const POOL_LARGEST = 1 << 23;

/** WebAssembly's page size: read buffers are made of whole pages. */
const WASM_PAGE = 65536;

/**
 * A buffer of `size` bytes that the file reads fill at the page cache's speed.
 * Deno 2.9 reads into the memory of a WebAssembly instance 4-5 times as fast
 * as into an ordinary ArrayBuffer (2 MiB reads from the page cache: ≈ 7 GB/s
 * against 1.2-1.6 GB/s, docs/performance.md), so large read buffers are made
 * as a WebAssembly.Memory's bytes, which are an ordinary, non-shared
 * ArrayBuffer to everyone who reads them; small ones stay plain.
 */
function readBuffer(size: number): Uint8Array {
  if (size < WASM_PAGE) return new Uint8Array(size);
  const pages = Math.ceil(size / WASM_PAGE);
  return new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer, 0, size);
}

function takeBuffer(size: number): Uint8Array {
  const i = POOL.findIndex((b) => b.length === size);
  return i >= 0 ? POOL.splice(i, 1)[0]! : readBuffer(size);
}

function giveBack(buffers: Uint8Array[]): void {
  for (const b of buffers) {
    if (b.length <= POOL_LARGEST && POOL.length < POOL_MAX) POOL.push(b);
  }
}

/**
 * A read-only file with `readAt`, the size known up front. Reads are positional
 * (pread), so concurrent reads on one file never disturb each other.
 */
export class RandomAccessFile {
  readonly path: string;
  readonly size: number;
  #file: FileHandle;

  private constructor(path: string, file: FileHandle, size: number) {
    this.path = path;
    this.#file = file;
    this.size = size;
  }

  /** Opens `path` for reading; a missing or unreadable file is an {@link InputError}. */
  static async open(path: string): Promise<RandomAccessFile> {
    const file = await rethrowAs(InputError, `${path}: cannot open`, openFile(path, "r"));
    const stat = await file.stat();
    if (!stat.isFile()) {
      await file.close();
      throw new InputError(`${path}: not a regular file`);
    }
    return new RandomAccessFile(path, file, stat.size);
  }

  /** Throws a {@link FormatError} unless [offset, offset+length) lies inside the file. */
  checkRange(offset: number, length: number, what: string): void {
    if (
      !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 ||
      offset + length > this.size
    ) {
      throw new FormatError(
        `${this.path}: ${what} at offset ${offset} with length ${length} lies past the end of the file (${this.size} bytes)`,
      );
    }
  }

  /** Fills `into` from `offset`; the range must lie inside the file. */
  async readInto(offset: number, into: Uint8Array, what = "read"): Promise<Uint8Array> {
    this.checkRange(offset, into.length, what);
    let done = 0;
    while (done < into.length) {
      const { bytesRead: n } = await this.#file.read(into, done, into.length - done, offset + done);
      if (n === 0) {
        throw new FormatError(`${this.path}: unexpected end of file while reading ${what}`);
      }
      done += n;
    }
    return into;
  }

  /** Reads `length` bytes at `offset` into a new buffer (checked before allocating). */
  async readAt(offset: number, length: number, what = "read"): Promise<Uint8Array> {
    this.checkRange(offset, length, what); // before allocating
    return await this.readInto(offset, new Uint8Array(length), what);
  }

  /**
   * Streams [offset, offset+length) in chunks of at most `chunkSize` bytes,
   * reading the next chunk while the caller works on this one. A yielded
   * buffer is reused: it stays valid until the caller asks for the next chunk.
   */
  async *stream(
    offset: number,
    length: number,
    chunkSize = 1 << 22,
    what = "read",
  ): AsyncGenerator<Uint8Array> {
    this.checkRange(offset, length, what);
    if (length === 0) return;
    const size = Math.min(chunkSize, length);
    // Pooled buffers are chunkSize long whatever the tensor's size, so small tensors reuse them too.
    const pooled = chunkSize <= POOL_LARGEST ? chunkSize : size;
    const bufs = [takeBuffer(pooled), takeBuffer(pooled)];
    const read = (done: number, k: number) =>
      this.readInto(offset + done, bufs[k % 2]!.subarray(0, Math.min(size, length - done)), what);
    let pending = read(0, 0);
    try {
      for (let done = 0, k = 0; done < length; k++) {
        const chunk = await pending;
        done += chunk.length;
        if (done < length) pending = read(done, k + 1);
        yield chunk;
      }
    } finally {
      // A caller that stops early leaves one read in flight: its failure is nobody's error, and
      // its buffer goes back to the pool only once the read has landed.
      pending.catch(() => {}).then(() => giveBack(bufs));
    }
  }

  close(): void {
    this.#file.close().catch(() => {
      // already closed
    });
  }
}
