/**
 * HF1BitLLM/Llama3-8B-1.58-100B-tokens: LlamaForCausalLM with
 * quantization_config {"quant_method": "bitnet"} (the key repeated in a
 * published copy: the last wins, as in JSON.parse), uint8 codes + BF16
 * weight_scale with W = T ÷ scale (BitLinear, no linear_class), SiLU, no
 * sub-norms, untied BF16 lm_head never quantized, Llama-3 BPE. The GGUF stays
 * "llama" and lists its BitLinear projections in clean_gguf.bitlinear_projections.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeImitation } from "./_imitations.ts";
import { familyChecks } from "./_family_check.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { openGguf } from "../../lib/gguf/reader.ts";

const ALL = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

Deno.test("family hf1bitllm (HF1BitLLM/Llama3-8B-1.58-100B-tokens): export, probe, I2_S/TQ2_0/TQ1_0, gates", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    // Seed chosen so that the reference's greedy path has a clear prefix (_family_check.ts).
    const im = await writeImitation("hf1bitllm", join(dir, "hf"), 305);
    const text = await Deno.readTextFile(join(im.dir, "config.json"));
    assert.equal(text.split('"quantization_config"').length - 1, 2, "the key is repeated");
    await familyChecks(t, im, {
      llamaGguf: true,
      onExport: (r, keys) => {
        assert.equal(keys["general.architecture"], "llama");
        assert.deepEqual(keys["clean_gguf.bitlinear_projections"], ALL);
        const q0 = r.meta.tensors.find((x) => x.gguf_name === "blk.0.attn_q.weight")!;
        assert.match(q0.action, /÷ weight_scale, rows permuted/);
      },
      onQuantized: async (_type, q) => {
        const g = await openGguf(q.ggufPath);
        try {
          assert.equal(g.tensor("output.weight").type, GgmlType.F16, "lm_head never quantized");
        } finally {
          g.close();
        }
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
