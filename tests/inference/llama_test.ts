/**
 * A random Llama model written as GGUF with q/k rows permuted as llama.cpp's
 * converter does (FORMATS.md §3) runs in the engine with adjacent-pair RoPE,
 * and its logits equal an independent float64 HF computation (rotate_half
 * RoPE on the UNpermuted weights). This is what proves that permutation +
 * adjacent pairs = HF semantics.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FuzzRng } from "../_fuzz.ts";
import { randomValues, writeRandomLlama } from "../_models.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import { codecOf } from "../../lib/codecs/table.ts";
import { encodeFloats, type TensorToWrite, writeModelGguf } from "./_gguf_builder.ts";
import { hfForward, type HfShape, permuteRows } from "./_hf_reference.ts";

const SHAPE: HfShape = {
  family: "llama",
  hidden: 64,
  layers: 2,
  heads: 4,
  kvHeads: 2,
  ff: 96,
  vocab: 50,
  eps: 1e-5,
  ropeTheta: 10000,
};
const PROMPT = [3, 17, 42, 8, 8, 29, 1, 49, 0, 33];

/** HF-named random weights, rounded to what `type` stores. */
function randomHfWeights(
  seed: number,
  type: GgmlType,
): Map<string, { shape: number[]; values: Float32Array }> {
  const rng = new FuzzRng(seed), m = SHAPE, headDim = m.hidden / m.heads;
  const w = new Map<string, { shape: number[]; values: Float32Array }>();
  const add = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const stored = encodeFloats(randomValues(rng, n, scale, offset), type);
    w.set(name, { shape, values: codecOf(type).decode(stored, n, name) });
  };
  add("model.embed_tokens.weight", [m.vocab, m.hidden], 0.5);
  for (let l = 0; l < m.layers; l++) {
    const p = `model.layers.${l}.`;
    add(p + "input_layernorm.weight", [m.hidden], 0.1, 1);
    add(p + "self_attn.q_proj.weight", [m.heads * headDim, m.hidden], 0.2);
    add(p + "self_attn.k_proj.weight", [m.kvHeads * headDim, m.hidden], 0.2);
    add(p + "self_attn.v_proj.weight", [m.kvHeads * headDim, m.hidden], 0.2);
    add(p + "self_attn.o_proj.weight", [m.hidden, m.heads * headDim], 0.2);
    add(p + "post_attention_layernorm.weight", [m.hidden], 0.1, 1);
    add(p + "mlp.gate_proj.weight", [m.ff, m.hidden], 0.2);
    add(p + "mlp.up_proj.weight", [m.ff, m.hidden], 0.2);
    add(p + "mlp.down_proj.weight", [m.hidden, m.ff], 0.15);
  }
  add("model.norm.weight", [m.hidden], 0.1, 1);
  add("lm_head.weight", [m.vocab, m.hidden], 0.3);
  return w;
}

/** The GGUF tensors: HF → GGUF names, q/k permuted. */
function ggufTensors(
  hf: Map<string, { shape: number[]; values: Float32Array }>,
  type: GgmlType,
  tied: boolean,
): TensorToWrite[] {
  const m = SHAPE;
  const t = (name: string, from: string, permuteHeads = 0): TensorToWrite => {
    const { shape, values } = hf.get(from)!;
    const isNorm = shape.length === 1;
    const v = permuteHeads ? permuteRows(values, permuteHeads, shape[0]!, shape[1]!) : values;
    return { name, shape, type: isNorm ? GgmlType.F32 : type, values: v };
  };
  const out = [t("token_embd.weight", "model.embed_tokens.weight")];
  for (let l = 0; l < m.layers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    out.push(
      t(b + "attn_norm.weight", p + "input_layernorm.weight"),
      t(b + "attn_q.weight", p + "self_attn.q_proj.weight", m.heads),
      t(b + "attn_k.weight", p + "self_attn.k_proj.weight", m.kvHeads),
      t(b + "attn_v.weight", p + "self_attn.v_proj.weight"),
      t(b + "attn_output.weight", p + "self_attn.o_proj.weight"),
      t(b + "ffn_norm.weight", p + "post_attention_layernorm.weight"),
      t(b + "ffn_gate.weight", p + "mlp.gate_proj.weight"),
      t(b + "ffn_up.weight", p + "mlp.up_proj.weight"),
      t(b + "ffn_down.weight", p + "mlp.down_proj.weight"),
    );
  }
  out.push(t("output_norm.weight", "model.norm.weight"));
  if (!tied) out.push(t("output.weight", "lm_head.weight"));
  return out;
}

function valuesOf(
  hf: Map<string, { values: Float32Array }>,
  tied: boolean,
): Map<string, Float32Array> {
  const w = new Map([...hf].map(([k, v]) => [k, v.values]));
  if (tied) w.delete("lm_head.weight");
  return w;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

const VARIANTS = [
  [GgmlType.F32, false, "reference"],
  [GgmlType.F16, true, "reference"],
  [GgmlType.BF16, false, "reference"],
  [GgmlType.F32, true, "wasm"],
  [GgmlType.F16, false, "wasm"],
  [GgmlType.BF16, true, "wasm"],
] as const;

for (const [type, tied, backend] of VARIANTS) {
  Deno.test(`llama ${type === 0 ? "F32" : type === 1 ? "F16" : "BF16"}${tied ? " tied" : ""} [${backend}]: permuted q/k + adjacent-pair RoPE equal HF rotate_half in float64`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const hf = randomHfWeights(7 + type, type);
      const path = join(dir, "llama.gguf");
      await writeModelGguf(path, {
        arch: "llama",
        hparams: {
          contextLength: 32,
          embeddingLength: SHAPE.hidden,
          blockCount: SHAPE.layers,
          feedForwardLength: SHAPE.ff,
          headCount: SHAPE.heads,
          headCountKv: SHAPE.kvHeads,
          rmsEps: SHAPE.eps,
          ropeFreqBase: SHAPE.ropeTheta,
          vocabSize: SHAPE.vocab,
        },
        tensors: ggufTensors(hf, type, tied),
      });
      const expected = hfForward(valuesOf(hf, tied), SHAPE, PROMPT);
      const g = await openGguf(path);
      // Batches of 3 so that the prompt spans several matrix × matrix batches.
      const engine = await InferenceEngine.load(g, { backend, batchSize: 3 });
      try {
        assert.equal(engine.hparams.family, "llama");
        assert.equal(engine.hparams.tied, tied);
        // F16 output: the default int8 head, the F16 matrix read from the file (tied or not).
        assert.equal(engine.int8Head, type === GgmlType.F16);
        const all = engine.forwardAll(PROMPT);
        for (let t = 0; t < PROMPT.length; t++) {
          const row = all.subarray(t * SHAPE.vocab, (t + 1) * SHAPE.vocab);
          const d = maxAbsDiff(row, expected[t]!);
          assert.ok(d < 2e-4, `position ${t}: max |Δlogit| ${d}`);
        }
        // One token at a time through the KV cache gives the same last logits.
        engine.reset();
        let last = new Float32Array();
        for (const id of PROMPT) last = engine.forward([id]);
        assert.ok(maxAbsDiff(last, expected.at(-1)!) < 2e-4);
        // The magnitudes are not trivially small (the check would be vacuous otherwise).
        assert.ok(Math.max(...expected.at(-1)!.map(Math.abs)) > 0.5);
      } finally {
        engine.close();
        g.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("llama: a checkpoint exported by exportCleanGguf runs like HF in float64", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = await writeRandomLlama(join(dir, "hf"), { seed: 11, layers: 2 });
    const { ggufPath } = await exportCleanGguf({
      modelDir: model.dir,
      outDir: join(dir, "out"),
      outType: "f32",
      quiet: true,
    });
    const c = model.config as Record<string, number>;
    const shape: HfShape = {
      family: "llama",
      hidden: c.hidden_size!,
      layers: c.num_hidden_layers!,
      heads: c.num_attention_heads!,
      kvHeads: c.num_key_value_heads!,
      ff: c.intermediate_size!,
      vocab: c.vocab_size!,
      eps: c.rms_norm_eps!,
      ropeTheta: c.rope_theta!,
    };
    const weights = new Map([...model.tensors].map(([k, v]) => [k, v.values]));
    const prompt = [2046, 5, 900, 1500, 77, 2000];
    const expected = hfForward(weights, shape, prompt);
    const g = await openGguf(ggufPath);
    const engine = await InferenceEngine.load(g, { backend: "reference" });
    try {
      const last = engine.forward(prompt);
      const d = maxAbsDiff(last, expected.at(-1)!);
      assert.ok(d < 2e-4, `max |Δlogit| ${d}`);
    } finally {
      engine.close();
      g.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
