/**
 * microsoft/bitnet-b1.58-2B-4T: BitNetForCausalLM with quantization_config
 * {bitnet, autobitlinear, offline}: projections are uint8 codes packed along
 * the output axis plus a BF16 `weight_scale` of shape (1,), W = T × scale;
 * relu², sub-norms, tied, Llama-3 BPE. Checked against the float64 reference
 * of the transformers semantics (tests/families/_family_check.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeImitation } from "./_imitations.ts";
import { familyChecks } from "./_family_check.ts";

Deno.test("family ms-packed (microsoft/bitnet-b1.58-2B-4T): export, probe, I2_S/TQ2_0/TQ1_0, gates", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const im = await writeImitation("ms-packed", join(dir, "hf"), 202);
    await familyChecks(t, im, {
      llamaGguf: false,
      onExport: (r, keys) => {
        assert.equal(keys["general.architecture"], "bitnet-b1.58");
        assert.equal(keys["clean_gguf.bitlinear_projections"], undefined);
        const q0 = r.meta.tensors.find((x) => x.gguf_name === "blk.0.attn_q.weight")!;
        assert.match(q0.action, /unpacked from U8 codes × weight_scale/);
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
