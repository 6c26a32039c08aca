/**
 * TQ2_0 and TQ1_0 are for upstream llama.cpp, which loads BitNet b1.58 only
 * as the architecture "bitnet": the quantizer warns when asked for them on a
 * file whose architecture upstream cannot load, and only then.
 */

import assert from "node:assert/strict";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { QUANT_FORMATS } from "../../lib/quantize/formats.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { FIXTURE_DIR } from "../_models.ts";

Deno.test("quantize: a warning for TQ2_0/TQ1_0 of a bitnet-b1.58 file, none for I2_S or a bitnet file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "upstream-arch-" });
  try {
    const ours = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: `${dir}/b158`,
      quiet: true,
    });
    const upstream = await exportCleanGguf({
      modelDir: FIXTURE_DIR,
      outDir: `${dir}/bitnet`,
      archName: "bitnet",
      quiet: true,
    });
    const warned = (warnings: readonly string[]) =>
      warnings.filter((w) =>
        /upstream llama\.cpp loads TQ\d_0 files only as "bitnet" or "llama"/.test(w)
      );
    for (const type of ["tq2_0", "tq1_0"] as const) {
      const onOurs: string[] = [];
      const q = await quantizeGguf({
        input: ours.ggufPath,
        type,
        onWarning: (m) => onOurs.push(m),
      });
      assert.equal(warned(onOurs).length, 1, `${type} of bitnet-b1.58: ${onOurs.join("; ")}`);
      assert.match(warned(onOurs)[0]!, /"bitnet-b1\.58".*--arch-name bitnet/);
      assert.deepEqual(warned(q.meta.warnings), warned(onOurs), "recorded in meta.json too");
      const r = await quantizeGguf({ input: upstream.ggufPath, type });
      assert.deepEqual(warned(r.meta.warnings), [], `${type} of a bitnet file`);
    }
    const i2s = await quantizeGguf({ input: ours.ggufPath, type: "i2_s" });
    assert.deepEqual(warned(i2s.meta.warnings), []);
    assert.equal(QUANT_FORMATS.i2_s.loadsArchitectures, undefined, "bitnet.cpp loads ours");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
