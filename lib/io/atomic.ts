/**
 * Atomic outputs: every file is written to a temporary name in its target
 * folder and renamed into place only when all of them are complete, so a
 * failure leaves nothing at the final paths. Bytes pass through a sha256 tee,
 * so a fingerprint needs no second read.
 *
 * @example
 * ```ts
 * import { AtomicOutputs } from "./atomic.ts";
 * const out = await AtomicOutputs.create("models/clean");
 * try {
 *   const gguf = await out.file("clean-f16.gguf");
 *   await gguf.write(new Uint8Array([1, 2, 3]));
 *   await out.commit();
 * } catch (e) {
 *   await out.abort();
 *   throw e;
 * }
 * ```
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { OutputError } from "../errors.ts";

/** A sink for bytes. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

/** One output file being written under a temporary name. */
export class AtomicFile implements ByteSink {
  readonly finalPath: string;
  readonly tempPath: string;
  #file: Deno.FsFile | null;
  #hash: Hash = createHash("sha256");
  #bytes = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  constructor(finalPath: string, tempPath: string, file: Deno.FsFile) {
    this.finalPath = finalPath;
    this.tempPath = tempPath;
    this.#file = file;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /** Appends bytes (copied into a small coalescing buffer so that callers may reuse theirs). */
  async write(chunk: Uint8Array): Promise<void> {
    if (!this.#file) throw new OutputError(`${this.finalPath}: write after close`);
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    if (chunk.length >= 1 << 20) {
      await this.#flush();
      await this.#writeAll(chunk);
      return;
    }
    this.#pending.push(chunk.slice());
    this.#pendingBytes += chunk.length;
    if (this.#pendingBytes >= 1 << 20) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#pendingBytes === 0) return;
    const all = new Uint8Array(this.#pendingBytes);
    let o = 0;
    for (const p of this.#pending) {
      all.set(p, o);
      o += p.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    await this.#writeAll(all);
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < data.length) done += await this.#file!.write(data.subarray(done));
    } catch (e) {
      throw new OutputError(`${this.finalPath}: write failed (${(e as Error).message})`, {
        cause: e,
      });
    }
  }

  /** Writes a whole UTF-8 string. */
  writeText(text: string): Promise<void> {
    return this.write(new TextEncoder().encode(text));
  }

  /** Flushes and closes; returns the sha256 of everything written, in hex. */
  async close(): Promise<string> {
    await this.#flush();
    if (this.#file) {
      try {
        await this.#file.syncData();
      } catch {
        // some filesystems cannot sync; the rename is still atomic
      }
      this.#file.close();
      this.#file = null;
    }
    return this.#hash.digest("hex");
  }

  /** Closes without caring about the result (used on failure). */
  discard(): void {
    try {
      this.#file?.close();
    } catch {
      // already closed
    }
    this.#file = null;
  }
}

/** A set of outputs in one folder, committed together. */
export class AtomicOutputs {
  readonly dir: string;
  #files: AtomicFile[] = [];
  #closed: Map<AtomicFile, string> = new Map();
  #done = false;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates `dir` if needed and checks that it is writable. */
  static async create(dir: string): Promise<AtomicOutputs> {
    try {
      await Deno.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new OutputError(`${dir}: cannot create output folder (${(e as Error).message})`, {
        cause: e,
      });
    }
    return new AtomicOutputs(dir);
  }

  /** Opens `name` (relative to the folder) under a temporary name. */
  async file(name: string): Promise<AtomicFile> {
    const finalPath = `${this.dir}/${name}`;
    const tempPath = `${this.dir}/.${name}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    let f: Deno.FsFile;
    try {
      f = await Deno.open(tempPath, { write: true, createNew: true });
    } catch (e) {
      throw new OutputError(
        `${this.dir}: output folder is not writable (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
    const file = new AtomicFile(finalPath, tempPath, f);
    this.#files.push(file);
    return file;
  }

  /** Closes a file early and returns its sha256 (the file is still renamed only at commit). */
  async close(file: AtomicFile): Promise<string> {
    const known = this.#closed.get(file);
    if (known !== undefined) return known;
    const sha = await file.close();
    this.#closed.set(file, sha);
    return sha;
  }

  /** Closes every file and renames all of them into place. */
  async commit(): Promise<void> {
    for (const f of this.#files) await this.close(f);
    try {
      for (const f of this.#files) await Deno.rename(f.tempPath, f.finalPath);
    } catch (e) {
      await this.abort();
      throw new OutputError(
        `${this.dir}: cannot move outputs into place (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
    this.#done = true;
  }

  /** Removes every temporary file; final paths are never touched. */
  async abort(): Promise<void> {
    if (this.#done) return;
    for (const f of this.#files) {
      f.discard();
      await Deno.remove(f.tempPath).catch(() => {});
    }
    this.#done = true;
  }
}
