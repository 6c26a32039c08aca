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
  #current = 0;
  #fill = 0;
  #position = 0;
  #failure: unknown = null;
  #closed = false;

  private constructor(path: string, file: Deno.FsFile, slots: number, slotBytes: number) {
    this.path = path;
    this.#file = file;
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
  static async open(
    path: string,
    { slots = DEFAULT_SLOTS, slotBytes = DEFAULT_SLOT_BYTES } = {},
  ): Promise<PipelinedWriter> {
    const what = `${path}: cannot open for writing`;
    const file = await rethrowAs(
      OutputError,
      what,
      Deno.open(path, { write: true, create: true, truncate: true }),
    );
    return new PipelinedWriter(path, file, slots, slotBytes);
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
    try {
      this.#file.close();
    } catch {
      // already closed
    }
  }
}
