/**
 * microsoft/bitnet-b1.58-2B-4T-bf16: BitNetForCausalLM, BF16 master weights
 * ternarized with absmean at export, relu², attn_sub_norm / ffn_sub_norm,
 * tied embeddings, Llama-3 BPE. Checked against the float64 reference of the
 * transformers semantics (tests/families/_family_check.ts).
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeImitation } from "./_imitations.ts";
import { familyChecks } from "./_family_check.ts";

Deno.test("family ms-bf16 (microsoft/bitnet-b1.58-2B-4T-bf16): export, probe, I2_S/TQ2_0/TQ1_0, gates", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const im = await writeImitation("ms-bf16", join(dir, "hf"), 101);
    await familyChecks(t, im, {
      llamaGguf: false,
      onExport: (_r, keys) => {
        assert.equal(keys["general.architecture"], "bitnet-b1.58");
        // relu² is what bitnet-b1.58 means without the key (the fixture's files stay as they were).
        assert.ok([undefined, "relu2"].includes(keys["bitnet-b1.58.hidden_activation"] as string));
        assert.equal(keys["clean_gguf.bitlinear_projections"], undefined);
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
