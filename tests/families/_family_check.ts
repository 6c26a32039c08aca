/**
 * The checks every family test runs on its imitation (issue 10's acceptance):
 * the export's tensors against values recomputed here; the probe's top-10
 * logits (within 0.1) and greedy ids over the stable prefix against the
 * float64 reference (_reference_forward.ts); the same after I2_S, TQ2_0 and
 * TQ1_0; gates 1 and 2 pass and gate 3 runs with the family's tokenizer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { exportCleanGguf, type ExportResult } from "../../lib/export/export.ts";
import { openGguf } from "../../lib/gguf/reader.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { runProbe } from "../../lib/inference/probe.ts";
import { quantizeGguf, type QuantizeResult } from "../../lib/quantize/quantize.ts";
import { validateGguf } from "../../lib/validate/validate.ts";
import { verifyGguf } from "../../lib/provenance/verify.ts";
import { TextTokenizer } from "../../lib/tokenizer/tokenizer.ts";
import { permuteRows } from "../inference/_hf_reference.ts";
import type { Imitation } from "./_imitations.ts";
import { referenceGreedy, type RefModel, ternaryWeight } from "./_reference_forward.ts";

/** Logits may differ at activation-rounding boundaries (docs/reference/formats.md). */
export const LOGIT_TOLERANCE = 0.1;
/** Greedy ids are compared while the reference's top-1/top-2 gap is at least this. */
const CLEAR_GAP = 0.2;
// Each family test picks a seed whose reference path has a clear prefix of at least two ids.
/** The probe's prompt: the fixture's default, in every family's tokenizer. */
export const PROMPT = "The capital of France is";
const STEPS = 6;

/** HF name → GGUF name (issue 10's families all use the Llama names). */
const HF_TO_GGUF: Array<[RegExp, string]> = [
  [/^model\.embed_tokens\.weight$/, "token_embd.weight"],
  [/^model\.norm\.weight$/, "output_norm.weight"],
  [/^lm_head\.weight$/, "output.weight"],
  [/input_layernorm/, "attn_norm"],
  [/post_attention_layernorm/, "ffn_norm"],
  [/self_attn\.(attn_sub_norm|inner_attn_ln)/, "attn_sub_norm"],
  [/mlp\.(ffn_sub_norm|ffn_layernorm)/, "ffn_sub_norm"],
  [/self_attn\.q_proj/, "attn_q"],
  [/self_attn\.k_proj/, "attn_k"],
  [/self_attn\.v_proj/, "attn_v"],
  [/self_attn\.o_proj/, "attn_output"],
  [/mlp\.gate_proj/, "ffn_gate"],
  [/mlp\.up_proj/, "ffn_up"],
  [/mlp\.down_proj/, "ffn_down"],
];

function ggufName(hf: string): string {
  const layer = /^model\.layers\.(\d+)\./.exec(hf);
  for (const [re, name] of HF_TO_GGUF) {
    if (re.test(hf)) return layer ? `blk.${layer[1]}.${name}.weight` : name;
  }
  throw new Error(`no GGUF name for ${hf}`);
}

/** The f16 rounding of a value (round to nearest even, as IEEE says). */
const f16 = (v: number) => new Float16Array([v])[0]!;
/** A factor as the export computes it in f32, then stores it in f16. */
const f16OfF32 = (v: number) => f16(Math.fround(v));

async function readValues(path: string, name: string): Promise<Float64Array> {
  const g = await openGguf(path);
  try {
    const t = g.tensor(name), bytes = (await g.readTensor(t)).slice();
    if (t.type === GgmlType.F32) return Float64Array.from(new Float32Array(bytes.buffer));
    if (t.type === GgmlType.F16) return Float64Array.from(new Float16Array(bytes.buffer));
    throw new Error(`${name}: unexpected type ${t.type}`);
  } finally {
    g.close();
  }
}

/** Rows of the projections whose q/k the family permutes for llama.cpp (Llama GGUFs). */
function expectedProjection(m: RefModel, hf: string, permuted: boolean): Float64Array {
  const kind = HF_TO_GGUF.find(([re]) => re.test(hf))![1];
  const rows = {
    attn_q: m.heads * m.headDim,
    attn_k: m.kvHeads * m.headDim,
    attn_v: m.kvHeads * m.headDim,
    attn_output: m.hidden,
    ffn_gate: m.ff,
    ffn_up: m.ff,
    ffn_down: m.hidden,
  }[kind]!;
  const cols = kind === "attn_output" ? m.heads * m.headDim : kind === "ffn_down" ? m.ff : m.hidden;
  const { trits, factor } = ternaryWeight(m, hf, rows, cols);
  const w = trits.map((t) => t * factor);
  if (!permuted || (kind !== "attn_q" && kind !== "attn_k")) return w;
  return Float64Array.from(permuteRows(w, kind === "attn_q" ? m.heads : m.kvHeads, rows, cols));
}

/**
 * Exports the imitation (F16 weights, F32 norms) and checks every tensor
 * against the values recomputed from the checkpoint: embeddings and lm_head
 * f16 of the source, norms exact, projections trit·factor with the family's
 * scale convention (q/k rows permuted for Llama GGUFs), within the f16 rounding.
 */
export async function checkExport(
  im: Imitation,
  outDir: string,
  llamaGguf: boolean,
  outType: "f16" | "f32" = "f16",
) {
  const r = await exportCleanGguf({ modelDir: im.dir, outDir, quiet: true, outType });
  for (const [hf, t] of im.model.tensors) {
    if (hf.endsWith(".weight_scale")) continue;
    const name = ggufName(hf), got = await readValues(r.ggufPath, name);
    if (/_proj\.weight$/.test(hf)) {
      const want = expectedProjection(im.model, hf, llamaGguf);
      assert.equal(got.length, want.length, name);
      for (let i = 0; i < want.length; i++) {
        const ok = Math.sign(got[i]!) === Math.sign(want[i]!) &&
          Math.abs(got[i]! - want[i]!) <=
            Math.abs(want[i]!) * (outType === "f32" ? 2 ** -22 : 2 ** -10);
        if (!ok) assert.fail(`${name}[${i}] is ${got[i]}, recomputed ${want[i]}`);
      }
    } else {
      const want = t.shape.length === 1 || outType === "f32" ? t.values! : t.values!.map(f16);
      assert.deepEqual(got, want, name);
    }
  }
  return r;
}

/** The GGUF's keys that carry the family's semantics. */
export async function ggufKeys(path: string): Promise<Record<string, unknown>> {
  const g = await openGguf(path);
  try {
    return Object.fromEntries([...g.metadata].map(([key, kv]) => [key, kv.value]));
  } finally {
    g.close();
  }
}

/**
 * The reference's greedy run on the prompt as the family's tokenizer encodes
 * it: with the exact per-tensor factors (transformers), or with each factor
 * rounded as a file storing it in f16 does (an F16 GGUF's ±s; TQ's d; I2_S
 * quantized from F16). The AQ step function makes these imitations sensitive:
 * rounding every factor to f16 (relative 2⁻¹¹) moves their logits by up to
 * ~0.17, so each file is held to the reference of the scales it can store.
 */
export async function referenceRun(im: Imitation, scales: "exact" | "f16" = "exact") {
  const tok = await TextTokenizer.load({ tokenizerJsonPath: join(im.dir, "tokenizer.json") });
  const promptIds = tok.encode(PROMPT);
  const model = scales === "exact" ? im.model : { ...im.model, roundFactor: f16OfF32 };
  const greedy = referenceGreedy(model, promptIds, STEPS);
  return { promptIds, greedyIds: greedy.ids, gaps: greedy.gaps, promptLogits: greedy.promptLogits };
}

/**
 * Runs the probe on `path` and checks it against the reference: the prompt's
 * ids, the reference's top-10 logits within 0.1, the greedy ids while the
 * reference's gap is clear (at least two of them, or the test proves nothing).
 */
export async function checkProbe(
  path: string,
  ref: Awaited<ReturnType<typeof referenceRun>>,
  where: string,
) {
  const vocab = ref.promptLogits.length;
  const out = await runProbe({
    modelPath: path,
    prompt: PROMPT,
    maxTokens: STEPS,
    topLogits: vocab,
    ignoreEos: true,
  });
  assert.deepEqual(out.prompt_ids, ref.promptIds, `${where}: prompt ids`);
  const logit = new Map(out.top_logits.map((t) => [t.id, t.logit]));
  const order = [...ref.promptLogits.keys()].sort((a, b) =>
    ref.promptLogits[b]! - ref.promptLogits[a]!
  );
  for (const id of order.slice(0, 10)) {
    const d = Math.abs(logit.get(id)! - ref.promptLogits[id]!);
    assert.ok(
      d <= LOGIT_TOLERANCE,
      `${where}: logit of ${id} is ${logit.get(id)}, reference ${ref.promptLogits[id]}`,
    );
  }
  let stable = 0;
  while (stable < ref.gaps.length && ref.gaps[stable]! >= CLEAR_GAP) stable++;
  assert.ok(stable >= 2, `${where}: the reference's greedy path is too close to call`);
  assert.deepEqual(
    out.generated_ids.slice(0, stable),
    ref.greedyIds.slice(0, stable),
    `${where}: greedy`,
  );
  // Logits big enough that 0.1 is a real bar.
  assert.ok(Math.abs(ref.promptLogits[order[0]!]!) > 1, `${where}: logits too small to test`);
}

/** The three ternary types, each quantized from the export and probed. */
export const QUANT_TYPES = ["i2_s", "tq2_0", "tq1_0"] as const;

/** Quantizes the export to `type` and returns the result (meta.json records fallbacks). */
export async function quantize(
  exported: ExportResult,
  type: (typeof QUANT_TYPES)[number],
  outDir: string,
): Promise<QuantizeResult> {
  return await quantizeGguf({ input: exported.ggufPath, type, outDir });
}

/** Gates 1 and 2 pass; gate 3 encodes the prompt with the family's tokenizer. */
export async function checkGates(path: string, ref: Awaited<ReturnType<typeof referenceRun>>) {
  const report = await validateGguf({ ggufPath: path, prompt: PROMPT });
  const gate = (id: string) => report.gates.find((g) => g.id === id)!;
  for (const id of ["norms", "projections"]) {
    assert.equal(
      gate(id).status,
      "pass",
      `${path}: ${id}: ${gate(id).checks.filter((c) => c.status === "fail").map((c) => c.message)}`,
    );
  }
  assert.deepEqual(report.probe?.promptIds, ref.promptIds, "gate 3 uses the family's tokenizer");
}

/** model-verify finds the file, its fingerprint, meta.json and manifest consistent. */
async function checkVerify(path: string) {
  const report = await verifyGguf({ ggufPath: path });
  assert.ok(
    report.ok,
    `${path}: model-verify: ${JSON.stringify(report.checks.filter((c) => c.status === "failed"))}`,
  );
}

/** Family-specific checks hooked into {@link familyChecks}. */
export interface FamilyHooks {
  /** q/k rows are permuted (the GGUF is "llama"). */
  llamaGguf: boolean;
  /** Checks of the F16 export (keys, meta.json). */
  onExport?: (r: ExportResult, keys: Record<string, unknown>) => void | Promise<void>;
  /** Checks of each quantized file. */
  onQuantized?: (type: (typeof QUANT_TYPES)[number], q: QuantizeResult) => void | Promise<void>;
}

/**
 * Every acceptance check of issue 10 on one imitation, as steps: the F32
 * export and its I2_S against the exact reference, the F16 export and its
 * I2_S, TQ2_0 and TQ1_0 against the reference with f16 factors, gates 1 and 2
 * and gate 3's tokenizer.
 */
export async function familyChecks(t: Deno.TestContext, im: Imitation, hooks: FamilyHooks) {
  const out = join(im.dir, "..", "out");
  const exact = await referenceRun(im, "exact");
  const rounded = await referenceRun(im, "f16");
  const where = (what: string) => `${im.id} ${what}`;
  await t.step("F32 export: tensors, probe vs exact reference; its I2_S", async () => {
    const r32 = await checkExport(im, join(out, "f32"), hooks.llamaGguf, "f32");
    await checkProbe(r32.ggufPath, exact, where("f32"));
    const q = await quantize(r32, "i2_s", join(out, "f32"));
    await checkProbe(q.ggufPath, exact, where("i2_s of f32"));
  });
  const r16 = await checkExport(im, join(out, "f16"), hooks.llamaGguf);
  await hooks.onExport?.(r16, await ggufKeys(r16.ggufPath));
  await t.step("F16 export: probe vs reference with f16 factors", async () => {
    await checkProbe(r16.ggufPath, rounded, where("f16"));
  });
  for (const type of QUANT_TYPES) {
    await t.step(`${type} of the F16 export`, async () => {
      const q = await quantize(r16, type, join(out, "f16"));
      await hooks.onQuantized?.(type, q);
      await checkProbe(q.ggufPath, rounded, where(type));
      await checkGates(q.ggufPath, rounded);
      await checkVerify(q.ggufPath);
    });
  }
  await t.step(
    "gates 1 and 2 pass; gate 3 uses the family's tokenizer; model-verify passes",
    async () => {
      await checkGates(r16.ggufPath, rounded);
      await checkVerify(r16.ggufPath);
    },
  );
}
