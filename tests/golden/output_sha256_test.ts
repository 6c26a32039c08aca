/**
 * The GGUF files the pipeline writes for the bundled fixture are byte-identical
 * to the ones recorded before the refactors and speed work of this round
 * (issues 12, 15): the sha256 of the F16 export and of its I2_S, TQ2_0 and
 * TQ1_0 quantizations, computed with `sha256sum` on files written by commit
 * 587ecb2 (the last landed main before those changes).
 *
 * A refactor that changes one byte of an output fails here; a deliberate format
 * change must update the recorded value and say why in its commit.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { FIXTURE_DIR } from "../_models.ts";

/** Recorded with `sha256sum` on the outputs of commit 587ecb2. */
const RECORDED = {
  f16: "dbfcaba504edd46ab7c00f64f4ea3a1d37073c7e885b9482f4884098a2597b3a",
  i2_s: "d4eeec0c9a57a750e39ade67158e9f1c443d8531d9860a98f26213a5d749b093",
  tq2_0: "2589b4786112e78ede7e32e2165d38a678985611d9970fc09438d4dd1a0e03b7",
  tq1_0: "dcf4a9627ef9516af92fe05d4cc601507f3612f4b33e57a02373dfc37231a75e",
} as const;

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  for await (const chunk of file.readable) hash.update(chunk);
  return hash.digest("hex");
}

Deno.test("fixture outputs are byte-identical to the recorded sha256 (F16, I2_S, TQ2_0, TQ1_0)", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "golden-" });
  try {
    const exported = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: join(tmp, "f16"),
      quiet: true,
    });
    assert.equal(await sha256File(exported.ggufPath), RECORDED.f16, "clean-f16.gguf");
    for (const type of ["i2_s", "tq2_0", "tq1_0"] as const) {
      const q = await quantizeGguf({ input: exported.ggufPath, outDir: join(tmp, type), type });
      assert.equal(await sha256File(q.ggufPath), RECORDED[type], `${type} file`);
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
