/**
 * The declarative architecture registry: which Hugging Face architectures we
 * export, how their tensors are named in GGUF (docs/reference/formats.md, "Tensor names"), which are norms
 * and which projections, and which config.json keys become which GGUF
 * hyperparameters. Formats are data: adding an architecture is adding a row.
 *
 * @example
 * ```ts
 * import { findArchitecture, expectedTensors } from "./registry.ts";
 * const arch = findArchitecture({ architectures: ["BitNetForCausalLM"] }, "config.json");
 * arch.family; // "bitnet"
 * ```
 * @module
 */

import { UnsupportedError } from "../errors.ts";
import type { Hparams } from "./hparams.ts";

/** What a tensor is for; decides its output type and how it is checked. */
export type TensorRole = "embedding" | "norm" | "projection" | "output";

/** Norm classes (validation envelopes are declared per class). */
export type NormClass = "attn_norm" | "attn_sub_norm" | "ffn_norm" | "ffn_sub_norm" | "output_norm";

/** Every projection kind, in layer order; q and k are permuted for Llama. */
export const PROJECTION_KINDS = [
  "attn_q",
  "attn_k",
  "attn_v",
  "attn_output",
  "ffn_gate",
  "ffn_up",
  "ffn_down",
] as const;
/** A projection kind. */
export type ProjectionKind = (typeof PROJECTION_KINDS)[number];

/** One row of the HF → GGUF name table; `{N}` stands for the layer index. */
export interface TensorRule {
  /** GGUF name (docs/reference/formats.md, "Tensor names"). */
  readonly gguf: string;
  /** HF names, preferred first (older checkpoints use aliases). */
  readonly hf: readonly string[];
  readonly role: TensorRole;
  readonly normClass?: NormClass;
  readonly projection?: ProjectionKind;
  /** Shape in PyTorch order, in terms of hyperparameters. */
  readonly shape: (h: TensorDims) => number[];
  /** Only present when the lm_head is untied. */
  readonly untiedOnly?: boolean;
}

/** The hyper-parameters that decide every tensor's shape. */
export type TensorDims = Pick<
  Hparams,
  "nEmbd" | "nFf" | "nLayer" | "nHead" | "nHeadKv" | "headDim" | "vocabSize" | "tied"
>;

/** The forward-pass families the engine implements. */
export type Family = "bitnet" | "llama";

/** The gated FFN activation: relu²(gate)·up (BitNet b1.58) or silu(gate)·up (Llama). */
export type Activation = "relu2" | "silu";

/** One supported architecture. */
export interface ArchSpec {
  /** Short name of the row (docs, meta.json, messages). */
  readonly id: string;
  /** `config.architectures[0]` values that select this row. */
  readonly hfArchitectures: readonly string[];
  /** `config.model_type` values that select this row when `architectures` is absent. */
  readonly modelTypes: readonly string[];
  /**
   * `quantization_config.quant_method` values this row accepts (null: no
   * quantization_config); with the architecture they pick the row.
   */
  readonly quantMethods: readonly (string | null)[];
  readonly family: Family;
  /** GGUF `general.architecture` names this family may be written as, default first. */
  readonly ggufArchNames: readonly string[];
  /** Llama's q/k rows are permuted for llama.cpp's adjacent-pair RoPE; BitNet's are not. */
  readonly permuteQK: boolean;
  /**
   * Projections are BitLinear (ternary weights, int8 per-token activations):
   * master weights are ternarized with absmean before writing, packed ones
   * unpacked; `quantization_config.modules_to_not_convert` may exempt some.
   */
  readonly ternaryProjections: boolean;
  /**
   * The GGUF architecture name does not imply BitLinear projections (a Llama
   * with `quant_method: "bitnet"`): the export lists them under
   * `clean_gguf.bitlinear_projections` and the engine reads them from there.
   */
  readonly bitlinearKey: boolean;
  /** The activation when config.json's `hidden_act` (or the GGUF's `hidden_activation`) is absent. */
  readonly activation: Activation;
  /** The GGUF architecture name whose loader reads `{arch}.hidden_activation` (upstream's `bitnet`). */
  readonly activationKeyIn?: string;
  readonly tensors: readonly TensorRule[];
}

const L = "model.layers.{N}.";
const q = (h: TensorDims) => [h.nHead * h.headDim, h.nEmbd];
const kv = (h: TensorDims) => [h.nHeadKv * h.headDim, h.nEmbd];
const o = (h: TensorDims) => [h.nEmbd, h.nHead * h.headDim];
const up = (h: TensorDims) => [h.nFf, h.nEmbd];
const down = (h: TensorDims) => [h.nEmbd, h.nFf];
const embd = (h: TensorDims) => [h.nEmbd];
const ff = (h: TensorDims) => [h.nFf];
const vocab = (h: TensorDims) => [h.vocabSize, h.nEmbd];

const GLOBAL_TENSORS: readonly TensorRule[] = [
  { gguf: "token_embd.weight", hf: ["model.embed_tokens.weight"], role: "embedding", shape: vocab },
  {
    gguf: "output_norm.weight",
    hf: ["model.norm.weight"],
    role: "norm",
    normClass: "output_norm",
    shape: embd,
  },
  { gguf: "output.weight", hf: ["lm_head.weight"], role: "output", shape: vocab, untiedOnly: true },
];

function proj(kind: ProjectionKind, hf: string, shape: (h: TensorDims) => number[]): TensorRule {
  return {
    gguf: layerTensorName(kind, "{N}"),
    hf: [L + hf],
    role: "projection",
    projection: kind,
    shape,
  };
}
function norm(cls: NormClass, hf: readonly string[], shape: (h: TensorDims) => number[]) {
  return {
    gguf: layerTensorName(cls, "{N}"),
    hf: hf.map((n) => L + n),
    role: "norm" as const,
    normClass: cls,
    shape,
  };
}

/** BitNet's per-layer tensors, in the order llama.cpp's converter writes them. */
const BITNET_LAYER: readonly TensorRule[] = [
  norm("attn_norm", ["input_layernorm.weight"], embd),
  proj("attn_q", "self_attn.q_proj.weight", q),
  proj("attn_k", "self_attn.k_proj.weight", kv),
  proj("attn_v", "self_attn.v_proj.weight", kv),
  proj("attn_output", "self_attn.o_proj.weight", o),
  // 1bitLLM checkpoints call the sub-norms inner_attn_ln and ffn_layernorm.
  norm("attn_sub_norm", ["self_attn.attn_sub_norm.weight", "self_attn.inner_attn_ln.weight"], embd),
  norm("ffn_norm", ["post_attention_layernorm.weight"], embd),
  proj("ffn_gate", "mlp.gate_proj.weight", up),
  proj("ffn_up", "mlp.up_proj.weight", up),
  proj("ffn_down", "mlp.down_proj.weight", down),
  norm("ffn_sub_norm", ["mlp.ffn_sub_norm.weight", "mlp.ffn_layernorm.weight"], ff),
];

/** Llama's: the same without the two sub-norms. */
const LLAMA_LAYER: readonly TensorRule[] = BITNET_LAYER.filter(
  (r) => r.normClass !== "attn_sub_norm" && r.normClass !== "ffn_sub_norm",
);

/** The registry. */
export const ARCHITECTURES: readonly ArchSpec[] = [
  {
    // Microsoft BitNet b1.58 2B-4T (BitNetForCausalLM, relu²) and 1bitLLM bitnet_b1_58
    // (BitnetForCausalLM with model_type "llama" and hidden_act "silu": routed here by
    // architectures[0]; their sub-norms are aliases in BITNET_LAYER).
    id: "bitnet",
    hfArchitectures: ["BitNetForCausalLM", "BitnetForCausalLM"],
    modelTypes: ["bitnet"],
    quantMethods: [null, "bitnet"],
    family: "bitnet",
    ggufArchNames: ["bitnet-b1.58", "bitnet-25", "bitnet"],
    permuteQK: false,
    ternaryProjections: true,
    bitlinearKey: false,
    activation: "relu2",
    activationKeyIn: "bitnet",
    tensors: BITNET_LAYER,
  },
  {
    id: "llama",
    hfArchitectures: ["LlamaForCausalLM"],
    modelTypes: ["llama"],
    quantMethods: [null],
    family: "llama",
    ggufArchNames: ["llama"],
    permuteQK: true,
    ternaryProjections: false,
    bitlinearKey: false,
    activation: "silu",
    tensors: LLAMA_LAYER,
  },
  {
    // Llama checkpoints trained or fine-tuned as BitNet b1.58 (tiiuae Falcon3-*-1.58bit,
    // Falcon-E, HF1BitLLM Llama3-8B-1.58): written as "llama" so llama.cpp loads them, with
    // the BitLinear projections recorded in our own key (docs/explanation/ternary-llama.md).
    id: "llama-bitnet",
    hfArchitectures: ["LlamaForCausalLM"],
    modelTypes: ["llama"],
    quantMethods: ["bitnet"],
    family: "llama",
    ggufArchNames: ["llama"],
    permuteQK: true,
    ternaryProjections: true,
    bitlinearKey: true,
    activation: "silu",
    tensors: LLAMA_LAYER,
  },
];

/** `quantization_config.quant_method` of a config.json, or null without a quantization_config. */
function quantMethodOf(config: Record<string, unknown>): string | null {
  const q = config.quantization_config;
  if (q === undefined || q === null) return null;
  const m = typeof q === "object" ? (q as Record<string, unknown>).quant_method : undefined;
  if (m === undefined || m === null) return null;
  return typeof m === "string" ? m : JSON.stringify(m);
}

/**
 * The row for a config.json: `architectures[0]` (else `model_type`) names the
 * candidates, `quantization_config.quant_method` picks among them. An unknown
 * architecture or quantization method is an {@link UnsupportedError} listing
 * the supported ones.
 *
 * @example
 * ```ts
 * findArchitecture({ architectures: ["LlamaForCausalLM"], quantization_config: { quant_method: "bitnet" } }, "config.json").id; // "llama-bitnet"
 * findArchitecture({ architectures: ["BitnetForCausalLM"], model_type: "llama" }, "config.json").id; // "bitnet"
 * ```
 */
export function findArchitecture(config: Record<string, unknown>, source: string): ArchSpec {
  const archs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
  const first = archs[0];
  const candidates = first !== undefined
    ? ARCHITECTURES.filter((a) => a.hfArchitectures.includes(first))
    : ARCHITECTURES.filter((a) => modelType !== undefined && a.modelTypes.includes(modelType));
  const what = first !== undefined ? `architecture ${first}` : `model_type ${modelType}`;
  if (candidates.length === 0) {
    throw new UnsupportedError(
      `${source}: unsupported ${what}; supported: ${
        [...new Set(ARCHITECTURES.flatMap((a) => a.hfArchitectures))].join(", ")
      }`,
    );
  }
  const method = quantMethodOf(config);
  const found = candidates.find((a) => a.quantMethods.includes(method));
  if (!found) {
    const known = [...new Set(candidates.flatMap((a) => a.quantMethods))]
      .map((m) => m === null ? "none" : `"${m}"`).join(", ");
    throw new UnsupportedError(
      `${source}: quantization_config.quant_method ${
        method === null ? "absent" : `"${method}"`
      } is not supported for ${what} (supported: ${known})`,
    );
  }
  return found;
}

/** A concrete tensor of one model: the rule with the layer filled in. */
export interface ArchTensor {
  readonly gguf: string;
  readonly hf: readonly string[];
  readonly rule: TensorRule;
  readonly layer: number | null;
  readonly shape: number[];
}

/** Every tensor the model must have, in GGUF file order (globals around the layers). */
export function expectedTensors(arch: ArchSpec, h: TensorDims): ArchTensor[] {
  const out: ArchTensor[] = [];
  const add = (rule: TensorRule, layer: number | null) => {
    const fill = (s: string) => (layer === null ? s : s.replace("{N}", String(layer)));
    out.push({ gguf: fill(rule.gguf), hf: rule.hf.map(fill), rule, layer, shape: rule.shape(h) });
  };
  add(GLOBAL_TENSORS[0]!, null);
  for (let i = 0; i < h.nLayer; i++) for (const r of arch.tensors) add(r, i);
  add(GLOBAL_TENSORS[1]!, null);
  if (!h.tied) add(GLOBAL_TENSORS[2]!, null);
  return out;
}

/**
 * The registry row of a model family.
 *
 * @example
 * ```ts
 * architectureOf("llama").permuteQK; // true
 * ```
 */
export function architectureOf(family: Family): ArchSpec {
  return ARCHITECTURES.find((a) => a.family === family)!;
}

/**
 * The registry row of a GGUF `general.architecture` name (the first row that
 * writes it: "llama" is the plain Llama row; its BitLinear projections, if
 * any, are in `clean_gguf.bitlinear_projections`); an unknown one is
 * an {@link UnsupportedError} listing the supported names.
 *
 * @example
 * ```ts
 * archByGgufName("bitnet-25").family; // "bitnet"
 * ```
 */
export function archByGgufName(name: string, where = "model"): ArchSpec {
  const found = ARCHITECTURES.find((a) => a.ggufArchNames.includes(name));
  if (!found) {
    throw new UnsupportedError(
      `${where}: architecture "${name}" is not supported (supported: ${
        ARCHITECTURES.flatMap((a) => a.ggufArchNames).join(", ")
      })`,
    );
  }
  return found;
}

/**
 * The GGUF name of a layer tensor, from the same table.
 *
 * @example
 * ```ts
 * layerTensorName("attn_q", 3); // "blk.3.attn_q.weight"
 * ```
 */
export function layerTensorName(kind: NormClass | ProjectionKind, layer: number | "{N}"): string {
  return `blk.${layer}.${kind}.weight`;
}

/** What a GGUF tensor name is, parsed from the same table (for validation and quantization). */
export interface GgufTensorRole {
  readonly role: TensorRole;
  readonly layer: number | null;
  readonly normClass?: NormClass;
  readonly projection?: ProjectionKind;
}

const ALL_RULES: readonly TensorRule[] = [...GLOBAL_TENSORS, ...BITNET_LAYER];

/**
 * The role of a GGUF tensor name, or null for a name outside the table.
 *
 * @example
 * ```ts
 * ggufTensorRole("blk.3.attn_sub_norm.weight"); // { role: "norm", layer: 3, normClass: "attn_sub_norm" }
 * ```
 */
export function ggufTensorRole(name: string): GgufTensorRole | null {
  const m = /^blk\.(\d+)\.(.+)$/.exec(name);
  const layer = m ? Number(m[1]) : null;
  const pattern = m ? `blk.{N}.${m[2]}` : name;
  const rule = ALL_RULES.find((r) => r.gguf === pattern);
  if (!rule) return null;
  return {
    role: rule.role,
    layer,
    ...(rule.normClass ? { normClass: rule.normClass } : {}),
    ...(rule.projection ? { projection: rule.projection } : {}),
  };
}
