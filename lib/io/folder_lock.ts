/**
 * One writer per output folder: an advisory lock (`flock`) on
 * `<dir>/.clean-gguf.lock`, taken before a run writes its first temporary
 * file and released after its commit or abort. A second run that wants the
 * same folder gets an {@link OutputError} (exit 8) naming the process that
 * holds it, at once: it does not wait. The operating system drops the lock
 * when its process dies, even by `kill -9`, so a crash never leaves the
 * folder locked; the lock file itself is removed on release and is harmless
 * when a crash leaves it behind.
 *
 * @example
 * ```ts
 * import { FolderLock } from "./folder_lock.ts";
 * const lock = FolderLock.acquireSync("models/clean");
 * try {
 *   // write, commit
 * } finally {
 *   lock.releaseSync();
 * }
 * ```
 * @module
 */

import { join } from "node:path";
import { OutputError } from "../errors.ts";

/** The lock file's name inside an output folder. */
export const LOCK_NAME = ".clean-gguf.lock";

/** The file's identity (device, inode) when the platform reports one. */
function identity(info: Deno.FileInfo): string | null {
  return info.ino === null || info.dev === null ? null : `${info.dev}:${info.ino}`;
}

/** The holder's process id, as it wrote it into the lock file, for the message. */
function holderOf(file: Deno.FsFile): string {
  try {
    const buf = new Uint8Array(64);
    const n = file.readSync(buf) ?? 0;
    const pid = /^pid (\d+)/.exec(new TextDecoder().decode(buf.subarray(0, n)))?.[1];
    return pid === undefined ? "another process" : `process ${pid}`;
  } catch {
    return "another process";
  }
}

/** An exclusive lock on an output folder, held by this process. */
export class FolderLock {
  readonly dir: string;
  readonly path: string;
  #file: Deno.FsFile | null;
  #identity: string | null;

  private constructor(dir: string, file: Deno.FsFile, id: string | null) {
    this.dir = dir;
    this.path = join(dir, LOCK_NAME);
    this.#file = file;
    this.#identity = id;
  }

  /**
   * Takes the lock on `dir` (which must exist) or throws an
   * {@link OutputError} naming the holder. Synchronous, so that no signal
   * handler runs between taking the lock and recording it.
   *
   * @example
   * ```ts
   * const lock = FolderLock.acquireSync("/tmp");
   * lock.releaseSync();
   * ```
   */
  static acquireSync(dir: string): FolderLock {
    const path = join(dir, LOCK_NAME);
    // A holder removes the file on release; a run that opened it just before
    // then locks a file no longer in the folder, so it checks and tries again.
    for (let attempt = 0; attempt < 8; attempt++) {
      let file: Deno.FsFile;
      try {
        file = Deno.openSync(path, { read: true, write: true, create: true });
      } catch (e) {
        throw new OutputError(
          `${dir}: output folder is not writable (${(e as Error).message})`,
          { cause: e },
        );
      }
      if (!file.tryLockSync(true)) {
        const holder = holderOf(file);
        file.close();
        throw new OutputError(
          `${dir}: ${holder} is writing into this folder (lock ${LOCK_NAME}); ` +
            `wait for it to finish or choose another output folder`,
        );
      }
      const id = identity(file.statSync());
      let current: string | null | undefined;
      try {
        current = identity(Deno.statSync(path));
      } catch {
        current = undefined;
      }
      if (id !== null && current !== id) {
        file.close();
        continue;
      }
      file.truncateSync(0);
      file.writeSync(new TextEncoder().encode(`pid ${Deno.pid}\n`));
      return new FolderLock(dir, file, id);
    }
    throw new OutputError(`${dir}: cannot take the lock ${LOCK_NAME} (it keeps being replaced)`);
  }

  /** Whether this lock is still held. */
  get held(): boolean {
    return this.#file !== null;
  }

  /**
   * Removes the lock file (only when it is still ours) and releases the lock.
   *
   * @example
   * ```ts
   * FolderLock.acquireSync("/tmp").releaseSync();
   * ```
   */
  releaseSync(): void {
    const file = this.#file;
    if (file === null) return;
    this.#file = null;
    try {
      if (this.#identity !== null && identity(Deno.statSync(this.path)) === this.#identity) {
        Deno.removeSync(this.path);
      }
    } catch {
      // already gone, or the folder went away: the lock is released below all the same
    }
    try {
      file.close();
    } catch {
      // closed
    }
  }
}
