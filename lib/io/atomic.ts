/**
 * Atomic outputs: every file is written to a temporary name in its target
 * folder (ours: `.<name>.<pid>-<tag>.clean-gguf-tmp`) and the whole set is
 * committed only when all of them are complete, so a failure leaves nothing
 * at the final paths and a reader never sees old and new files mixed
 * (lib/io/output_set.ts: the first file opened is the set's anchor, placed
 * last). A run holds the folder's lock from {@link AtomicOutputs.create} to
 * its commit or abort; taking it finishes any commit a dead run left half
 * done and removes that run's temporary files. On SIGINT, SIGTERM or SIGHUP
 * the task runner calls {@link abortOpenOutputsSync} before exiting.
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

import { join } from "node:path";
import { OutputError, rethrowAs } from "../errors.ts";
import {
  type CommitHooks,
  commitOutputSetSync,
  FolderLock,
  recoverOutputFolderSync,
  tempNameFor,
} from "./output_set.ts";

/** A sink for bytes. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
}

/** One output file being written under a temporary name. */
export class AtomicFile implements ByteSink {
  readonly finalPath: string;
  readonly tempPath: string;
  #file: Deno.FsFile | null;

  constructor(finalPath: string, tempPath: string, file: Deno.FsFile) {
    this.finalPath = finalPath;
    this.tempPath = tempPath;
    this.#file = file;
  }

  /** Appends bytes. */
  async write(chunk: Uint8Array): Promise<void> {
    const file = this.#file;
    if (!file) throw new OutputError(`${this.finalPath}: write after close`);
    try {
      for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
    } catch (e) {
      const why = (e as Error).message;
      throw new OutputError(`${this.finalPath}: write failed (${why})`, { cause: e });
    }
  }

  /** Writes a whole UTF-8 string. */
  writeText(text: string): Promise<void> {
    return this.write(new TextEncoder().encode(text));
  }

  /**
   * Syncs and closes (again: nothing). The sync also covers bytes another
   * handle wrote into the temporary file (the GGUF's pipelined writer).
   */
  async close(): Promise<void> {
    if (!this.#file) return;
    try {
      await this.#file.syncData();
    } catch {
      // some filesystems cannot sync; the rename is still atomic
    }
    this.#file.close();
    this.#file = null;
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

/** Output sets between {@link AtomicOutputs.create} and their commit or abort. */
const OPEN = new Set<AtomicOutputs>();

/**
 * Removes the temporary files of every output set not yet committed and
 * releases their folders' locks; for a signal handler, just before it exits
 * (synchronous: nothing else runs meanwhile). Returns how many sets it aborted.
 *
 * @example
 * ```ts
 * Deno.addSignalListener("SIGTERM", () => Deno.exit(128 + 15 + 0 * abortOpenOutputsSync()));
 * ```
 */
export function abortOpenOutputsSync(): number {
  const open = [...OPEN];
  for (const set of open) set.abortSync();
  return open.length;
}

/** Options of {@link AtomicOutputs.create}. */
export interface AtomicOutputsOptions {
  /** Observers of the commit's steps (and of a recovery's), for crash tests; tasks never set them. */
  readonly hooks?: CommitHooks;
}

/**
 * A set of outputs in one folder, committed together; the first file opened
 * is the set's anchor (the GGUF), placed last.
 */
export class AtomicOutputs {
  readonly dir: string;
  #files: AtomicFile[] = [];
  #replaced: string[] = [];
  #lock: FolderLock;
  #hooks: CommitHooks | undefined;
  #done = false;

  private constructor(dir: string, lock: FolderLock, hooks: CommitHooks | undefined) {
    this.dir = dir;
    this.#lock = lock;
    this.#hooks = hooks;
  }

  /**
   * Creates `dir` if needed, takes its lock (an {@link OutputError} when
   * another run holds it), and cleans up after runs that died there.
   */
  static async create(dir: string, options: AtomicOutputsOptions = {}): Promise<AtomicOutputs> {
    const what = `${dir}: cannot create output folder`;
    await rethrowAs(OutputError, what, Deno.mkdir(dir, { recursive: true }));
    const lock = FolderLock.acquireSync(dir);
    try {
      recoverOutputFolderSync(dir, options.hooks);
    } catch (e) {
      lock.releaseSync();
      throw e;
    }
    const outputs = new AtomicOutputs(dir, lock, options.hooks);
    OPEN.add(outputs);
    return outputs;
  }

  /** Opens `name` (relative to the folder) under a temporary name. */
  async file(name: string): Promise<AtomicFile> {
    const finalPath = join(this.dir, name);
    const tempPath = join(this.dir, tempNameFor(name));
    const what = `${this.dir}: output folder is not writable`;
    const opening = Deno.open(tempPath, { write: true, createNew: true });
    const f = await rethrowAs(OutputError, what, opening);
    const file = new AtomicFile(finalPath, tempPath, f);
    this.#files.push(file);
    return file;
  }

  /**
   * Files in the folder that describe the set being replaced (a stale
   * signature, say): removed in the commit, before any new file is placed.
   */
  replaces(paths: readonly string[]): void {
    this.#replaced.push(...paths);
  }

  /** Closes a file early (it is still renamed only at commit). */
  close(file: AtomicFile): Promise<void> {
    return file.close();
  }

  /**
   * Closes every file and commits the set (lib/io/output_set.ts); returns
   * the replaced paths it removed. On failure nothing new is left at a final path.
   */
  async commit(): Promise<string[]> {
    if (this.#done) throw new OutputError(`${this.dir}: output set already committed or aborted`);
    for (const f of this.#files) await f.close();
    const [anchor, ...companions] = this.#files;
    if (anchor === undefined) {
      this.#finish();
      return [];
    }
    try {
      const removed = commitOutputSetSync({
        dir: this.dir,
        entries: [...companions, anchor].map((f) => ({ temp: f.tempPath, final: f.finalPath })),
        remove: this.#replaced,
      }, this.#hooks);
      this.#finish();
      return removed;
    } catch (e) {
      this.abortSync();
      throw e;
    }
  }

  /** Removes every temporary file; final paths are never touched. */
  abort(): Promise<void> {
    this.abortSync();
    return Promise.resolve();
  }

  /** {@link abort}, synchronously (for signal handlers). */
  abortSync(): void {
    if (this.#done) return;
    for (const f of this.#files) {
      f.discard();
      try {
        Deno.removeSync(f.tempPath);
      } catch {
        // never created, or already placed
      }
    }
    this.#finish();
  }

  #finish(): void {
    this.#done = true;
    OPEN.delete(this);
    this.#lock.releaseSync();
  }
}
