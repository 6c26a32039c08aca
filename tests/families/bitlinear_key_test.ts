/**
 * The engine applies BitLinear (int8 per-token activations) to a "llama"
 * file's projections exactly when clean_gguf.bitlinear_projections lists them,
 * and never otherwise: the same ternary tensors without the key run as a plain
 * float Llama (checked against the float64 Llama reference), with the key as
 * the transformers BitLinear semantics (checked against the family reference);
 * a kind left out of the list stays float, and the quantizer leaves it so.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { FuzzRng } from "../_fuzz.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import { hfForward, permuteRows } from "../inference/_hf_reference.ts";
import { type TensorToWrite, writeModelGguf } from "../inference/_gguf_builder.ts";
import { packTrits } from "./_imitations.ts";
import { quantizeGguf } from "../../lib/quantize/quantize.ts";
import { referenceForward, type RefModel, type RefTensor } from "./_reference_forward.ts";

const M = { hidden: 128, layers: 2, heads: 4, kvHeads: 2, headDim: 32, ff: 128, vocab: 50 };
const PROMPT = [3, 17, 42, 8, 8, 29, 1, 49];
const KINDS = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"];
const HF: Record<string, string> = {
  attn_q: "self_attn.q_proj",
  attn_k: "self_attn.k_proj",
  attn_v: "self_attn.v_proj",
  attn_output: "self_attn.o_proj",
  ffn_gate: "mlp.gate_proj",
  ffn_up: "mlp.up_proj",
  ffn_down: "mlp.down_proj",
};

/** A random ternary Llama: HF float values, packed codes + scales, and the GGUF tensors. */
function model(seed: number) {
  const rng = new FuzzRng(seed), q = M.heads * M.headDim, kv = M.kvHeads * M.headDim;
  const rand = (n: number, s: number, o = 0) =>
    Float32Array.from({ length: n }, () => o + s * ((rng.u32() / 0x1_0000_0000) * 2 - 1));
  const hf = new Map<string, Float32Array>(), ref = new Map<string, RefTensor>();
  const gguf: TensorToWrite[] = [];
  const float = (hfName: string, ggufName: string, shape: number[], v: Float32Array) => {
    hf.set(hfName, v);
    ref.set(hfName, { shape, values: Float64Array.from(v) });
    gguf.push({ name: ggufName, shape, type: GgmlType.F32, values: v });
  };
  float(
    "model.embed_tokens.weight",
    "token_embd.weight",
    [M.vocab, M.hidden],
    rand(M.vocab * M.hidden, 0.5),
  );
  const shapes: Record<string, [number, number]> = {
    attn_q: [q, M.hidden],
    attn_k: [kv, M.hidden],
    attn_v: [kv, M.hidden],
    attn_output: [M.hidden, q],
    ffn_gate: [M.ff, M.hidden],
    ffn_up: [M.ff, M.hidden],
    ffn_down: [M.hidden, M.ff],
  };
  for (let l = 0; l < M.layers; l++) {
    const p = `model.layers.${l}.`, b = `blk.${l}.`;
    float(p + "input_layernorm.weight", b + "attn_norm.weight", [M.hidden], rand(M.hidden, 0.2, 1));
    float(
      p + "post_attention_layernorm.weight",
      b + "ffn_norm.weight",
      [M.hidden],
      rand(M.hidden, 0.2, 1),
    );
    for (const kind of KINDS) {
      const [rows, cols] = shapes[kind]!;
      const trits = Int8Array.from({ length: rows * cols }, () => (rng.u32() % 3) - 1);
      const factor = Math.fround(0.05 + (rng.u32() % 100) / 2000);
      const w = Float32Array.from(trits, (t) => t * factor);
      const name = `${p}${HF[kind]}.weight`;
      hf.set(name, w);
      ref.set(name, { shape: [Math.ceil(rows / 4), cols], bytes: packTrits(trits, rows, cols) });
      ref.set(name + "_scale", { shape: [1], values: new Float64Array([factor]) });
      const heads = kind === "attn_q" ? M.heads : kind === "attn_k" ? M.kvHeads : 0;
      const v = heads ? permuteRows(w, heads, rows, cols) : w;
      gguf.push({ name: `${b}${kind}.weight`, shape: [rows, cols], type: GgmlType.F32, values: v });
    }
  }
  float("model.norm.weight", "output_norm.weight", [M.hidden], rand(M.hidden, 0.2, 1));
  float("lm_head.weight", "output.weight", [M.vocab, M.hidden], rand(M.vocab * M.hidden, 0.5));
  return { hf, ref, gguf };
}

async function engineLogits(path: string): Promise<Float32Array[]> {
  const g = await openGguf(path);
  const engine = await InferenceEngine.load(g, { backend: "reference" });
  try {
    const all = engine.forwardAll(PROMPT);
    return PROMPT.map((_, t) => all.slice(t * M.vocab, (t + 1) * M.vocab));
  } finally {
    engine.close();
    g.close();
  }
}

function maxDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let d = 0;
  a.forEach((row, t) => {
    for (let i = 0; i < row.length; i++) d = Math.max(d, Math.abs(row[i]! - b[t]![i]!));
  });
  return d;
}

Deno.test("clean_gguf.bitlinear_projections: BitLinear where listed, float Llama without it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = model(17);
    const write = (name: string, kinds: string[] | null) =>
      writeModelGguf(join(dir, name), {
        arch: "llama",
        hparams: {
          contextLength: 64,
          embeddingLength: M.hidden,
          blockCount: M.layers,
          feedForwardLength: M.ff,
          headCount: M.heads,
          headCountKv: M.kvHeads,
          rmsEps: 1e-5,
          ropeFreqBase: 10000,
          vocabSize: M.vocab,
        },
        tensors: m.gguf,
        ...(kinds
          ? { extra: (w) => w.addStringArray("clean_gguf.bitlinear_projections", kinds) }
          : {}),
      });
    await write("plain.gguf", null);
    await write("bitlinear.gguf", KINDS);
    await write("no-down.gguf", KINDS.filter((k) => k !== "ffn_down"));
    const shape = { family: "llama" as const, ...M, eps: 1e-5, ropeTheta: 10000 };
    const floatLlama = hfForward(m.hf, { ...shape, kvHeads: M.kvHeads }, PROMPT);
    const refModel: RefModel = {
      ...M,
      eps: 1e-5,
      ropeTheta: 10000,
      semantics: { activation: "silu", subNorms: null, weights: "packed-multiply" },
      tensors: m.ref,
    };
    const bitlinear = referenceForward(refModel, PROMPT);
    const plain = await engineLogits(join(dir, "plain.gguf"));
    const quant = await engineLogits(join(dir, "bitlinear.gguf"));
    const noDown = await engineLogits(join(dir, "no-down.gguf"));
    const d = {
      plainVsFloat: maxDiff(plain, floatLlama),
      keyVsBitlinear: maxDiff(quant, bitlinear),
      floatVsBitlinear: maxDiff(floatLlama, bitlinear),
      keyVsFloat: maxDiff(quant, floatLlama),
    };
    // Without the key: the float Llama to rounding; with it: the BitLinear model, and the two
    // semantics are far enough apart for this to tell them apart.
    assert.ok(d.plainVsFloat < 2e-4, JSON.stringify(d));
    assert.ok(d.keyVsBitlinear < d.floatVsBitlinear / 10, JSON.stringify(d));
    assert.ok(d.keyVsFloat > 10 * d.plainVsFloat, JSON.stringify(d));
    const a = maxDiff(noDown, quant), b = maxDiff(noDown, plain);
    assert.ok(a > 10 * d.keyVsBitlinear && b > 10 * d.plainVsFloat, "a kind left out stays float");
    // The quantizer leaves a kind the key does not list as the float layer it is.
    const q = await quantizeGguf({ input: join(dir, "no-down.gguf"), type: "i2_s" });
    for (
      const t of q.meta.tensors.filter((t) =>
        /^blk\.\d+\.(attn_[qkv]|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$/.test(t.gguf_name)
      )
    ) {
      const down = t.gguf_name.endsWith("ffn_down.weight");
      assert.equal(t.gguf_type, down ? "F32" : "I2_S", t.gguf_name);
      if (down) assert.match(t.action, /rule float_layer/);
    }
    assert.ok(maxDiff(await engineLogits(q.ggufPath), noDown) < 1e-4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
