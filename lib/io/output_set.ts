/**
 * Committing an output set — a GGUF and its companions, or any group of
 * files that describe each other — so that a reader of the final paths sees
 * the complete old set, the complete new set, or no set, never a mix, even
 * when the process is killed (`kill -9`) at any point.
 *
 * The set's last entry is its anchor (the GGUF): a set is present when its
 * anchor is. Once every file is complete and synced under its temporary
 * name, the commit
 *
 * 1. writes a journal, `.<anchor>.clean-gguf-commit`, naming each temporary
 *    file, its final name and the stale files to remove (temp + rename +
 *    folder sync: it exists whole or not at all);
 * 2. removes the old anchor, then every other old file of the set and every
 *    stale file (the set is now absent);
 * 3. renames each companion into place, the anchor last (the set is present);
 * 4. removes the journal.
 *
 * A run killed after step 1 leaves the journal; the next run that takes the
 * folder's lock finishes the commit from it ({@link recoverOutputFolderSync}),
 * and removes every temporary file of ours left by a dead run. The
 * steps are synchronous, so a signal handler never runs in the middle of one.
 *
 * One writer per output folder ({@link FolderLock}): an advisory lock
 * (`flock`) on `<dir>/.clean-gguf.lock`, taken before a run writes its first
 * temporary file and released after its commit or abort. A second run that
 * wants the same folder gets an {@link OutputError} (exit 8) naming the
 * process that holds it, at once: it does not wait. The operating system
 * drops the lock when its process dies, even by `kill -9`, so a crash never
 * leaves the folder locked; the lock file itself is removed on release and is
 * harmless when a crash leaves it behind.
 * docs/explanation/output-sets.md tells the whole story.
 *
 * @example
 * ```ts
 * import { commitOutputSetSync } from "./output_set.ts";
 * commitOutputSetSync({
 *   dir: "models/clean",
 *   entries: [
 *     { temp: "models/clean/.clean-f16.meta.json.41-0a1b2c3d.clean-gguf-tmp", final: "models/clean/clean-f16.meta.json" },
 *     { temp: "models/clean/.clean-f16.gguf.41-4e5f6a7b.clean-gguf-tmp", final: "models/clean/clean-f16.gguf" },
 *   ],
 *   remove: ["models/clean/clean-f16.sig"],
 * });
 * ```
 * @module
 */

import { basename, join, resolve } from "node:path";
import { OutputError } from "../errors.ts";

/** What every temporary file of ours ends with. */
export const TEMP_SUFFIX = ".clean-gguf-tmp";
/** What a commit journal ends with. */
export const JOURNAL_SUFFIX = ".clean-gguf-commit";
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
  return `.${name}.${Deno.pid}-${crypto.randomUUID().slice(0, 8)}${TEMP_SUFFIX}`;
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

/**
 * One file of a set: its temporary path (named by {@link tempNameFor}) and
 * its final path, in the same folder.
 */
export interface SetEntry {
  readonly temp: string;
  readonly final: string;
}

/** A set to commit. */
export interface OutputSetPlan {
  /** The folder every path is in. */
  readonly dir: string;
  /** The set's files; the last is the anchor, placed last. */
  readonly entries: readonly SetEntry[];
  /** Files in `dir` that describe the replaced set: removed before anything new is placed. */
  readonly remove?: readonly string[];
}

/** A point of the commit, reported to {@link CommitHooks}. */
export type CommitStep =
  | { readonly kind: "journal"; readonly name: string }
  | { readonly kind: "removed"; readonly name: string }
  | { readonly kind: "placed"; readonly name: string }
  | { readonly kind: "done"; readonly name: string };

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

/** The journal: names relative to the folder. */
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

function journalOf(plan: OutputSetPlan): Journal {
  const entries = plan.entries.map((e) => ({
    temp: nameIn(plan.dir, e.temp),
    final: nameIn(plan.dir, e.final),
  }));
  if (entries.length === 0) throw new OutputError(`${plan.dir}: an empty output set`);
  // A later run finishes a journal only when it can tell our temporary files from others'.
  const foreign = entries.find((e) => !isTempName(e.temp));
  if (foreign !== undefined) {
    throw new OutputError(`${join(plan.dir, foreign.temp)}: not a name from tempNameFor`);
  }
  const finals = new Set(entries.map((e) => e.final));
  const remove = (plan.remove ?? []).map((p) => nameIn(plan.dir, p)).filter((n) => !finals.has(n));
  return { version: 1, entries, remove };
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
 * Commits `plan` (see the module comment); every temporary file must be
 * complete and synced, and the caller must hold the folder's lock
 * ({@link FolderLock}; `AtomicOutputs` in atomic.ts does all of this). Returns the
 * stale paths removed. A folder in the way
 * of a final or stale path is refused before anything moves (OutputError,
 * exit 8); any other failure leaves no file of the new set at a final path.
 *
 * @example
 * ```ts
 * const removed = commitOutputSetSync({
 *   dir: "out",
 *   entries: [{ temp: "out/.a.txt.1-00000000.clean-gguf-tmp", final: "out/a.txt" }],
 * }); // []
 * ```
 */
export function commitOutputSetSync(plan: OutputSetPlan, hooks?: CommitHooks): string[] {
  const j = journalOf(plan);
  const dir = plan.dir;
  checkNothingInTheWay(dir, [...j.entries.map((e) => e.final), ...j.remove]);
  const anchorName = j.entries.at(-1)!.final;
  const journalPath = join(dir, `.${anchorName}${JOURNAL_SUFFIX}`);
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

/** What {@link recoverOutputFolderSync} did. */
export interface FolderRecovery {
  /** Anchors whose interrupted commit was finished. */
  readonly completed: string[];
  /** Our temporary files left by runs that died, removed. */
  readonly removedTemps: string[];
}

/**
 * Cleans up after runs that died in `dir`: finishes every interrupted
 * commit from its journal, then removes every temporary file of our naming.
 * Call it only while holding the folder's lock (no live run of ours is then
 * writing there, so every such file is stale). Other files are never touched.
 *
 * @example
 * ```ts
 * const { completed, removedTemps } = recoverOutputFolderSync("models/clean");
 * ```
 */
export function recoverOutputFolderSync(dir: string, hooks?: CommitHooks): FolderRecovery {
  const names = [...Deno.readDirSync(dir)].filter((e) => e.isFile).map((e) => e.name);
  const completed: string[] = [];
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
      completed.push(join(dir, journal.entries.at(-1)!.final));
    } catch (e) {
      undoSync(dir, path, journal);
      throw new OutputError(
        `${path}: cannot finish an interrupted commit (${(e as Error).message})`,
        { cause: e },
      );
    }
  }
  const removedTemps: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (!e.isFile || !isTempName(e.name)) continue;
    if (removeIfExists(join(dir, e.name))) removedTemps.push(join(dir, e.name));
  }
  return { completed, removedTemps };
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
