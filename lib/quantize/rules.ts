/**
 * Which tensors a ternary quantization touches: ONE declarative table, read
 * top to bottom, first match wins. The exclusions come first, so no later
 * row (nor a future, broader one) can ever quantize a norm, the token
 * embeddings or the output layer. Every row carries the reason that
 * meta.json records beside each tensor.
 *
 * Tensor roles come from the architecture registry's name table
 * (lib/arch/registry.ts), so the rules and the export agree on what
 * `blk.N.attn_q.weight` is.
 *
 * @example
 * ```ts
 * import { quantizeDecision } from "./rules.ts";
 * quantizeDecision("blk.0.ffn_down.weight").decision; // "quantize"
 * quantizeDecision("blk.0.attn_norm.weight"); // { rule: "norms", decision: "keep", reason: "..." }
 * ```
 * @module
 */

import {
  ggufTensorRole,
  PROJECTION_KINDS,
  type ProjectionKind,
  type TensorRole,
} from "../arch/registry.ts";

/** What happens to a tensor. */
export type QuantizeDecision = "quantize" | "keep";

/** One row of {@link QUANTIZE_RULES}. */
export interface QuantizeRule {
  /** Short id, recorded in meta.json. */
  readonly id: string;
  /** The tensor role (from the registry's name table) this row applies to. */
  readonly role: TensorRole;
  /** Restricts a projection row to these kinds; absent = every tensor of the role. */
  readonly projections?: readonly ProjectionKind[];
  readonly decision: QuantizeDecision;
  readonly reason: string;
}

/**
 * The include/exclude table. Exclusions first: first match wins.
 *
 * @example
 * ```ts
 * QUANTIZE_RULES.filter((r) => r.decision === "keep").map((r) => r.id); // ["norms", "token_embd", "output"]
 * ```
 */
export const QUANTIZE_RULES: readonly QuantizeRule[] = [
  {
    id: "norms",
    role: "norm",
    decision: "keep",
    reason:
      "norm weights are never quantized: they are float gammas (attn_norm ≈ 0.02 in 2B-4T) that BitNet applies in fp32",
  },
  {
    id: "token_embd",
    role: "embedding",
    decision: "keep",
    reason:
      "token embeddings are never quantized: I2_S embeddings break the model (Microsoft BitNet); F16 embeddings are what bitnet.cpp ships",
  },
  {
    id: "output",
    role: "output",
    decision: "keep",
    reason:
      "the output layer (lm_head) is never quantized: BitNet computes logits in full precision",
  },
  {
    id: "projections",
    role: "projection",
    // The seven BitLinear projections of a BitNet b1.58 layer (docs/reference/formats.md).
    projections: PROJECTION_KINDS,
    decision: "quantize",
    reason: "BitLinear projection: its weights are ternary {-s, 0, +s} with one scale per tensor",
  },
];

/** The decision for tensors that no row names. */
const UNLISTED: TensorDecision = {
  rule: "unlisted",
  decision: "keep",
  reason: "not named in the quantization table: copied unchanged",
};

/**
 * The per-tensor fallback of a projection whose rows (ne[0]) are not a
 * multiple of the target format's block (I2_S 128, TQ2_0/TQ1_0 256; e.g.
 * 1bitLLM-3B's 3200 and 8640): it is kept in its float type, exactly as
 * stored, and the engine runs it as the same ternary layer. Recorded in
 * meta.json beside the tensor.
 *
 * @example
 * ```ts
 * rowBlockDecision(8640, 128, "I2_S", "F16").reason; // "kept F16: rows of 8640 are not a multiple of the 128-element I2_S block"
 * ```
 */
export function rowBlockDecision(
  row: number,
  block: number,
  typeName: string,
  keptAs: string,
): TensorDecision {
  return {
    rule: "row_block",
    decision: "keep",
    reason:
      `kept ${keptAs}: rows of ${row} are not a multiple of the ${block}-element ${typeName} block`,
  };
}

/**
 * The decision for a projection kind a ternary Llama's checkpoint exempted
 * from BitLinear (`modules_to_not_convert`; not listed in
 * `clean_gguf.bitlinear_projections`): a float layer of the model, never quantized.
 *
 * @example
 * ```ts
 * FLOAT_LAYER.rule; // "float_layer"
 * ```
 */
export const FLOAT_LAYER: TensorDecision = {
  rule: "float_layer",
  decision: "keep",
  reason:
    "a float layer of this model (not listed in clean_gguf.bitlinear_projections: its checkpoint exempted it from BitLinear)",
};

/** The outcome of {@link quantizeDecision} for one tensor. */
export interface TensorDecision {
  readonly rule: string;
  readonly decision: QuantizeDecision;
  readonly reason: string;
}

/**
 * The decision for a GGUF tensor name, from {@link QUANTIZE_RULES} (or
 * `UNLISTED` for a name outside the registry's table). `rules` is
 * a parameter only so tests can check first-match-wins on a variant table.
 *
 * @example
 * ```ts
 * quantizeDecision("token_embd.weight").decision; // "keep"
 * quantizeDecision("rope_freqs.weight").rule; // "unlisted"
 * ```
 */
export function quantizeDecision(
  name: string,
  rules: readonly QuantizeRule[] = QUANTIZE_RULES,
): TensorDecision {
  const role = ggufTensorRole(name);
  if (role) {
    for (const r of rules) {
      if (r.role !== role.role) continue;
      if (r.projections && !(role.projection && r.projections.includes(role.projection))) continue;
      return { rule: r.id, decision: r.decision, reason: r.reason };
    }
  }
  return UNLISTED;
}
