/**
 * The quantization table: exactly the seven BitLinear projections of every
 * layer are quantized; norms, token_embd and output never are, whatever comes
 * after the exclusions (first match wins); unknown names are copied.
 */

import assert from "node:assert/strict";
import { QUANTIZE_RULES, quantizeDecision, type QuantizeRule } from "../../lib/quantize/rules.ts";

const PROJECTIONS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];
const NORMS = ["attn_norm", "attn_sub_norm", "ffn_norm", "ffn_sub_norm"];

Deno.test("rules: the seven projections of any layer are quantized", () => {
  const projections = QUANTIZE_RULES.find((r) => r.id === "projections")!.projections!;
  assert.deepEqual([...projections].sort(), [...PROJECTIONS].sort());
  for (const layer of [0, 7, 29, 123]) {
    for (const p of PROJECTIONS) {
      const d = quantizeDecision(`blk.${layer}.${p}.weight`);
      assert.equal(d.decision, "quantize", `blk.${layer}.${p}.weight`);
      assert.equal(d.rule, "projections");
    }
  }
});

Deno.test("rules: norms, token_embd and output are never quantized, each with its reason", () => {
  const kept: [string, string][] = [
    ...NORMS.map((n): [string, string] => [`blk.3.${n}.weight`, "norms"]),
    ["output_norm.weight", "norms"],
    ["token_embd.weight", "token_embd"],
    ["output.weight", "output"],
  ];
  for (const [name, rule] of kept) {
    const d = quantizeDecision(name);
    assert.equal(d.decision, "keep", name);
    assert.equal(d.rule, rule, name);
    assert.ok(d.reason.length > 20, `${name} has a reason`);
  }
});

Deno.test("rules: names outside the table are copied, not quantized", () => {
  for (
    const name of ["rope_freqs.weight", "blk.0.attn_q.bias", "blk.x.attn_q.weight", "attn_q.weight"]
  ) {
    const d = quantizeDecision(name);
    assert.equal(d.decision, "keep", name);
    assert.equal(d.rule, "unlisted", name);
  }
});

Deno.test("rules: exclusions come first, so a broad include added later cannot quantize them", () => {
  const firstInclude = QUANTIZE_RULES.findIndex((r) => r.decision === "quantize");
  const lastExclude = QUANTIZE_RULES.findLastIndex((r) => r.decision === "keep");
  assert.ok(lastExclude < firstInclude);
  const greedy: QuantizeRule[] = [
    ...QUANTIZE_RULES,
    { id: "everything", role: "norm", decision: "quantize", reason: "a careless row" },
    { id: "embeddings", role: "embedding", decision: "quantize", reason: "a careless row" },
    { id: "head", role: "output", decision: "quantize", reason: "a careless row" },
  ];
  for (const name of ["blk.0.attn_norm.weight", "token_embd.weight", "output.weight"]) {
    assert.equal(quantizeDecision(name, greedy).decision, "keep", name);
  }
});
