/**
 * A file writer that keeps the disk and the other core busy while the caller
 * produces the next bytes: bytes are gathered into a few reused shared
 * buffers (no allocation per chunk); each full buffer goes to a worker that
 * writes it at its offset and feeds it to the file's sha256
 * (lib/io/sha256_ring.ts). The worker never waits for the caller's event
 * loop, so the writes run while the caller computes, even synchronously. The
 * caller waits only when every buffer is still in flight (back-pressure), so
 * memory stays at `slots × slotBytes` whatever the file's size. The sha256 is
 * of the bytes as written: no second read of the file.
 *
 * @example
 * ```ts
 * import { PipelinedWriter } from "./pipelined_writer.ts";
 * const w = await PipelinedWriter.open("/tmp/out.bin");
 * try {
 *   await w.write(new Uint8Array([1, 2, 3]));
 *   const { sha256, bytes } = await w.finish(); // bytes === 3
 * } catch (e) {
 *   w.abort();
 *   throw e;
 * }
 * ```
 * @module
 */

import { OutputError, rethrowAs } from "../errors.ts";
import type { ByteSink } from "./atomic.ts";
import { Sha256Ring } from "./sha256_ring.ts";

/**
 * Buffer size and count: 16 × 256 KiB in flight at most. A slot that stays in
 * the core's cache between the caller's copy, the write and the hash costs the
 * worker a third less than 4 MiB slots (2.0 against 2.4–3.4 s of CPU for the
 * 2B model's 1.18 GB, docs/performance.md).
 */
export const DEFAULT_SLOT_BYTES = 1 << 18;
export const DEFAULT_SLOTS = 16;
/**
 * Bytes written between two background syncs. The page cache holds up to a
 * tenth of memory dirty before it writes back on its own, so a 1.2 GB output
 * would otherwise reach the disk only in the owner's final sync, after all the
 * work (1.4–2 s of waiting on a 300 MB/s disk); syncing as the file grows lets
 * the disk write while the caller computes, and leaves the final sync little.
 */
export const DEFAULT_SYNC_BYTES = 1 << 26;

/** Buffers, and how often the file is synced in the background (0: never, the owner syncs). */
export interface PipelinedWriterOptions {
  /** Buffers in flight; default {@link DEFAULT_SLOTS}. */
  slots?: number;
  /** Bytes per buffer; default {@link DEFAULT_SLOT_BYTES}. */
  slotBytes?: number;
  /** Bytes between background syncs; default {@link DEFAULT_SYNC_BYTES}. */
  syncBytes?: number;
}

/** Writes gathered bytes at known offsets and hashes them beside, with bounded memory. */
export class PipelinedWriter implements ByteSink {
  readonly path: string;
  readonly #ring: Sha256Ring;
  /** The handle background syncs go through (their op runs on an I/O thread). */
  #syncFile: Deno.FsFile | null;
  readonly #syncBytes: number;
  /** The background sync in flight, if any; the position at which the next one is due. */
  #syncing: Promise<void> | null = null;
  #nextSync: number;
  /** The slot being filled (null until the first byte), and how full it is. */
  #slot: Uint8Array | null = null;
  #fill = 0;
  /** Bytes handed to the worker so far: the next slot's offset in the file. */
  #position = 0;
  #closed = false;

  private constructor(path: string, syncFile: Deno.FsFile, opts: Required<PipelinedWriterOptions>) {
    this.path = path;
    this.#syncFile = syncFile;
    this.#syncBytes = opts.syncBytes;
    this.#nextSync = opts.syncBytes;
    this.#ring = Sha256Ring.start({
      slots: opts.slots,
      slotBytes: opts.slotBytes,
      writePath: path,
    });
  }

  /**
   * Opens `path` (an existing file, e.g. an atomic output's temporary file, or
   * a new one), emptied, for writing from offset 0.
   */
  static async open(path: string, options: PipelinedWriterOptions = {}): Promise<PipelinedWriter> {
    const what = `${path}: cannot open for writing`;
    const file = await rethrowAs(
      OutputError,
      what,
      Deno.open(path, { write: true, create: true, truncate: true }),
    );
    return new PipelinedWriter(path, file, {
      slots: options.slots ?? DEFAULT_SLOTS,
      slotBytes: options.slotBytes ?? DEFAULT_SLOT_BYTES,
      syncBytes: options.syncBytes ?? DEFAULT_SYNC_BYTES,
    });
  }

  #check(): void {
    if (this.#closed) throw new OutputError(`${this.path}: write after close`);
  }

  /** Waits for the next free slot; a worker failure is an {@link OutputError}. */
  async #nextSlot(): Promise<Uint8Array> {
    try {
      return this.#ring.next();
    } catch {
      throw await this.#failure();
    }
  }

  /** The worker's reason, as an {@link OutputError}. */
  async #failure(): Promise<OutputError> {
    const why = await this.#ring.finish().then(() => "stopped", (e) => (e as Error).message);
    this.abort();
    return new OutputError(`${this.path}: write failed (${why})`);
  }

  /** Appends bytes; `chunk` is copied before this resolves, so the caller may reuse it. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#check();
    let done = 0;
    while (done < chunk.length) {
      this.#slot ??= await this.#nextSlot();
      const slot = this.#slot;
      const n = Math.min(chunk.length - done, slot.length - this.#fill);
      slot.set(chunk.subarray(done, done + n), this.#fill);
      this.#fill += n;
      done += n;
      if (this.#fill === slot.length) this.#dispatch();
    }
    await this.#maybeSync();
  }

  /** Hands the current slot to the worker (written at its offset, hashed). */
  #dispatch(): void {
    this.#ring.commit(this.#fill, this.#position);
    this.#position += this.#fill;
    this.#slot = null;
    this.#fill = 0;
  }

  /**
   * Every `syncBytes` handed over, starts a sync on the writer's own handle
   * (one at a time; the op runs on an I/O thread): the disk catches up while
   * the caller computes. The caller may never yield to the event loop (its
   * chunks come from synchronous reads and resolved promises), so the end of
   * a sync would go unnoticed: one macrotask turn is taken here first while
   * one is in flight (at most once per `syncBytes`). If it is still running,
   * this boundary is skipped. A sync's failure is ignored: only the owner's
   * final sync vouches for the file.
   */
  async #maybeSync(): Promise<void> {
    const syncFile = this.#syncFile;
    if (this.#syncBytes <= 0 || !syncFile || this.#position < this.#nextSync) return;
    this.#nextSync = this.#position + this.#syncBytes;
    if (this.#syncing) await new Promise((resolve) => setTimeout(resolve, 0));
    if (this.#syncing) return;
    this.#syncing = syncFile.syncData()
      .catch(() => {})
      .finally(() => (this.#syncing = null));
  }

  /** Writes what is left, waits for every write and the hash, closes; the sha256 and size. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    this.#check();
    if (this.#fill > 0) this.#dispatch();
    let sha256: string;
    try {
      sha256 = await this.#ring.finish();
    } catch {
      throw await this.#failure();
    }
    await this.#syncing;
    this.#closed = true;
    try {
      this.#syncFile?.close();
    } catch (e) {
      throw new OutputError(`${this.path}: close failed (${(e as Error).message})`, { cause: e });
    } finally {
      this.#syncFile = null;
    }
    return { sha256, bytes: this.#position };
  }

  /** Stops everything (on failure); the file is left for its owner to remove. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ring.cancel();
    // A sync in flight keeps the descriptor until it returns; nothing waits for it.
    try {
      this.#syncFile?.close();
    } catch {
      // already closed
    }
    this.#syncFile = null;
  }
}
