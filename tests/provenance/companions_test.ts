/**
 * Stale companions: a new export removes the `.sig`, `.baseline.*` and
 * unwritten `.gguf-hash` of an earlier one, unless the new GGUF and meta.json
 * are byte-identical to what they described. The library end to end: the
 * fixture exported, signed and baselined, then exported again.
 */

import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { DESCRIBING_SUFFIXES, staleCompanions } from "../../lib/provenance/companions.ts";
import { generateKeyFiles, loadKey, signGguf } from "../../lib/provenance/signature.ts";
import { FIXTURE_DIR } from "../_models.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test("staleCompanions: none when fingerprint and meta.json are unchanged; else every describing file not written or kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stale-" });
  try {
    const base = `${dir}/x`;
    await Deno.writeTextFile(`${base}.fingerprint`, "sha256-aa\n");
    await Deno.writeTextFile(`${base}.meta.json`, "{}\n");
    for (const suffix of DESCRIBING_SUFFIXES) await Deno.writeTextFile(`${base}${suffix}`, "old");
    await Deno.writeTextFile(`${dir}/y.sig`, "another model's");
    const same = { fingerprint: "sha256-aa\n", meta: "{}\n" };
    assert.deepEqual(await staleCompanions(dir, "x", same, [], []), []);
    const all = DESCRIBING_SUFFIXES.map((s) => `${base}${s}`);
    assert.deepEqual(await staleCompanions(dir, "x", { ...same, meta: "{ }\n" }, [], []), all);
    const stale = await staleCompanions(
      dir,
      "x",
      { ...same, fingerprint: "sha256-bb\n" },
      [`${base}.gguf-hash`],
      [`${base}.baseline.json`],
    );
    assert.deepEqual(stale, [`${base}.sig`, `${base}.baseline.md`, `${base}.baseline.svg`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("re-export: a byte-identical export keeps .sig and .baseline.*; a changed one removes them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stale-export-" });
  try {
    const first = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true });
    await generateKeyFiles(`${dir}/keys/k.pem`, `${dir}/keys/k.pem.pub`);
    await signGguf({
      ggufPath: first.ggufPath,
      privateKey: await loadKey(`${dir}/keys/k.pem`, "private"),
    });
    const describing = [".sig", ".baseline.md", ".baseline.json", ".baseline.svg"].map((s) =>
      `${dir}/clean-f16${s}`
    );
    for (const path of describing.slice(1)) await Deno.writeTextFile(path, "a baseline");

    const again = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true });
    assert.equal(again.fingerprint, first.fingerprint);
    assert.deepEqual(again.removed, []);
    for (const path of describing) assert.ok(await exists(path), `${path} kept`);

    // meta.json changes (a timestamp): the signature over it no longer holds.
    const changed = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: dir,
      quiet: true,
      timestamp: true,
    });
    assert.deepEqual(changed.removed, describing);
    for (const path of describing) assert.ok(!(await exists(path)), `${path} removed`);
    assert.ok(await exists(changed.manifestPath), "the new manifest is not stale");

    // model-check's reference baseline is kept when asked.
    await Deno.writeTextFile(`${dir}/clean-f16.baseline.json`, "reference");
    await Deno.writeTextFile(`${dir}/clean-f16.sig`, "stale");
    const kept = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: dir,
      quiet: true,
      timestamp: true,
      keep: [`${dir}/clean-f16.baseline.json`],
    });
    assert.deepEqual(kept.removed, [`${dir}/clean-f16.sig`]);
    assert.equal(await Deno.readTextFile(`${dir}/clean-f16.baseline.json`), "reference");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("re-quantize without a manifest removes the earlier .gguf-hash, which described other bytes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "stale-quant-" });
  try {
    const src = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: dir, quiet: true });
    const q = await quantizeGguf({ input: src.ggufPath, type: "tq2_0", timestamp: true });
    assert.ok(q.manifestPath && (await exists(q.manifestPath)));
    await Deno.writeTextFile(`${dir}/clean-tq2_0.sig`, "stale");
    const again = await quantizeGguf({
      input: src.ggufPath,
      type: "tq2_0",
      hashManifest: false,
      timestamp: true,
    });
    assert.deepEqual(again.removed, [`${dir}/clean-tq2_0.sig`, `${dir}/clean-tq2_0.gguf-hash`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
