/**
 * tiiuae/Falcon3-{1B,3B,7B,10B}-Instruct-1.58bit and Falcon-E-{1B,3B}:
 * LlamaForCausalLM with quantization_config {"modules_to_not_convert":
 * ["lm_head"], "quant_method": "bitnet"}, uint8 codes + BF16 weight_scale
 * with W = T ÷ scale, SiLU, no sub-norms, untied BF16 lm_head, an explicit
 * head_dim, rope_theta 1000042, rms_norm_eps 1e-6, byte-level BPE.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeImitation } from "./_imitations.ts";
import { familyChecks } from "./_family_check.ts";

Deno.test("family falcon3 (tiiuae/Falcon3-*-1.58bit, Falcon-E): export, probe, I2_S/TQ2_0/TQ1_0, gates", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    // Seed chosen so that the reference's greedy path has a clear prefix (_family_check.ts).
    const im = await writeImitation("falcon3", join(dir, "hf"), 406);
    await familyChecks(t, im, {
      llamaGguf: true,
      onExport: (_r, keys) => {
        assert.equal(keys["general.architecture"], "llama");
        assert.equal((keys["clean_gguf.bitlinear_projections"] as string[]).length, 7);
        assert.equal(keys["llama.attention.key_length"], 96);
        assert.equal(keys["llama.attention.value_length"], 96);
        assert.equal(keys["llama.rope.freq_base"], 1000042);
        assert.equal(keys["llama.attention.layer_norm_rms_epsilon"], Math.fround(1e-6));
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
