/**
 * The sources' sha256 in meta.json: computed from the files (node:crypto over
 * each file, here), except for files whose sha256 the Hub download has just
 * checked, which are recorded as given and not read again.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { resolve } from "node:path";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { FIXTURE_DIR } from "../_models.ts";

const sha256Of = async (path: string) =>
  createHash("sha256").update(await Deno.readFile(path)).digest("hex");

Deno.test("export: sources hashed once; a verified Hub sha256 is reused, not recomputed", async () => {
  const out = await Deno.makeTempDir({ prefix: "sources-" });
  try {
    const weights = `${FIXTURE_DIR}/model.safetensors`;
    // A value no file has: seeing it in meta.json proves the weights were not hashed again.
    const claimed = "ab".repeat(32);
    const r = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: out,
      quiet: true,
      verifiedSha256: { [resolve(weights)]: claimed },
    });
    const byName = new Map(r.meta.sources.map((s) => [s.path, s]));
    assert.equal(byName.get("model.safetensors")!.sha256, claimed);
    assert.equal(byName.get("model.safetensors")!.size, (await Deno.stat(weights)).size);
    for (const name of ["config.json", "tokenizer.json"]) {
      assert.equal(byName.get(name)!.sha256, await sha256Of(`${FIXTURE_DIR}/${name}`), name);
    }
    const plain = await exportCleanGguf({ modelDir: FIXTURE_DIR, outDir: `${out}/b`, quiet: true });
    const recomputed = plain.meta.sources.find((s) => s.path === "model.safetensors")!;
    assert.equal(recomputed.sha256, await sha256Of(weights));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
