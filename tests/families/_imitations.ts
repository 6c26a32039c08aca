/**
 * Small imitations of every ternary checkpoint family on the Hub (issue 10's
 * table): the exact config.json keys, tensor names, dtypes, packing and
 * quirks of each, with random weights; and the family's transformers
 * semantics for the reference forward pass (_reference_forward.ts).
 *
 * | id          | imitates                                                      |
 * | ----------- | ------------------------------------------------------------- |
 * | `ms-bf16`   | microsoft/bitnet-b1.58-2B-4T-bf16 (BF16 latent, relu², sub-norms, tied) |
 * | `ms-packed` | microsoft/bitnet-b1.58-2B-4T (U8 codes × weight_scale, autobitlinear offline) |
 * | `1bitllm`   | 1bitLLM/bitnet_b1_58-large/-3B (BitnetForCausalLM, model_type llama, F16 latent, SiLU, inner_attn_ln / ffn_layernorm, Llama-2 SentencePiece; 3B-like widths: rows of 384 and 320) |
 * | `hf1bitllm` | HF1BitLLM/Llama3-8B-1.58-100B-tokens (LlamaForCausalLM, U8 codes ÷ weight_scale, untied BF16 lm_head, duplicated quantization_config key) |
 * | `falcon3`   | tiiuae/Falcon3-*-1.58bit and Falcon-E (modules_to_not_convert lm_head, explicit head_dim, rope_theta 1000042, eps 1e-6) |
 *
 * @module
 */

import { FuzzRng } from "../_fuzz.ts";
import { buildSafetensors, type TensorSpec } from "../safetensors/_build.ts";
import { writeLlama2SpmTokenizer } from "../tokenizer/_imitations.ts";
import type { FamilySemantics, RefModel, RefTensor } from "./_reference_forward.ts";

/** The families. */
export const FAMILY_IDS = ["ms-bf16", "ms-packed", "1bitllm", "hf1bitllm", "falcon3"] as const;
/** One family id. */
export type FamilyId = (typeof FAMILY_IDS)[number];

/** What an imitation wrote. */
export interface Imitation {
  id: FamilyId;
  dir: string;
  /** config.json as JSON.parse reads it (the last of duplicated keys). */
  config: Record<string, unknown>;
  model: RefModel;
  /** "bpe" (the fixture's Llama-3 tokenizer) or "spm" (Llama-2 SentencePiece). */
  tokenizer: "bpe" | "spm";
}

const FIXTURE = "fixtures/tiny-bitnet";

interface Shape {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ff: number;
}

/** Per family: shape, semantics, dtypes, norm gammas (mean, spread) by HF norm name. */
interface FamilyPlan {
  shape: Shape;
  semantics: FamilySemantics;
  /** Dtype of embeddings, norms, lm_head and latent projections. */
  dtype: "BF16" | "F16";
  /** The weight_scale dtype of packed projections. */
  scaleDtype?: "BF16";
  tied: boolean;
  gammas: Record<string, [number, number]>;
  tokenizer: "bpe" | "spm";
  config: (vocab: number, tok: { bos: number; eos: number }) => Record<string, unknown>;
  /** The config.json text (a family whose published file repeats a key). */
  configText?: (config: Record<string, unknown>) => string;
}

const MS_SUB = { attn: "self_attn.attn_sub_norm.weight", ffn: "mlp.ffn_sub_norm.weight" };
const LLAMA_GAMMAS: Record<string, [number, number]> = {
  "input_layernorm.weight": [0.6, 0.3],
  "post_attention_layernorm.weight": [1.2, 0.3],
  "model.norm.weight": [1.5, 0.4],
};

function msConfig(
  quant: Record<string, unknown>,
): (vocab: number, tok: { bos: number; eos: number }) => Record<string, unknown> {
  return (vocab, tok) => ({
    architectures: ["BitNetForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: tok.bos,
    eos_token_id: tok.eos,
    hidden_act: "relu2",
    hidden_size: 256,
    initializer_range: 0.02,
    intermediate_size: 512,
    max_position_embeddings: 512,
    model_type: "bitnet",
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    quantization_config: quant,
    rms_norm_eps: 1e-5,
    rope_theta: 500000.0,
    tie_word_embeddings: true,
    torch_dtype: "bfloat16",
    use_cache: true,
    vocab_size: vocab,
  });
}

const MS_SHAPE: Shape = { hidden: 256, layers: 2, heads: 4, kvHeads: 2, headDim: 64, ff: 512 };
const MS_GAMMAS: Record<string, [number, number]> = {
  // 2B-4T: attn_norm ≈ 0.012–0.027, ffn_norm ≈ 1.1–1.6, sub-norms 0.01 to 3.8.
  "input_layernorm.weight": [0.02, 0.006],
  "post_attention_layernorm.weight": [1.35, 0.2],
  "self_attn.attn_sub_norm.weight": [1.5, 1.2],
  "mlp.ffn_sub_norm.weight": [1.0, 0.8],
  "model.norm.weight": [1.2, 0.3],
};

function llamaBitnetConfig(
  extra: Record<string, unknown>,
): (vocab: number, tok: { bos: number; eos: number }) => Record<string, unknown> {
  return (vocab, tok) => ({
    architectures: ["LlamaForCausalLM"],
    attention_bias: false,
    attention_dropout: 0.0,
    bos_token_id: tok.bos,
    eos_token_id: tok.eos,
    hidden_act: "silu",
    hidden_size: 256,
    initializer_range: 0.02,
    intermediate_size: 512,
    max_position_embeddings: 512,
    mlp_bias: false,
    model_type: "llama",
    num_attention_heads: 4,
    num_hidden_layers: 2,
    num_key_value_heads: 2,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 500000.0,
    tie_word_embeddings: false,
    torch_dtype: "bfloat16",
    use_cache: true,
    vocab_size: vocab,
    ...extra,
  });
}

/** The families' plans. */
const PLANS: Record<FamilyId, FamilyPlan> = {
  "ms-bf16": {
    shape: MS_SHAPE,
    semantics: { activation: "relu2", subNorms: MS_SUB, weights: "latent" },
    dtype: "BF16",
    tied: true,
    gammas: MS_GAMMAS,
    tokenizer: "bpe",
    config: msConfig({
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "online",
    }),
  },
  "ms-packed": {
    shape: MS_SHAPE,
    semantics: { activation: "relu2", subNorms: MS_SUB, weights: "packed-multiply" },
    dtype: "BF16",
    scaleDtype: "BF16",
    tied: true,
    gammas: MS_GAMMAS,
    tokenizer: "bpe",
    config: msConfig({
      quant_method: "bitnet",
      linear_class: "autobitlinear",
      quantization_mode: "offline",
    }),
  },
  "1bitllm": {
    // 1bitLLM-3B has rows of 3200 and 8640: neither a multiple of 256, 8640 not of 128.
    shape: { hidden: 384, layers: 2, heads: 6, kvHeads: 6, headDim: 64, ff: 320 },
    semantics: {
      activation: "silu",
      subNorms: { attn: "self_attn.inner_attn_ln.weight", ffn: "mlp.ffn_layernorm.weight" },
      weights: "latent",
    },
    dtype: "F16",
    tied: true,
    gammas: {
      "input_layernorm.weight": [0.8, 0.3],
      "post_attention_layernorm.weight": [0.9, 0.3],
      "self_attn.inner_attn_ln.weight": [1.0, 0.4],
      "mlp.ffn_layernorm.weight": [1.1, 0.4],
      "model.norm.weight": [1.3, 0.3],
    },
    tokenizer: "spm",
    config: (vocab, tok) => ({
      architectures: ["BitnetForCausalLM"],
      attention_bias: false,
      attention_dropout: 0.0,
      bos_token_id: tok.bos,
      eos_token_id: tok.eos,
      hidden_act: "silu",
      hidden_size: 384,
      initializer_range: 0.02,
      input_bits: 8,
      intermediate_size: 320,
      max_position_embeddings: 512,
      model_type: "llama",
      num_attention_heads: 6,
      num_hidden_layers: 2,
      num_key_value_heads: 6,
      pad_token_id: vocab - 1,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: null,
      rope_theta: 10000.0,
      tie_word_embeddings: true,
      torch_dtype: "float16",
      use_cache: true,
      vocab_size: vocab,
      weight_bits: 1,
    }),
  },
  "hf1bitllm": {
    shape: MS_SHAPE,
    semantics: { activation: "silu", subNorms: null, weights: "packed-divide" },
    dtype: "BF16",
    scaleDtype: "BF16",
    tied: false,
    gammas: LLAMA_GAMMAS,
    tokenizer: "bpe",
    config: llamaBitnetConfig({ quantization_config: { quant_method: "bitnet" } }),
    // A published copy repeats "quantization_config": JSON.parse keeps the last. The first one
    // here would flip the scale convention, so reading the first would fail the tests.
    configText: (c) =>
      JSON.stringify(c, null, 2).replace(
        '  "quantization_config": {',
        '  "quantization_config": {\n    "quant_method": "bitnet",\n    "linear_class": "autobitlinear"\n  },\n  "quantization_config": {',
      ),
  },
  "falcon3": {
    // An explicit head_dim that is not hidden / heads (Falcon3 writes head_dim).
    shape: { hidden: 256, layers: 2, heads: 4, kvHeads: 2, headDim: 96, ff: 512 },
    semantics: { activation: "silu", subNorms: null, weights: "packed-divide" },
    dtype: "BF16",
    scaleDtype: "BF16",
    tied: false,
    gammas: LLAMA_GAMMAS,
    tokenizer: "bpe",
    config: llamaBitnetConfig({
      head_dim: 96,
      quantization_config: { modules_to_not_convert: ["lm_head"], quant_method: "bitnet" },
      rms_norm_eps: 1e-6,
      rope_theta: 1000042,
    }),
  },
};

/** The family's semantics (for mutation checks and docs). */
export function semanticsOf(id: FamilyId): FamilySemantics {
  return PLANS[id].semantics;
}

function bf16Round(v: number): number {
  const f = new Float32Array([v]), u = new Uint32Array(f.buffer);
  u[0] = (u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) & 0xffff0000;
  return f[0]!;
}

/** Values rounded to the dtype, and their bytes. */
function stored(
  values: Float64Array,
  dtype: "BF16" | "F16",
): { v: Float64Array; bytes: Uint8Array } {
  if (dtype === "F16") {
    const h = new Float16Array(values);
    return { v: Float64Array.from(h), bytes: new Uint8Array(h.buffer) };
  }
  const v = values.map(bf16Round);
  const u16 = Uint16Array.from(v, (x) => new Uint32Array(new Float32Array([x]).buffer)[0]! >>> 16);
  return { v, bytes: new Uint8Array(u16.buffer) };
}

/** Gaussian-ish value (sum of three uniforms). */
function gauss(rng: FuzzRng): number {
  return ((rng.u32() + rng.u32() + rng.u32()) / 0x1_0000_0000 - 1.5) * 2;
}

/** Packs trits [out, cols] as transformers' `pack_weights`: row i·R + r → bits 2i of byte [r, c]. */
export function packTrits(trits: Int8Array, out: number, cols: number): Uint8Array {
  const R = Math.ceil(out / 4), bytes = new Uint8Array(R * cols);
  for (let row = 0; row < out; row++) {
    const i = Math.floor(row / R), r = row % R;
    for (let c = 0; c < cols; c++) bytes[r * cols + c]! |= (trits[row * cols + c]! + 1) << (2 * i);
  }
  return bytes;
}

/** Builds the tensors in HF order; returns the safetensors specs and the reference's view. */
function buildTensors(plan: FamilyPlan, vocab: number, rng: FuzzRng) {
  const specs: TensorSpec[] = [], ref = new Map<string, RefTensor>();
  const s = plan.shape, q = s.heads * s.headDim, kv = s.kvHeads * s.headDim;
  const float = (name: string, shape: number[], f: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const { v, bytes } = stored(Float64Array.from({ length: n }, f), plan.dtype);
    specs.push({ name, dtype: plan.dtype, shape, data: bytes });
    ref.set(name, { shape, values: v });
  };
  const gamma = (name: string, key: string, n: number) => {
    const [mean, spread] = plan.gammas[key]!;
    float(name, [n], () => Math.max(mean + spread * gauss(rng) / 2, mean / 10));
  };
  const proj = (name: string, out: number, cols: number) => {
    if (plan.semantics.weights === "latent") {
      return float(name, [out, cols], () => 0.02 * gauss(rng));
    }
    const trits = Int8Array.from({ length: out * cols }, () => (rng.u32() % 3) - 1);
    const factor = 0.012 + (rng.u32() % 1000) / 1e5;
    const ws = plan.semantics.weights === "packed-divide" ? 1 / factor : factor;
    const bytes = packTrits(trits, out, cols);
    specs.push({ name, dtype: "U8", shape: [Math.ceil(out / 4), cols], data: bytes });
    ref.set(name, { shape: [Math.ceil(out / 4), cols], bytes });
    const scale = stored(new Float64Array([ws]), plan.scaleDtype ?? "BF16");
    const scaleName = name.replace(/\.weight$/, ".weight_scale");
    specs.push({
      name: scaleName,
      dtype: plan.scaleDtype ?? "BF16",
      shape: [1],
      data: scale.bytes,
    });
    ref.set(scaleName, { shape: [1], values: scale.v });
  };
  float("model.embed_tokens.weight", [vocab, s.hidden], () => 0.1 * gauss(rng));
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    gamma(p + "input_layernorm.weight", "input_layernorm.weight", s.hidden);
    proj(p + "self_attn.q_proj.weight", q, s.hidden);
    proj(p + "self_attn.k_proj.weight", kv, s.hidden);
    proj(p + "self_attn.v_proj.weight", kv, s.hidden);
    if (plan.semantics.subNorms) {
      const a = plan.semantics.subNorms.attn;
      gamma(p + a, a, q);
    }
    proj(p + "self_attn.o_proj.weight", s.hidden, q);
    gamma(p + "post_attention_layernorm.weight", "post_attention_layernorm.weight", s.hidden);
    proj(p + "mlp.gate_proj.weight", s.ff, s.hidden);
    proj(p + "mlp.up_proj.weight", s.ff, s.hidden);
    if (plan.semantics.subNorms) {
      const f = plan.semantics.subNorms.ffn;
      gamma(p + f, f, s.ff);
    }
    proj(p + "mlp.down_proj.weight", s.hidden, s.ff);
  }
  gamma("model.norm.weight", "model.norm.weight", s.hidden);
  if (!plan.tied) float("lm_head.weight", [vocab, s.hidden], () => 0.1 * gauss(rng));
  return { specs, ref };
}

/** Writes the tokenizer files; returns the vocabulary size and BOS/EOS ids. */
async function writeTokenizer(dir: string, kind: "bpe" | "spm") {
  if (kind === "spm") {
    const t = await writeLlama2SpmTokenizer(dir, {
      addedTokens: [{ content: "<pad>", special: true }],
    });
    return { vocab: t.vocabSize, bos: t.bosId, eos: t.eosId };
  }
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
    await Deno.copyFile(`${FIXTURE}/${f}`, `${dir}/${f}`);
  }
  return { vocab: 2048, bos: 2046, eos: 2047 };
}

/**
 * Writes the imitation of `id` into `dir` (config.json, model.safetensors,
 * tokenizer files) from `seed`.
 *
 * @example
 * ```ts
 * const im = await writeImitation("falcon3", await Deno.makeTempDir(), 1);
 * ```
 */
export async function writeImitation(id: FamilyId, dir: string, seed = 1): Promise<Imitation> {
  const plan = PLANS[id], s = plan.shape;
  await Deno.mkdir(dir, { recursive: true });
  const tok = await writeTokenizer(dir, plan.tokenizer);
  const config = plan.config(tok.vocab, tok);
  const text = plan.configText ? plan.configText(config) : JSON.stringify(config, null, 2);
  await Deno.writeTextFile(`${dir}/config.json`, text);
  const { specs, ref } = buildTensors(plan, tok.vocab, new FuzzRng(seed));
  await Deno.writeFile(`${dir}/model.safetensors`, buildSafetensors(specs, { format: "pt" }));
  const model: RefModel = {
    ...s,
    vocab: tok.vocab,
    eps: config.rms_norm_eps as number,
    ropeTheta: config.rope_theta as number,
    semantics: plan.semantics,
    tensors: ref,
  };
  return { id, dir, config: JSON.parse(text), model, tokenizer: plan.tokenizer };
}
