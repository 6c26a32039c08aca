/**
 * How a config.json picks its registry row (architectures[0], then
 * model_type, then quantization_config.quant_method), which projections are
 * BitLinear (modules_to_not_convert), the scale convention, the envelope
 * family, and the refusals with their messages (docs/reference/families.md).
 */

import assert from "node:assert/strict";
import { findArchitecture } from "../../lib/arch/registry.ts";
import { bitlinearFromConfig } from "../../lib/arch/bitlinear.ts";
import { packedScaleConvention } from "../../lib/export/packed.ts";
import { FormatError, UnsupportedError } from "../../lib/errors.ts";
import { DEFAULT_RULES, envelopeFamily, envelopeFor } from "../../lib/validate/rules.ts";

const ALL = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];

Deno.test("routing: architectures[0] first, then model_type, then quant_method", () => {
  const row = (c: Record<string, unknown>) => findArchitecture(c, "config.json").id;
  assert.equal(row({ architectures: ["BitNetForCausalLM"], model_type: "bitnet" }), "bitnet");
  // 1bitLLM: model_type says llama, architectures[0] says BitNet.
  assert.equal(row({ architectures: ["BitnetForCausalLM"], model_type: "llama" }), "bitnet");
  assert.equal(row({ architectures: ["LlamaForCausalLM"] }), "llama");
  const bitnet = { quant_method: "bitnet" };
  assert.equal(
    row({ architectures: ["LlamaForCausalLM"], quantization_config: bitnet }),
    "llama-bitnet",
  );
  assert.equal(row({ model_type: "llama", quantization_config: bitnet }), "llama-bitnet");
  // A quantization_config without quant_method quantizes nothing.
  assert.equal(row({ architectures: ["LlamaForCausalLM"], quantization_config: {} }), "llama");
  // Only the first architecture counts.
  assert.throws(
    () => row({ architectures: ["MistralForCausalLM", "LlamaForCausalLM"] }),
    (e: unknown) =>
      e instanceof UnsupportedError &&
      /unsupported architecture MistralForCausalLM/.test(e.message),
  );
  assert.throws(
    () =>
      row({ architectures: ["LlamaForCausalLM"], quantization_config: { quant_method: "gptq" } }),
    (e: unknown) =>
      e instanceof UnsupportedError &&
      /quantization_config.quant_method "gptq" is not supported for architecture LlamaForCausalLM \(supported: none, "bitnet"\)/
        .test(e.message),
  );
});

Deno.test("a repeated quantization_config key: the last one wins, as in JSON.parse", () => {
  const text =
    '{"architectures": ["LlamaForCausalLM"], "quantization_config": {"quant_method": "gptq"}, "quantization_config": {"quant_method": "bitnet"}}';
  assert.equal(findArchitecture(JSON.parse(text), "config.json").id, "llama-bitnet");
});

Deno.test("modules_to_not_convert: lm_head changes nothing; a whole kind stays float; some layers only is refused", () => {
  const config = (keys: string[]) => ({
    architectures: ["LlamaForCausalLM"],
    quantization_config: { quant_method: "bitnet", modules_to_not_convert: keys },
  });
  const kinds = (keys: string[]) => {
    const c = config(keys);
    return bitlinearFromConfig(c, findArchitecture(c, "config.json"), 3, "config.json");
  };
  assert.deepEqual(kinds(["lm_head"]), ALL);
  assert.deepEqual(kinds([]), ALL);
  assert.deepEqual(kinds(["lm_head", "down_proj"]), ALL.filter((k) => k !== "ffn_down"));
  assert.throws(
    () => kinds(["model.layers.1"]),
    (e: unknown) =>
      e instanceof UnsupportedError &&
      /exempts model\.layers\.\*\.self_attn\.q_proj in 1 of 3 layers/.test(e.message),
  );
  assert.throws(() => kinds([3 as unknown as string]), FormatError);
  // A BitNet architecture implies BitLinear everywhere: no exemption can be written.
  const ms = {
    architectures: ["BitNetForCausalLM"],
    quantization_config: { quant_method: "bitnet", modules_to_not_convert: ["o_proj"] },
  };
  assert.throws(() => bitlinearFromConfig(ms, findArchitecture(ms, "c"), 2, "c"), UnsupportedError);
});

Deno.test("weight_scale convention: BitLinear (and no linear_class) divides, AutoBitLinear multiplies", () => {
  assert.equal(packedScaleConvention({ quant_method: "bitnet" }, "c"), "divide");
  assert.equal(packedScaleConvention({ linear_class: "bitlinear" }, "c"), "divide");
  assert.equal(packedScaleConvention({ linear_class: "autobitlinear" }, "c"), "multiply");
  assert.throws(
    () => packedScaleConvention({ linear_class: "fp8linear" }, "config.json"),
    (e: unknown) => e instanceof UnsupportedError && /linear_class "fp8linear"/.test(e.message),
  );
});

Deno.test("envelopes: a Llama with BitLinear projections has its own norm rows, each with a reason", () => {
  const family = envelopeFamily("llama", { bitlinear: ["attn_q"] });
  assert.equal(family, "llama-bitnet");
  assert.equal(envelopeFamily("llama", { bitlinear: [] }), "llama");
  for (const cls of ["attn_norm", "ffn_norm", "output_norm"] as const) {
    const e = envelopeFor(DEFAULT_RULES, family, cls);
    assert.equal(e.family, "llama-bitnet", cls);
    assert.match(e.reason, /ternary Llama/);
  }
});
