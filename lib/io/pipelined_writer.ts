/**
 * A file writer that keeps the disk and the other core busy while the caller
 * produces the next bytes: bytes are gathered into a few reused shared
 * buffers (no allocation per chunk), each full buffer is written at its offset
 * with a positional write and, at the same time, fed to a sha256 running in a
 * worker. The caller waits only when every buffer is still in flight
 * (back-pressure), so memory stays at `slots × slotBytes` whatever the file's
 * size. The sha256 is of the bytes as written: no second read of the file.
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
// A type import keeps the worker module in the static graph (see hash_worker.ts).
import type { Sha256Reply, Sha256Request } from "./sha256_worker.ts";

/** Buffer size and count: 4 × 4 MiB in flight at most. */
export const DEFAULT_SLOT_BYTES = 1 << 22;
export const DEFAULT_SLOTS = 4;
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
  // A Deno file, not a node:fs FileHandle: Deno runs a FileHandle's write on the calling thread,
  // and a Deno file's on an I/O thread, so the copy into the page cache overlaps the caller's work.
  #file: Deno.FsFile;
  #worker: Worker;
  #slots: Uint8Array[];
  /** Per slot: settles when its write and its hashing are both done. */
  #busy: (Promise<void> | null)[];
  #hashed: ((() => void) | null)[];
  #digest: ((hex: string) => void) | null = null;
  /** The last write issued: writes go one at a time (concurrent writes to one file contend). */
  #lastWrite: Promise<void> = Promise.resolve();
  /** A second handle for background syncs, which then never queue behind (or block) a write. */
  #syncFile: Deno.FsFile | null;
  #syncBytes: number;
  /** The background sync in flight, if any; where the last one was started. */
  #syncing: Promise<void> | null = null;
  #syncedTo = 0;
  #current = 0;
  #fill = 0;
  #position = 0;
  #failure: unknown = null;
  #closed = false;

  private constructor(
    path: string,
    file: Deno.FsFile,
    syncFile: Deno.FsFile | null,
    { slots, slotBytes, syncBytes }: Required<PipelinedWriterOptions>,
  ) {
    this.path = path;
    this.#file = file;
    this.#syncFile = syncFile;
    this.#syncBytes = syncBytes;
    const shared = Array.from({ length: slots }, () => new SharedArrayBuffer(slotBytes));
    this.#slots = shared.map((s) => new Uint8Array(s));
    this.#busy = shared.map(() => null);
    this.#hashed = shared.map(() => null);
    this.#worker = new Worker(new URL("./sha256_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (e: MessageEvent<Sha256Reply>) => {
      if (e.data.kind === "done") this.#hashed[e.data.slot]?.();
      else if (e.data.kind === "digest") this.#digest?.(e.data.hex);
    };
    this.#worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#fail(new OutputError(`${path}: the hashing worker failed (${e.message})`));
    };
    this.#post({ kind: "slots", slots: shared });
  }

  /**
   * Opens `path` (an existing file, e.g. an atomic output's temporary file, or
   * a new one) for writing from offset 0.
   */
  static async open(path: string, options: PipelinedWriterOptions = {}): Promise<PipelinedWriter> {
    const what = `${path}: cannot open for writing`;
    const file = await rethrowAs(
      OutputError,
      what,
      Deno.open(path, { write: true, create: true, truncate: true }),
    );
    const syncBytes = options.syncBytes ?? DEFAULT_SYNC_BYTES;
    // A failed open only loses the head start: the owner's final sync still makes the file durable.
    const syncFile = syncBytes > 0 ? await Deno.open(path, { write: true }).catch(() => null) : null;
    return new PipelinedWriter(path, file, syncFile, {
      slots: options.slots ?? DEFAULT_SLOTS,
      slotBytes: options.slotBytes ?? DEFAULT_SLOT_BYTES,
      syncBytes,
    });
  }

  #post(m: Sha256Request): void {
    this.#worker.postMessage(m);
  }

  #fail(e: unknown): void {
    this.#failure ??= e;
    for (const resolve of this.#hashed) resolve?.();
    this.#digest?.("");
  }

  #check(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw new OutputError(`${this.path}: write after close`);
  }

  /** Appends bytes; `chunk` is copied before this resolves, so the caller may reuse it. */
  async write(chunk: Uint8Array): Promise<void> {
    this.#check();
    let done = 0;
    while (done < chunk.length) {
      if (this.#fill === 0) await this.#busy[this.#current];
      this.#check();
      const slot = this.#slots[this.#current]!;
      const n = Math.min(chunk.length - done, slot.length - this.#fill);
      slot.set(chunk.subarray(done, done + n), this.#fill);
      this.#fill += n;
      done += n;
      if (this.#fill === slot.length) this.#dispatch();
    }
  }

  /** Sends the current slot to the disk and to the hash, and moves on to the next slot. */
  #dispatch(): void {
    const k = this.#current, length = this.#fill, position = this.#position;
    const view = this.#slots[k]!.subarray(0, length);
    const hashed = new Promise<void>((resolve) => (this.#hashed[k] = resolve));
    this.#post({ kind: "update", slot: k, length });
    const written = this.#lastWrite.then(() => this.#writeAt(view, position));
    this.#lastWrite = written;
    this.#busy[k] = Promise.all([written, hashed]).then(() => {
      this.#hashed[k] = null;
    });
    this.#busy[k]!.catch(() => {}); // surfaced through #failure on the next write or finish
    this.#position += length;
    this.#fill = 0;
    this.#current = (k + 1) % this.#slots.length;
    this.#maybeSync(written);
  }

  /**
   * Once `syncBytes` more have been issued, starts a sync on the second handle
   * after `written` lands (one at a time): the disk catches up while the
   * caller computes. Its failure is ignored: only the owner's final sync
   * vouches for the file.
   */
  #maybeSync(written: Promise<void>): void {
    const syncFile = this.#syncFile;
    if (!syncFile || this.#syncing || this.#position - this.#syncedTo < this.#syncBytes) return;
    this.#syncedTo = this.#position;
    this.#syncing = written
      .then(() => syncFile.syncData())
      .catch(() => {})
      .finally(() => (this.#syncing = null));
  }

  /** Waits for a background sync in flight and closes its handle. */
  async #closeSync(): Promise<void> {
    await this.#syncing;
    try {
      this.#syncFile?.close();
    } catch {
      // already closed
    }
    this.#syncFile = null;
  }

  async #writeAt(view: Uint8Array, position: number): Promise<void> {
    try {
      let done = 0;
      while (done < view.length) {
        // Writes are issued one at a time, so the seek and the write are never interleaved.
        await this.#file.seek(position + done, Deno.SeekMode.Start);
        const bytesWritten = await this.#file.write(view.subarray(done));
        done += bytesWritten;
      }
    } catch (e) {
      this.#fail(
        new OutputError(`${this.path}: write failed (${(e as Error).message})`, { cause: e }),
      );
    }
  }

  /** Writes what is left, waits for every write and the hash, closes; the sha256 and size. */
  async finish(): Promise<{ sha256: string; bytes: number }> {
    this.#check();
    if (this.#fill > 0) this.#dispatch();
    await Promise.all(this.#busy);
    this.#check();
    const hex = new Promise<string>((resolve) => (this.#digest = resolve));
    this.#post({ kind: "digest" });
    const sha256 = await hex;
    await this.#closeSync();
    this.#check();
    this.#closed = true;
    this.#worker.terminate();
    try {
      this.#file.close();
    } catch (e) {
      throw new OutputError(`${this.path}: close failed (${(e as Error).message})`, { cause: e });
    }
    return { sha256, bytes: this.#position };
  }

  /** Stops everything (on failure); the file is left for its owner to remove. */
  abort(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.terminate();
    // A sync in flight keeps the descriptor until it returns; nothing waits for it.
    try {
      this.#syncFile?.close();
    } catch {
      // already closed
    }
    this.#syncFile = null;
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
