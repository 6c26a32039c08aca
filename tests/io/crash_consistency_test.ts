/**
 * Crash consistency of the output sets (issue 14, items 2 and 3), with real
 * processes killed at exact points (tests/io/_crash_child.ts), never by timing:
 *
 * - the export and the quantizer, killed with SIGKILL after each step of the
 *   commit, leave at the final paths the complete old set, the complete new
 *   set, or no GGUF (and then only companions of one set), never a mix; the
 *   next run in the folder finishes the commit and leaves no temporary file;
 * - an export killed while writing leaves a temporary file of our naming,
 *   which the next run removes;
 * - SIGINT, SIGTERM and SIGHUP end a task with 128 + n and no temporary file;
 * - a folder in the way of a companion leaves the old set and no new GGUF;
 * - two writers into one folder: the second is refused (exit 8), naming the first.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { AtomicOutputs } from "../../lib/io/atomic.ts";
import { verifyGguf } from "../../lib/provenance/verify.ts";
import { exitCodeOf, OutputError } from "../../lib/errors.ts";
import { FIXTURE_DIR } from "../_models.ts";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;

type Files = Map<string, Uint8Array>;

interface ChildResult {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

async function runChild(order: Record<string, unknown>, args: string[] = []): Promise<ChildResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", CHILD, ...args],
    env: { CRASH_ORDER: JSON.stringify(order) },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, signal: out.signal, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** Every file in `dir` by name (hidden ones too). */
function snapshot(dir: string): Files {
  const files: Files = new Map();
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) files.set(e.name, Deno.readFileSync(join(dir, e.name)));
  }
  return files;
}

function copyFolder(from: string, to: string): void {
  Deno.mkdirSync(to, { recursive: true });
  for (const [name, bytes] of snapshot(from)) Deno.writeFileSync(join(to, name), bytes);
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length &&
    a.every((x, i) => x === b[i]);
}

function visible(files: Files): string[] {
  return [...files.keys()].filter((n) => !n.startsWith(".")).sort();
}

function isSet(files: Files, set: Files): boolean {
  const names = visible(files);
  return names.join() === [...set.keys()].sort().join() &&
    names.every((n) => sameBytes(files.get(n), set.get(n)));
}

/**
 * "old" or "new" when the final paths hold exactly that set; "absent" when
 * there is no GGUF and every companion left is from one set; else a
 * description of the mix.
 */
function classify(files: Files, oldSet: Files, newSet: Files, anchor: string): string {
  if (isSet(files, oldSet)) return "old";
  if (isSet(files, newSet)) return "new";
  const origin = visible(files).map((n) => {
    const o = sameBytes(files.get(n), oldSet.get(n));
    const w = sameBytes(files.get(n), newSet.get(n));
    return { n, side: o && w ? "both" : o ? "old" : w ? "new" : "neither" };
  });
  const sides = new Set(origin.map((x) => x.side).filter((s) => s !== "both"));
  if (!files.has(anchor) && !sides.has("neither") && sides.size <= 1) return "absent";
  return `mix: ${origin.map((x) => `${x.n}=${x.side}`).join(", ")}`;
}

/** The state a kill after `steps[k]` must leave. */
function expectedAfter(steps: readonly string[], k: number, anchor: string): string {
  const firstRemoval = steps.findIndex((s) => s.startsWith("removed "));
  const anchorPlaced = steps.indexOf(`placed ${anchor}`);
  return k < firstRemoval ? "old" : k < anchorPlaced ? "absent" : "new";
}

interface Scenario {
  /** A folder holding the old set. */
  template: string;
  oldSet: Files;
  newSet: Files;
  anchor: string;
  order: (outDir: string, killAtStep?: number) => Record<string, unknown>;
}

/** Kills the writer after each step of its commit; checks the folder, then the next run. */
async function crashAtEveryStep(t: Deno.TestContext, root: string, s: Scenario): Promise<void> {
  const dry = join(root, "dry");
  copyFolder(s.template, dry);
  const run = await runChild(s.order(dry));
  assert.equal(run.code, 0, run.stderr);
  const steps = JSON.parse(run.stdout) as string[];
  assert.equal(classify(snapshot(dry), s.oldSet, s.newSet, s.anchor), "new");
  // The order: journal, the old GGUF removed first, ..., the new GGUF placed last.
  assert.deepEqual(steps.slice(0, 3), [
    "temps complete",
    `journal ${s.anchor}`,
    `removed ${s.anchor}`,
  ]);
  assert.deepEqual(steps.slice(-2), [`placed ${s.anchor}`, `done ${s.anchor}`]);
  for (let k = 0; k < steps.length; k++) {
    await t.step(`SIGKILL after "${steps[k]}"`, async () => {
      const dir = join(root, `k${k}`);
      copyFolder(s.template, dir);
      const killed = await runChild(s.order(dir, k));
      assert.equal(killed.signal, "SIGKILL", killed.stderr);
      const expected = expectedAfter(steps, k, s.anchor);
      assert.equal(classify(snapshot(dir), s.oldSet, s.newSet, s.anchor), expected);
      // The next run in the folder: finishes the commit, removes the leftovers.
      await (await AtomicOutputs.create(dir)).abort();
      const after = snapshot(dir);
      assert.equal(classify(after, s.oldSet, s.newSet, s.anchor), k === 0 ? "old" : "new");
      assert.deepEqual([...after.keys()].filter((n) => n.startsWith(".")), [], "no hidden file");
      const report = await verifyGguf({ ggufPath: join(dir, s.anchor) });
      assert.ok(report.ok, JSON.stringify(report.checks));
    });
  }
}

const root = await Deno.makeTempDir({ prefix: "crash-" });
globalThis.addEventListener("unload", () => Deno.removeSync(root, { recursive: true }));
const reference = await exportCleanGguf({
  modelDir: FIXTURE_DIR,
  outDir: join(root, "reference"),
  quiet: true,
});
const newExport = snapshot(join(root, "reference"));

/** A folder with an older export (F16 norms), signed and baselined. */
async function oldExportFolder(dir: string): Promise<Files> {
  await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, normType: "f16", quiet: true });
  await Deno.writeTextFile(join(dir, "clean-f16.sig"), "a signature of the old file\n");
  await Deno.writeTextFile(join(dir, "clean-f16.baseline.md"), "a baseline of the old file\n");
  return snapshot(dir);
}

Deno.test({
  name:
    "export: a SIGKILL after any commit step leaves the old set, the new set or none, never a mix; the next run finishes it",
  sanitizeResources: false,
  async fn(t) {
    const base = join(root, "export-crash");
    const template = join(base, "template");
    const oldSet = await oldExportFolder(template);
    assert.ok(!sameBytes(oldSet.get("clean-f16.gguf"), newExport.get("clean-f16.gguf")));
    await crashAtEveryStep(t, base, {
      template,
      oldSet,
      newSet: newExport,
      anchor: "clean-f16.gguf",
      order: (outDir, killAtStep) => ({
        mode: "export",
        options: { modelDir: FIXTURE_DIR, outDir },
        ...(killAtStep !== undefined ? { killAtStep } : {}),
      }),
    });
  },
});

Deno.test({
  name:
    "quantize: a SIGKILL after any commit step leaves the old set, the new set or none, never a mix; the next run finishes it",
  sanitizeResources: false,
  async fn(t) {
    const base = join(root, "quantize-crash");
    const template = join(base, "template");
    const input = reference.ggufPath;
    // Old: TQ2_0 with a manifest, signed. New: I2_S without a manifest (the old one is stale).
    await quantizeGguf({ input, outDir: template, type: "tq2_0", name: "q" });
    await Deno.writeTextFile(join(template, "q.sig"), "a signature of the old file\n");
    const oldSet = snapshot(template);
    const fresh = join(base, "fresh");
    await quantizeGguf({ input, outDir: fresh, type: "i2_s", name: "q", hashManifest: false });
    const newSet = snapshot(fresh);
    assert.ok(oldSet.has("q.gguf-hash") && !newSet.has("q.gguf-hash"));
    await crashAtEveryStep(t, base, {
      template,
      oldSet,
      newSet,
      anchor: "q.gguf",
      order: (outDir, killAtStep) => ({
        mode: "quantize",
        options: { input, outDir, type: "i2_s", name: "q", hashManifest: false },
        ...(killAtStep !== undefined ? { killAtStep } : {}),
      }),
    });
  },
});

Deno.test({
  name: "a run killed while finishing an interrupted commit: the run after it finishes the commit",
  sanitizeResources: false,
  async fn(t) {
    const template = join(root, "double", "template");
    const oldSet = await oldExportFolder(template);
    const order = (outDir: string, killAtStep: number) => ({
      mode: "export",
      options: { modelDir: FIXTURE_DIR, outDir },
      killAtStep,
    });
    // The recovery's steps: 4 removals (fingerprint, manifest, sig, baseline), 4 placements.
    for (const [j, expected] of [[0, "absent"], [4, "absent"], [7, "new"]] as const) {
      await t.step(`recovery killed after its step ${j}`, async () => {
        const dir = join(root, "double", `j${j}`);
        copyFolder(template, dir);
        // Killed after "removed clean-f16.meta.json": the journal is on disk, the set absent.
        assert.equal((await runChild(order(dir, 3))).signal, "SIGKILL");
        assert.equal(classify(snapshot(dir), oldSet, newExport, "clean-f16.gguf"), "absent");
        assert.ok(snapshot(dir).has(".clean-f16.gguf.clean-gguf-commit"));
        // The next run starts by finishing that commit, and is killed in the middle of it.
        assert.equal((await runChild(order(dir, j))).signal, "SIGKILL");
        assert.equal(classify(snapshot(dir), oldSet, newExport, "clean-f16.gguf"), expected);
        await (await AtomicOutputs.create(dir)).abort();
        const after = snapshot(dir);
        assert.equal(classify(after, oldSet, newExport, "clean-f16.gguf"), "new");
        assert.deepEqual([...after.keys()].filter((n) => n.startsWith(".")), [], "no hidden file");
      });
    }
  },
});

Deno.test("export: SIGKILL while writing leaves a temporary file of our naming; the next run removes it", async () => {
  const dir = join(root, "mid-write");
  const killed = await runChild({
    mode: "export",
    options: { modelDir: FIXTURE_DIR, outDir: dir },
    killAtTensor: 3,
  });
  assert.equal(killed.signal, "SIGKILL", killed.stderr);
  const left = [...snapshot(dir).keys()];
  const temp = left.find((n) => n.startsWith(".clean-f16.gguf."));
  assert.ok(temp !== undefined && !left.includes("clean-f16.gguf"), `${left}`);
  // Someone else's files in the folder are never touched.
  await Deno.writeTextFile(join(dir, ".notes.tmp"), "mine");
  await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true });
  assert.deepEqual([...snapshot(dir).keys()].filter((n) => n.startsWith(".")), [".notes.tmp"]);
  assert.ok(isSet(new Map([...snapshot(dir)].filter(([n]) => n !== ".notes.tmp")), newExport));
  assert.match(temp, /^\.clean-f16\.gguf\.\d+-[0-9a-f]{8}\.clean-gguf-tmp$/, "our naming");
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  Deno.test(`export task: ${signal} while writing exits ${code}, removes its temporary files, keeps the old set`, async () => {
    const dir = join(root, `signal-${signal}`);
    const oldSet = await oldExportFolder(dir);
    const run = await runChild({ mode: "task", signal, atTensor: 3 }, [FIXTURE_DIR, "", dir]);
    assert.equal(run.signal, null, `ended by the handler, not by ${run.signal}`);
    assert.equal(run.code, code, run.stderr);
    assert.match(run.stderr, new RegExp(`interrupted by ${signal}`));
    const files = snapshot(dir);
    assert.equal(classify(files, oldSet, newExport, "clean-f16.gguf"), "old");
    assert.deepEqual([...files.keys()].filter((n) => n.startsWith(".")), [], "no hidden file");
  });
}

Deno.test("export: a folder in the way of a companion is refused (exit 8) before anything moves", async () => {
  const dir = join(root, "in-the-way");
  const oldSet = await oldExportFolder(dir);
  Deno.removeSync(join(dir, "clean-f16.gguf-hash"));
  Deno.mkdirSync(join(dir, "clean-f16.gguf-hash"));
  const err = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true }).then(
    () => null,
    (e) => e,
  );
  assert.ok(err instanceof OutputError, String(err));
  assert.equal(exitCodeOf(err), 8);
  const files = snapshot(dir);
  assert.ok(sameBytes(files.get("clean-f16.gguf"), oldSet.get("clean-f16.gguf")), "old GGUF kept");
  for (const name of ["clean-f16.meta.json", "clean-f16.fingerprint", "clean-f16.sig"]) {
    assert.ok(sameBytes(files.get(name), oldSet.get(name)), name);
  }
  assert.match(err.message, /clean-f16\.gguf-hash: a folder is in the way/);
  assert.deepEqual([...files.keys()].filter((n) => n.startsWith(".")), [], "no hidden file");
});

Deno.test({
  name:
    "two writers into one folder: the second is refused (exit 8) naming the first; a killed holder frees the folder",
  sanitizeResources: false,
  async fn() {
    const dir = join(root, "two-writers");
    Deno.mkdirSync(dir);
    const holder = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CHILD],
      env: { CRASH_ORDER: JSON.stringify({ mode: "hold", dir }) },
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = holder.stdout.getReader();
    assert.match(new TextDecoder().decode((await reader.read()).value), /ready/);
    try {
      const err = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true }).then(
        () => null,
        (e) => e,
      );
      assert.ok(err instanceof OutputError, String(err));
      assert.match(err.message, new RegExp(`process ${holder.pid} is writing into this folder`));
      assert.ok(!snapshot(dir).has("clean-f16.gguf"), "nothing placed");
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      reader.releaseLock();
      await holder.stdout.cancel();
    }
    // The lock died with its holder; the holder's temporary file goes with the next run.
    assert.ok([...snapshot(dir).keys()].some((n) => n.startsWith(".held.gguf.")));
    await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true });
    assert.ok(isSet(snapshot(dir), newExport));
  },
});
