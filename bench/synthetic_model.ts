/**
 * Writes a GGUF with the real BitNet b1.58 2B-4T shapes (FORMATS.md §4:
 * hidden 2560, ff 6912, 30 layers, 20/5 heads, vocab 128256, context 4096)
 * and random weights: ternary projections (I2_S by default, or F16 values
 * ±s like a clean export, or TQ2_0), F16 embeddings, norms of ones. Only the
 * speed of the engine on it means anything; its text is noise.
 *
 *   deno run -A bench/synthetic_model.ts [out.gguf] [--type i2_s|f16|tq2_0] [--layers N]
 *
 * @example
 * ```ts
 * import { writeSyntheticModel } from "./synthetic_model.ts";
 * await writeSyntheticModel("/tmp/synthetic.gguf", { type: "i2_s", layers: 2 });
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { f32ToF16 } from "../lib/codecs/float.ts";
import { packI2S } from "../lib/codecs/i2s.ts";
import { packTrits } from "../lib/codecs/table.ts";
import { archKey } from "../lib/arch/hparams.ts";
import { GgmlType } from "../lib/gguf/types.ts";
import { GgufWriter, type TensorProducer } from "../lib/gguf/writer.ts";

/** BitNet b1.58 2B-4T (FORMATS.md §4). */
export const BITNET_2B4T = {
  arch: "bitnet-b1.58",
  hidden: 2560,
  ff: 6912,
  layers: 30,
  heads: 20,
  kvHeads: 5,
  vocab: 128256,
  context: 4096,
  ropeTheta: 500000,
  eps: 1e-5,
} as const;

/** How the projections are stored. */
export type SyntheticProjectionType = "i2_s" | "f16" | "tq2_0";

/** Options of {@link writeSyntheticModel}. */
export interface SyntheticOptions {
  type?: SyntheticProjectionType;
  /** Fewer layers for a quick file (default 30). */
  layers?: number;
  seed?: number;
}

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Random trits: −1 and +1 a quarter of the time each, 0 half the time (16 per PRNG draw). */
function randomTrits(n: number, next: () => number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i += 16) {
    let bits = next();
    for (let j = 0; j < 16 && i + j < n; j++, bits >>>= 2) {
      const v = bits & 3;
      out[i + j] = v === 0 ? -1 : v === 1 ? 1 : 0;
    }
  }
  return out;
}

/** F16 bits of ±s / 0 for a trit tensor. */
function ternaryF16(trits: Int8Array, scale: number): Uint8Array {
  const pos = f32ToF16(scale), neg = f32ToF16(-scale);
  const out = new Uint16Array(trits.length);
  for (let i = 0; i < trits.length; i++) out[i] = trits[i] === 0 ? 0 : trits[i] === 1 ? pos : neg;
  return new Uint8Array(out.buffer);
}

/** Writes the synthetic model to `path`. */
export async function writeSyntheticModel(
  path: string,
  opts: SyntheticOptions = {},
): Promise<void> {
  const m = BITNET_2B4T, type = opts.type ?? "i2_s", layers = opts.layers ?? m.layers;
  const next = rng(opts.seed ?? 1234);
  const headDim = m.hidden / m.heads, kvDim = m.kvHeads * headDim;
  const w = new GgufWriter();
  w.addString("general.architecture", m.arch);
  w.addString("general.name", "synthetic BitNet b1.58 2B-4T shapes (random weights)");
  w.addU32(archKey(m.arch, "contextLength"), m.context);
  w.addU32(archKey(m.arch, "nEmbd"), m.hidden);
  w.addU32(archKey(m.arch, "nLayer"), layers);
  w.addU32(archKey(m.arch, "nFf"), m.ff);
  w.addU32(archKey(m.arch, "nHead"), m.heads);
  w.addU32(archKey(m.arch, "nHeadKv"), m.kvHeads);
  w.addF32(archKey(m.arch, "eps"), m.eps);
  w.addF32(archKey(m.arch, "ropeTheta"), m.ropeTheta);
  w.addU32(archKey(m.arch, "ropeDim"), headDim);
  w.addU32(archKey(m.arch, "vocabSize"), m.vocab);
  w.addString(archKey(m.arch, "activation"), "relu2");

  const projType = { i2_s: GgmlType.I2_S, f16: GgmlType.F16, tq2_0: GgmlType.TQ2_0 }[type];
  const projections = new Set<string>();
  const norm = (name: string, n: number) => w.addTensorInfo(name, [n], GgmlType.F32);
  const proj = (name: string, rows: number, cols: number) => {
    projections.add(name);
    w.addTensorInfo(name, [rows, cols], projType);
  };
  w.addTensorInfo("token_embd.weight", [m.vocab, m.hidden], GgmlType.F16);
  for (let l = 0; l < layers; l++) {
    const b = `blk.${l}.`;
    norm(b + "attn_norm.weight", m.hidden);
    proj(b + "attn_q.weight", m.hidden, m.hidden);
    proj(b + "attn_k.weight", kvDim, m.hidden);
    proj(b + "attn_v.weight", kvDim, m.hidden);
    norm(b + "attn_sub_norm.weight", m.hidden);
    proj(b + "attn_output.weight", m.hidden, m.hidden);
    norm(b + "ffn_norm.weight", m.hidden);
    proj(b + "ffn_gate.weight", m.ff, m.hidden);
    proj(b + "ffn_up.weight", m.ff, m.hidden);
    norm(b + "ffn_sub_norm.weight", m.ff);
    proj(b + "ffn_down.weight", m.hidden, m.ff);
  }
  norm("output_norm.weight", m.hidden);

  const produce: TensorProducer = (t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length === 1) return new Uint8Array(new Float32Array(n).fill(1).buffer);
    if (t.name === "token_embd.weight") return embeddingChunks(t.shape[0]!, t.shape[1]!, next);
    if (!projections.has(t.name)) throw new Error(`unexpected tensor ${t.name}`);
    const trits = randomTrits(n, next), scale = 1 / Math.sqrt(t.shape[1]!);
    if (type === "i2_s") return packI2S(trits, scale, t.name);
    if (type === "tq2_0") return packTrits(GgmlType.TQ2_0, trits, scale, t.name);
    return ternaryF16(trits, scale);
  };
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (chunk) => {
        for (let done = 0; done < chunk.length;) done += await file.write(chunk.subarray(done));
      },
    }, produce);
  } finally {
    file.close();
  }
}

/** F16 embeddings, uniform in about ±0.05, 4096 rows per chunk. */
async function* embeddingChunks(
  rows: number,
  cols: number,
  next: () => number,
): AsyncGenerator<Uint8Array> {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) table[i] = f32ToF16((i - 127.5) / 2560);
  for (let r = 0; r < rows; r += 4096) {
    const n = Math.min(4096, rows - r) * cols, out = new Uint16Array(n);
    for (let i = 0; i < n; i += 4) {
      const bits = next();
      out[i] = table[bits & 255]!;
      out[i + 1] = table[(bits >>> 8) & 255]!;
      out[i + 2] = table[(bits >>> 16) & 255]!;
      out[i + 3] = table[bits >>> 24]!;
    }
    yield new Uint8Array(out.buffer);
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { type: { type: "string" }, layers: { type: "string" } },
    allowPositionals: true,
  });
  const type = (values.type ?? "i2_s") as SyntheticProjectionType;
  if (!["i2_s", "f16", "tq2_0"].includes(type)) {
    throw new Error(`--type must be i2_s, f16 or tq2_0`);
  }
  const path = positionals[0] ?? `/tmp/bitnet-2b4t-synthetic-${type}.gguf`;
  const t0 = performance.now();
  await writeSyntheticModel(path, {
    type,
    ...(values.layers ? { layers: Number(values.layers) } : {}),
  });
  console.error(`wrote ${path} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
