/**
 * 1bitLLM/bitnet_b1_58-large and -3B: BitnetForCausalLM with model_type
 * "llama" (routed on architectures[0]), F16 latent weights ternarized with
 * absmean at export, SiLU (hidden_act, written to the GGUF), sub-norms named
 * self_attn.inner_attn_ln and mlp.ffn_layernorm, Llama-2 SentencePiece with an
 * added token. Rows of 384 and 320 imitate the 3B's 3200 / 8640: I2_S keeps
 * ffn_down (rows of 320, not a multiple of 128) in F16, TQ2_0/TQ1_0 keep every
 * projection (no row a multiple of 256), each recorded in meta.json.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeImitation } from "./_imitations.ts";
import { familyChecks } from "./_family_check.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";

const PROJECTION = /^blk\.\d+\.(attn_(q|k|v|output)|ffn_(gate|up|down))\.weight$/;

Deno.test("family 1bitllm (1bitLLM/bitnet_b1_58-large, -3B): export, probe, I2_S/TQ2_0/TQ1_0, gates", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const im = await writeImitation("1bitllm", join(dir, "hf"), 505);
    await familyChecks(t, im, {
      llamaGguf: false,
      onExport: (_r, keys) => {
        assert.equal(keys["general.architecture"], "bitnet-b1.58");
        assert.equal(keys["bitnet-b1.58.hidden_activation"], "silu");
        assert.equal(keys["tokenizer.ggml.model"], "llama");
      },
      onQuantized: async (type, q) => {
        const g = await openGguf(q.ggufPath);
        try {
          for (const info of g.tensors.filter((x) => PROJECTION.test(x.name))) {
            const kept = type !== "i2_s" || info.name.endsWith("ffn_down.weight");
            assert.equal(info.type === GgmlType.F16, kept, `${type} ${info.name}`);
            const row = q.meta.tensors.find((x) => x.gguf_name === info.name)!;
            if (kept) assert.match(row.action, /kept F16: rows of \d+ are not a multiple of/);
          }
        } finally {
          g.close();
        }
        assert.ok(q.meta.warnings.some((w) => /kept in their float type/.test(w)));
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
