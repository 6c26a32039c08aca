/**
 * THE acceptance test: the trained fixture exported to GGUF runs in the engine
 * like the PyTorch reference (reference.json, computed from the safetensors):
 * for every prompt, the greedy ids over the reference's stable prefix, the
 * top-1 id at the last prompt position, and the reference's top-10 logits
 * within 0.1. For exports in F16, F32 and BF16; for master weights written
 * as is (ternarized at load); and for projections packed as TQ2_0, TQ1_0 and
 * I2_S; on the wasm backend, and the main cases on the reference backend too.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { exportCleanGguf } from "../../lib/export/export.ts";
import { type GgufFile, openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType, GgufValueType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";
import { SafetensorsCheckpoint } from "../../lib/safetensors/reader.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { packI2S } from "../../lib/codecs/i2s.ts";
import { packTrits } from "../../lib/codecs/table.ts";
import type { BackendName } from "../../lib/inference/backend.ts";
import { InferenceEngine } from "../../lib/inference/engine.ts";
import { ternaryWeights } from "../../lib/inference/weights.ts";
import { assertMatchesReference, reference } from "../_reference.ts";

const FIXTURE = "fixtures/tiny-bitnet";

const BACKENDS: BackendName[] = ["wasm", "reference"];

const tmp = await Deno.makeTempDir({ prefix: "inference-fixture-" });
const built = new Map<string, Promise<string>>();
/** Each GGUF variant is built once, on first use. */
function variant(name: string, build: (path: string) => Promise<string>): Promise<string> {
  let p = built.get(name);
  if (!p) built.set(name, p = build(join(tmp, `${name}.gguf`)));
  return p;
}

const exported = (outType: "f16" | "f32" | "bf16", archName = "bitnet-b1.58") =>
  variant(`${outType}-${archName}`, async () => {
    const outDir = join(tmp, `${outType}-${archName}`);
    return (await exportCleanGguf({ modelDir: FIXTURE, outDir, outType, archName, quiet: true }))
      .ggufPath;
  });

/** Copies every scalar key of `g` (arrays such as the vocabulary are not needed to run). */
function copyScalarKeys(g: GgufFile, w: GgufWriter): void {
  for (const kv of g.metadata.values()) {
    if (kv.key === "general.alignment") continue;
    const v = kv.value;
    switch (kv.type) {
      case GgufValueType.UINT32:
        w.addU32(kv.key, Number(v));
        break;
      case GgufValueType.INT32:
        w.add(kv.key, GgufValueType.INT32, Number(v));
        break;
      case GgufValueType.FLOAT32:
        w.addF32(kv.key, Number(v));
        break;
      case GgufValueType.STRING:
        w.addString(kv.key, String(v));
        break;
      case GgufValueType.BOOL:
        w.addBool(kv.key, Boolean(v));
        break;
    }
  }
}

async function writeFile(path: string, w: GgufWriter, payloads: Uint8Array[]): Promise<string> {
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (c) => {
        for (let done = 0; done < c.length;) done += await file.write(c.subarray(done));
      },
    }, (_, i) => payloads[i]!);
  } finally {
    file.close();
  }
  return path;
}

const PACKERS = {
  TQ2_0: {
    type: GgmlType.TQ2_0,
    pack: (t: Int8Array, s: number) => packTrits(GgmlType.TQ2_0, t, s),
  },
  TQ1_0: {
    type: GgmlType.TQ1_0,
    pack: (t: Int8Array, s: number) => packTrits(GgmlType.TQ1_0, t, s),
  },
  I2_S: { type: GgmlType.I2_S, pack: packI2S },
} as const;

/** The F16 export with every 2-D projection repacked as a ternary type. */
const packed = (kind: keyof typeof PACKERS) =>
  variant(kind, async (path) => {
    const g = await openGguf(await exported("f16"));
    try {
      const w = new GgufWriter();
      copyScalarKeys(g, w);
      const payloads: Uint8Array[] = [];
      for (const t of g.tensors) {
        const bytes = await g.readTensor(t);
        if (/^blk\.\d+\.(attn_[qkvo]|attn_output|ffn_(gate|up|down))\.weight$/.test(t.name)) {
          const [rows, cols] = t.shape as [number, number];
          const { trits, scale } = ternaryWeights(t.type, bytes, rows, cols, t.name);
          w.addTensorInfo(t.name, t.shape, PACKERS[kind].type);
          payloads.push(PACKERS[kind].pack(trits, scale, t.name));
        } else {
          w.addTensorInfo(t.name, t.shape, t.type);
          payloads.push(bytes);
        }
      }
      return await writeFile(path, w, payloads);
    } finally {
      g.close();
    }
  });

/** The BF16 master weights copied byte for byte (no ternarization at export). */
const masterWeights = () =>
  variant("master-bf16", async (path) => {
    const g = await openGguf(await exported("bf16"));
    const ckpt = await SafetensorsCheckpoint.open(FIXTURE);
    try {
      const hfName = (gguf: string): string => {
        const m = /^blk\.(\d+)\.(\w+)\.weight$/.exec(gguf);
        if (gguf === "token_embd.weight") return "model.embed_tokens.weight";
        if (gguf === "output_norm.weight") return "model.norm.weight";
        const names: Record<string, string> = {
          attn_norm: "input_layernorm",
          attn_q: "self_attn.q_proj",
          attn_k: "self_attn.k_proj",
          attn_v: "self_attn.v_proj",
          attn_output: "self_attn.o_proj",
          attn_sub_norm: "self_attn.attn_sub_norm",
          ffn_norm: "post_attention_layernorm",
          ffn_gate: "mlp.gate_proj",
          ffn_up: "mlp.up_proj",
          ffn_down: "mlp.down_proj",
          ffn_sub_norm: "mlp.ffn_sub_norm",
        };
        return `model.layers.${m![1]}.${names[m![2]!]}.weight`;
      };
      const w = new GgufWriter();
      copyScalarKeys(g, w);
      const payloads: Uint8Array[] = [];
      for (const t of g.tensors) {
        const src = ckpt.get(hfName(t.name));
        assert.equal(src.dtype, "BF16");
        assert.deepEqual(src.shape, t.shape);
        w.addTensorInfo(t.name, t.shape, GgmlType.BF16);
        payloads.push(await ckpt.read(src.name));
      }
      return await writeFile(path, w, payloads);
    } finally {
      ckpt.close();
      g.close();
    }
  });

async function checkAgainstReference(
  path: string,
  backend: BackendName,
  expectTernarizedAtLoad: number,
): Promise<void> {
  const g = await openGguf(path);
  const engine = await InferenceEngine.load(g, { backend });
  try {
    assert.equal(engine.hparams.family, "bitnet");
    assert.equal(engine.hparams.tied, true);
    assert.equal(engine.ternarizedAtLoad.length, expectTernarizedAtLoad);
    assertMatchesReference(engine, `${path} [${backend}]`);
  } finally {
    engine.close();
    g.close();
  }
}

/** [label, GGUF, projections ternarized at load, also on the (slow) reference backend]. */
const CASES: Array<[string, () => Promise<string>, number, boolean]> = [
  ["export F16", () => exported("f16"), 0, true],
  ["export F32", () => exported("f32"), 0, false],
  ["export BF16", () => exported("bf16"), 0, false],
  ["export F16, arch name bitnet", () => exported("f16", "bitnet"), 0, false],
  ["export F16, arch name bitnet-25", () => exported("f16", "bitnet-25"), 0, false],
  ["BF16 master weights (ternarized at load)", masterWeights, 28, true],
  ["TQ2_0 projections", () => packed("TQ2_0"), 0, false],
  ["TQ1_0 projections", () => packed("TQ1_0"), 0, false],
  ["I2_S projections", () => packed("I2_S"), 0, false],
];

for (const backend of BACKENDS) {
  for (const [label, path, ternarized, onReference] of CASES) {
    if (backend === "reference" && !onReference) continue;
    Deno.test(`fixture ${label} [${backend}]: matches the PyTorch reference`, async () => {
      await checkAgainstReference(await path(), backend, ternarized);
    });
  }
}

Deno.test("fixture: prompt ids from text equal reference.json's prompt_ids", async () => {
  const tok = await TextTokenizer.load({ tokenizerJsonPath: `${FIXTURE}/tokenizer.json` });
  for (const p of reference.prompts) assert.deepEqual(tok.encode(p.prompt), p.prompt_ids);
});

Deno.test("fixture: nll is the mean −log softmax of forwardAll, and low on corpus-like text", async () => {
  const g = await openGguf(await exported("f16"));
  const engine = await InferenceEngine.load(g, { backend: BACKENDS[0]!, batchSize: 5 });
  try {
    const p = reference.prompts[1]!;
    const ids = [...p.prompt_ids, ...p.bitnet.greedy_ids];
    const vocab = engine.hparams.vocabSize;
    const all = engine.forwardAll(ids);
    let sum = 0;
    for (let i = 0; i + 1 < ids.length; i++) {
      const row = all.subarray(i * vocab, (i + 1) * vocab);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      sum += lse - row[ids[i + 1]!]!;
    }
    const { meanNll, tokens } = engine.nll(ids);
    assert.equal(tokens, ids.length - 1);
    assert.ok(Math.abs(meanNll - sum / tokens) < 1e-9);
    // The greedy continuation of a capital prompt is what the model predicts: far below
    // the uniform distribution's log(2048) ≈ 7.6 nats.
    assert.ok(meanNll < 1.5, `mean nll ${meanNll}`);
    // Reversed, the same tokens are much less likely.
    assert.ok(engine.nll([ids[0]!, ...ids.slice(1).reverse()]).meanNll > meanNll + 2);
  } finally {
    engine.close();
    g.close();
  }
});

Deno.test("fixture: generate after nll with keep goes on bit for bit as from an empty cache", async () => {
  const g = await openGguf(await exported("f16"));
  // Batches of 5: the kept rows come from every place in a batch, odd last rows included.
  const engine = await InferenceEngine.load(g, { backend: BACKENDS[0]!, batchSize: 5 });
  try {
    const p = reference.prompts[1]!;
    // A passage the model follows (its own greedy continuation), then ids it does not.
    const passage = [...p.prompt_ids, ...p.bitnet.greedy_ids.slice(0, 6), 300, 301, 302];
    const follow = p.prompt_ids.length + 6;
    for (let n = 1; n <= follow + 2; n++) {
      const prompt = passage.slice(0, n);
      for (const sampling of [undefined, { temperature: 0.9, seed: 7 }]) {
        const opts = { maxTokens: 5, ...(sampling ? { sampling } : {}) };
        const fresh = engine.generate(prompt, opts);
        const freshPos = engine.position;
        const nll = engine.nll(passage);
        assert.deepEqual(engine.nll(passage, { keep: { promptLength: n, maxTokens: 5 } }), nll);
        const continued = engine.generate(prompt, opts);
        const at = `prompt of ${n}, ${sampling ? "sampled" : "greedy"}`;
        assert.deepEqual(continued.ids, fresh.ids, at);
        assert.deepEqual(continued.promptLogits, fresh.promptLogits, at);
        assert.equal(engine.position, freshPos, at);
      }
    }
    // Another run in between drops what nll kept: the next generate starts afresh.
    const prompt = passage.slice(0, 4);
    const fresh = engine.generate(prompt, { maxTokens: 3 });
    engine.nll(passage, { keep: { promptLength: 4, maxTokens: 3 } });
    engine.forward([5]);
    assert.deepEqual(engine.generate(prompt, { maxTokens: 3 }).promptLogits, fresh.promptLogits);
    // A prompt that is not the kept prefix runs from an empty cache.
    engine.nll(passage, { keep: { promptLength: 4, maxTokens: 3 } });
    const other = [passage[0]!, 9, 10, 11];
    const want = engine.generate(other, { maxTokens: 3 });
    engine.nll(passage, { keep: { promptLength: 4, maxTokens: 3 } });
    const got = engine.generate(other, { maxTokens: 3 });
    assert.deepEqual([got.ids, got.promptLogits], [want.ids, want.promptLogits]);
    assert.throws(
      () => engine.nll(passage, { keep: { promptLength: 0, maxTokens: 1 } }),
      /promptLength/,
    );
  } finally {
    engine.close();
    g.close();
  }
});

Deno.test({
  name: "fixture: clean up",
  fn: async () => {
    await Promise.allSettled(built.values());
    await Deno.remove(tmp, { recursive: true });
  },
});
