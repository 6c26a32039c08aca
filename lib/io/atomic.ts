/**
 * Output sets: every file of a run (a GGUF and its companions, or any group
 * of files that describe each other) is written under a temporary name in
 * its final folder, `.<name>.<pid>-<tag>.clean-gguf-tmp`, and the set is
 * committed only when all of them are complete, so that a reader of the final
 * paths sees the complete old set, the complete new set, or no set, never a
 * mix, even when the process is killed (`kill -9`) at any point.
 *
 * The first file opened is the set's anchor (the GGUF): the set is present
 * when its anchor is. The commit
 *
 * 1. writes a journal, `.<anchor>.clean-gguf-commit`, naming each temporary
 *    file, its final name and the stale files to remove (temp + rename +
 *    folder sync: it exists whole or not at all);
 * 2. removes the old anchor, then every other old file of the set and every
 *    stale file (the set is now absent);
 * 3. renames each companion into place, the anchor last (the set is present);
 * 4. removes the journal.
 *
 * The steps are synchronous, so a signal handler never runs in the middle of
 * one. A run holds the folder's lock (an advisory `flock` on
 * `<dir>/.clean-gguf.lock`) from {@link AtomicOutputs.create} to its commit or
 * abort; a second run that wants the folder gets an {@link OutputError}
 * (exit 8) naming the holder, at once. Taking the lock finishes any commit a
 * dead run left half done (from its journal) and removes that run's temporary
 * files. On SIGINT, SIGTERM or SIGHUP the task runner calls
 * {@link abortOpenOutputsSync} before exiting.
 * docs/explanation/output-sets.md tells the whole story.
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

import { basename, join, resolve } from "node:path";
import { OutputError, rethrowAs } from "../errors.ts";

const TEMP_NAME = /^\.(.+)\.(\d+)-([0-9a-f]{8})\.clean-gguf-tmp$/;
const JOURNAL_NAME = /^\.(.+)\.clean-gguf-commit$/;

/**
 * The temporary name of `name` for this process: hidden, the process id and
 * a random tag in the name, and our suffix, so that a later run recognizes it.
 *
 * @example
 * ```ts
 * tempNameFor("clean-f16.gguf"); // ".clean-f16.gguf.4242-9f3c2a1b.clean-gguf-tmp"
 * ```
 */
export function tempNameFor(name: string): string {
  return `.${name}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.clean-gguf-tmp`;
}

/**
 * Whether `name` is one of our temporary files (or journals' temporaries).
 *
 * @example
 * ```ts
 * isTempName(".clean-f16.gguf.4242-9f3c2a1b.clean-gguf-tmp"); // true
 * isTempName(".clean-f16.gguf.9f3c2a1b.tmp"); // false: not our naming
 * ```
 */
export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

/** A point of the commit, reported to {@link CommitHooks}. */
export interface CommitStep {
  readonly kind: "journal" | "removed" | "placed" | "done";
  readonly name: string;
}

/**
 * Observers of the commit, for crash tests: `afterStep` is called after each
 * step has reached the disk, so a test can kill the process exactly there.
 * No task sets them.
 */
export interface CommitHooks {
  /** Called when the temporary files are complete, before the journal is written. */
  beforeCommit?(): void;
  afterStep?(step: CommitStep): void;
}

/** The journal: names relative to the folder; the last entry is the anchor, placed last. */
interface Journal {
  readonly version: 1;
  readonly entries: readonly { readonly temp: string; readonly final: string }[];
  readonly remove: readonly string[];
}

/** Runs `op` on `path`: true when it ran, false when there is no such file. */
function onExisting(path: string, op: (path: string) => unknown): boolean {
  try {
    op(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const exists = (path: string) => onExisting(path, (p) => Deno.lstatSync(p));
const removeIfExists = (path: string) => onExisting(path, (p) => Deno.removeSync(p));

/** Makes renames and removals in `dir` durable (where the platform allows it). */
function syncFolder(dir: string): void {
  try {
    const f = Deno.openSync(dir, { read: true });
    try {
      f.syncSync();
    } finally {
      f.close();
    }
  } catch {
    // not every platform opens or syncs a folder; the renames stay atomic
  }
}

/** The name of `path` inside `dir`, or an OutputError when it is elsewhere. */
function nameIn(dir: string, path: string): string {
  const name = basename(path);
  if (resolve(dir, name) !== resolve(path) || name === "." || name === "..") {
    throw new OutputError(`${path}: not in the output folder ${dir}`);
  }
  return name;
}

/** Refuses, before anything moves, a final or stale path that is a folder. */
function checkNothingInTheWay(dir: string, names: readonly string[]): void {
  for (const name of names) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(join(dir, name));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) continue;
      const why = (e as Error).message;
      throw new OutputError(`${join(dir, name)}: cannot inspect (${why})`, { cause: e });
    }
    if (info.isDirectory) {
      throw new OutputError(
        `${join(dir, name)}: a folder is in the way of an output; move it and run again`,
      );
    }
  }
}

function writeJournalSync(dir: string, path: string, journal: Journal): void {
  const temp = join(dir, tempNameFor(basename(path)));
  try {
    const f = Deno.openSync(temp, { write: true, createNew: true });
    try {
      const bytes = new TextEncoder().encode(JSON.stringify(journal) + "\n");
      let done = 0;
      while (done < bytes.length) done += f.writeSync(bytes.subarray(done));
      f.syncSync();
    } finally {
      f.close();
    }
    Deno.renameSync(temp, path);
  } catch (e) {
    removeIfExists(temp);
    throw e;
  }
  syncFolder(dir);
}

/**
 * Steps 2–4 from a journal; safe to repeat after a crash at any point: an
 * entry whose temporary file is gone has been placed already. Returns the
 * stale paths it removed.
 */
function rollForwardSync(
  dir: string,
  journalPath: string,
  j: Journal,
  hooks?: CommitHooks,
): string[] {
  const anchor = j.entries.at(-1)!;
  const pending = j.entries.filter((e) => exists(join(dir, e.temp)));
  const removed: string[] = [];
  if (pending.includes(anchor)) {
    const lost = j.entries.find((e) => !pending.includes(e) && !exists(join(dir, e.final)));
    if (lost !== undefined) {
      throw new OutputError(`${join(dir, lost.final)}: placed, then removed by someone else`);
    }
    // The anchor first: from here until it is placed, the set is absent.
    for (const e of [anchor, ...pending.filter((e) => e !== anchor)]) {
      if (removeIfExists(join(dir, e.final))) {
        hooks?.afterStep?.({ kind: "removed", name: e.final });
      }
    }
    for (const name of j.remove) {
      if (!removeIfExists(join(dir, name))) continue;
      removed.push(join(dir, name));
      hooks?.afterStep?.({ kind: "removed", name });
    }
    for (const e of [...pending.filter((e) => e !== anchor), anchor]) {
      Deno.renameSync(join(dir, e.temp), join(dir, e.final));
      syncFolder(dir);
      hooks?.afterStep?.({ kind: "placed", name: e.final });
    }
  }
  Deno.removeSync(journalPath);
  syncFolder(dir);
  hooks?.afterStep?.({ kind: "done", name: anchor.final });
  return removed;
}

/** After a failure inside the commit: nothing of the new set stays at the final paths. */
function undoSync(dir: string, journalPath: string, j: Journal): void {
  for (const e of j.entries) {
    if (exists(join(dir, e.temp))) removeIfExists(join(dir, e.temp));
    else removeIfExists(join(dir, e.final));
  }
  removeIfExists(journalPath);
}

/**
 * Commits a set whose temporary files are complete and synced, under the
 * folder's lock (see the module comment); returns the stale paths removed. A
 * folder in the way of a final or stale path is refused before anything
 * moves; any other failure leaves no file of the new set at a final path.
 */
function commitSync(dir: string, j: Journal, hooks?: CommitHooks): string[] {
  checkNothingInTheWay(dir, [...j.entries.map((e) => e.final), ...j.remove]);
  const anchorName = j.entries.at(-1)!.final;
  const journalPath = join(dir, `.${anchorName}.clean-gguf-commit`);
  hooks?.beforeCommit?.();
  try {
    writeJournalSync(dir, journalPath, j);
  } catch (e) {
    const why = (e as Error).message;
    throw new OutputError(`${dir}: cannot write the commit journal (${why})`, { cause: e });
  }
  hooks?.afterStep?.({ kind: "journal", name: anchorName });
  try {
    return rollForwardSync(dir, journalPath, j, hooks);
  } catch (e) {
    undoSync(dir, journalPath, j);
    throw new OutputError(
      `${join(dir, anchorName)}: cannot move the outputs into place (${(e as Error).message}); ` +
        `no new file was left at a final path`,
      { cause: e },
    );
  }
}

/** A journal read back, or null when it is not one we could have written. */
function readJournal(path: string): Journal | null {
  try {
    const j = JSON.parse(Deno.readTextFileSync(path)) as Partial<Journal>;
    const plain = (n: unknown) =>
      typeof n === "string" && n !== "" && n !== "." && n !== ".." && !/[\\/]/.test(n);
    if (j.version !== 1 || !Array.isArray(j.entries) || !Array.isArray(j.remove)) return null;
    if (j.entries.length === 0 || !j.remove.every(plain)) return null;
    if (!j.entries.every((e) => plain(e?.final) && plain(e?.temp) && isTempName(e.temp))) {
      return null;
    }
    return j as Journal;
  } catch {
    return null;
  }
}

/**
 * Cleans up after runs that died in `dir`: finishes every interrupted
 * commit from its journal, then removes every temporary file of our naming.
 * Called only while holding the folder's lock (no live run of ours is then
 * writing there, so every such file is stale). Other files are never touched.
 */
function recoverFolderSync(dir: string, hooks?: CommitHooks): void {
  const names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  for (const name of names.filter((n) => JOURNAL_NAME.test(n)).sort()) {
    const path = join(dir, name);
    const journal = readJournal(path);
    if (journal === null) {
      // Not a journal we wrote: its temporary files (if ours) go below.
      removeIfExists(path);
      continue;
    }
    try {
      rollForwardSync(dir, path, journal, hooks);
    } catch (e) {
      undoSync(dir, path, journal);
      throw new OutputError(
        `${path}: cannot finish an interrupted commit (${(e as Error).message})`,
        { cause: e },
      );
    }
  }
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile && isTempName(e.name)) removeIfExists(join(dir, e.name));
  }
}

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

/**
 * Takes the lock on `dir` (which must exist) and returns its release, or
 * throws an {@link OutputError} naming the holder. Synchronous, so that no
 * signal handler runs between taking the lock and recording it. The
 * operating system drops the lock when its process dies, even by `kill -9`.
 */
function lockFolderSync(dir: string): () => void {
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
    return () => releaseLockSync(path, file, id);
  }
  throw new OutputError(`${dir}: cannot take the lock ${LOCK_NAME} (it keeps being replaced)`);
}

/** Removes the lock file (only when it is still ours) and releases the lock. */
function releaseLockSync(path: string, file: Deno.FsFile, id: string | null): void {
  try {
    if (id !== null && identity(Deno.statSync(path)) === id) Deno.removeSync(path);
  } catch {
    // already gone, or the folder went away: the lock is released below all the same
  }
  try {
    file.close();
  } catch {
    // closed
  }
}

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
  #releaseLock: () => void;
  #hooks: CommitHooks | undefined;
  #done = false;

  private constructor(dir: string, releaseLock: () => void, hooks: CommitHooks | undefined) {
    this.dir = dir;
    this.#releaseLock = releaseLock;
    this.#hooks = hooks;
  }

  /**
   * Creates `dir` if needed, takes its lock (an {@link OutputError} when
   * another run holds it), and cleans up after runs that died there.
   */
  static async create(dir: string, options: AtomicOutputsOptions = {}): Promise<AtomicOutputs> {
    const what = `${dir}: cannot create output folder`;
    await rethrowAs(OutputError, what, Deno.mkdir(dir, { recursive: true }));
    const releaseLock = lockFolderSync(dir);
    try {
      recoverFolderSync(dir, options.hooks);
    } catch (e) {
      releaseLock();
      throw e;
    }
    const outputs = new AtomicOutputs(dir, releaseLock, options.hooks);
    OPEN.add(outputs);
    return outputs;
  }

  /** Opens `name` (a file name in the folder, no folders in it) under a temporary name. */
  async file(name: string): Promise<AtomicFile> {
    const finalPath = join(this.dir, name);
    nameIn(this.dir, finalPath);
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

  /**
   * Closes every file and commits the set (see the module comment); returns
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
      const entries = [...companions, anchor].map((f) => ({
        temp: basename(f.tempPath),
        final: basename(f.finalPath),
      }));
      const finals = new Set(entries.map((e) => e.final));
      const remove = this.#replaced.map((p) => nameIn(this.dir, p)).filter((n) => !finals.has(n));
      const removed = commitSync(this.dir, { version: 1, entries, remove }, this.#hooks);
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
    this.#releaseLock();
  }
}
