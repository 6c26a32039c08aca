/**
 * The output-set commit and the folder lock (lib/io/atomic.ts) in one
 * process: the order of the steps, what a folder in the way does, who may
 * write into a folder, and which leftovers the next run removes (ours only). Real kills are in crash_consistency_test.ts.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  AtomicOutputs,
  type CommitStep,
  isTempName,
  LOCK_NAME,
  tempNameFor,
} from "../../lib/io/atomic.ts";
import { OutputError } from "../../lib/errors.ts";

function names(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "output-set-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Writes a set m.gguf + m.meta.json (the GGUF opened first: the anchor). */
async function writeSet(
  out: AtomicOutputs,
  text: string,
  stale: string[] = [],
): Promise<string[]> {
  await (await out.file("m.gguf")).writeText(`gguf ${text}`);
  await (await out.file("m.meta.json")).writeText(`meta ${text}`);
  out.replaces(stale);
  return await out.commit();
}

Deno.test("commit: the old anchor goes first, then the old companions and the stale files; companions are placed, the anchor last", async () => {
  await withDir(async (dir) => {
    await writeSet(await AtomicOutputs.create(dir), "old");
    Deno.writeTextFileSync(join(dir, "m.sig"), "signs the old one");
    const steps: string[] = [];
    const hooks = {
      beforeCommit: () => steps.push("temps complete"),
      afterStep: (s: CommitStep) => steps.push(`${s.kind} ${s.name}`),
    };
    const removed = await writeSet(await AtomicOutputs.create(dir, { hooks }), "new", [
      join(dir, "m.sig"),
    ]);
    assert.deepEqual(steps, [
      "temps complete",
      "journal m.gguf",
      "removed m.gguf",
      "removed m.meta.json",
      "removed m.sig",
      "placed m.meta.json",
      "placed m.gguf",
      "done m.gguf",
    ]);
    assert.deepEqual(removed, [join(dir, "m.sig")]);
    assert.deepEqual(names(dir), ["m.gguf", "m.meta.json"]);
    assert.equal(Deno.readTextFileSync(join(dir, "m.gguf")), "gguf new");
    assert.equal(Deno.readTextFileSync(join(dir, "m.meta.json")), "meta new");
  });
});

Deno.test("commit: a folder in the way of a companion or of a stale file is refused before anything moves", async () => {
  for (const blocked of ["m.meta.json", "m.sig"]) {
    await withDir(async (dir) => {
      await writeSet(await AtomicOutputs.create(dir), "old");
      if (blocked === "m.meta.json") Deno.removeSync(join(dir, blocked));
      Deno.mkdirSync(join(dir, blocked));
      const out = await AtomicOutputs.create(dir);
      await assert.rejects(
        () => writeSet(out, "new", [join(dir, "m.sig")]),
        (e) =>
          e instanceof OutputError &&
          e.message.includes(`${join(dir, blocked)}: a folder is in the way`),
      );
      assert.equal(Deno.readTextFileSync(join(dir, "m.gguf")), "gguf old");
      assert.deepEqual(names(dir).filter((n) => n.startsWith(".")), [], "no temp, journal or lock");
    });
  }
});

Deno.test("lock: one writer per folder; the second is refused naming the holder; released on commit and abort", async () => {
  await withDir(async (dir) => {
    const first = await AtomicOutputs.create(dir);
    assert.ok(names(dir).includes(LOCK_NAME));
    await assert.rejects(
      () => AtomicOutputs.create(dir),
      (e) =>
        e instanceof OutputError &&
        e.message.includes(`process ${Deno.pid} is writing into this folder`),
    );
    await first.abort();
    assert.deepEqual(names(dir), [], "the lock file goes with the lock");
    await writeSet(await AtomicOutputs.create(dir), "a");
    assert.deepEqual(names(dir), ["m.gguf", "m.meta.json"]);
    // Another folder is not locked by this one.
    const other = join(dir, "sub");
    const a = await AtomicOutputs.create(other);
    await (await AtomicOutputs.create(dir)).abort();
    await a.abort();
  });
});

Deno.test("next run: removes our stale temporary files and a lock file left by a crash; never anyone else's files", async () => {
  await withDir(async (dir) => {
    const ours = [tempNameFor("m.gguf"), ".m.gguf.1-0123abcd.clean-gguf-tmp"];
    const theirs = [
      "m.gguf.clean-gguf-tmp",
      ".m.gguf.0123abcd.tmp",
      ".m.gguf.1-XYZ.clean-gguf-tmp",
      ".notes",
      "notes.txt",
    ];
    for (const n of [...ours, ...theirs, LOCK_NAME]) Deno.writeTextFileSync(join(dir, n), "x");
    assert.ok(ours.every(isTempName) && !theirs.some(isTempName));
    await (await AtomicOutputs.create(dir)).abort();
    assert.deepEqual(names(dir), [...theirs].sort());
  });
});

Deno.test("next run: a journal naming paths outside the folder is dropped, and nothing outside is touched", async () => {
  await withDir(async (root) => {
    const dir = join(root, "out");
    Deno.mkdirSync(dir);
    Deno.writeTextFileSync(join(root, "victim"), "keep me");
    Deno.writeTextFileSync(join(dir, "a"), "keep me too");
    Deno.writeTextFileSync(
      join(dir, ".a.clean-gguf-commit"),
      JSON.stringify({
        version: 1,
        entries: [{ temp: "../victim", final: "a" }],
        remove: ["../victim"],
      }),
    );
    await (await AtomicOutputs.create(dir)).abort();
    assert.equal(Deno.readTextFileSync(join(root, "victim")), "keep me");
    assert.equal(Deno.readTextFileSync(join(dir, "a")), "keep me too");
    assert.deepEqual(names(dir), ["a"]);
  });
});
