/**
 * Writes small GGUF models for the inference tests with the project's
 * GgufWriter: hyperparameter keys plus tensors given as f32 values in PyTorch
 * order, encoded to the requested ggml type (or given as raw payload bytes).
 *
 * @example
 * ```ts
 * import { writeModelGguf } from "./_gguf_builder.ts";
 * await writeModelGguf("/tmp/m.gguf", { arch: "llama", hparams: {...}, tensors: [...] });
 * ```
 * @module
 */

import { f32ToBf16, f32ToF16 } from "../../lib/codecs/float.ts";
import { archKey } from "../../lib/arch/hparams.ts";
import { GgmlType } from "../../lib/gguf/types.ts";
import { GgufWriter } from "../../lib/gguf/writer.ts";

/** One tensor to write. */
export interface TensorToWrite {
  name: string;
  /** PyTorch order. */
  shape: number[];
  type: GgmlType;
  /** Values, encoded to `type` (float types only)... */
  values?: Float32Array;
  /** ...or the payload as is. */
  bytes?: Uint8Array;
}

/** Hyperparameters written as `{arch}.*` keys. */
export interface HparamsToWrite {
  contextLength: number;
  embeddingLength: number;
  blockCount: number;
  feedForwardLength: number;
  headCount: number;
  headCountKv: number;
  rmsEps: number;
  ropeFreqBase: number;
  vocabSize: number;
}

/** Encodes f32 values as a float ggml type. */
export function encodeFloats(values: Float32Array, type: GgmlType): Uint8Array {
  if (type === GgmlType.F32) return new Uint8Array(values.slice().buffer);
  const out = new Uint16Array(values.length);
  const encode = type === GgmlType.F16 ? f32ToF16 : f32ToBf16;
  if (type !== GgmlType.F16 && type !== GgmlType.BF16) throw new Error(`not a float type ${type}`);
  for (let i = 0; i < values.length; i++) out[i] = encode(values[i]!);
  return new Uint8Array(out.buffer);
}

/** Writes a GGUF with `general.architecture`, the hyperparameters and the tensors. */
export async function writeModelGguf(
  path: string,
  model: {
    arch: string;
    hparams: HparamsToWrite;
    tensors: readonly TensorToWrite[];
    extraStrings?: Record<string, string>;
    /** More metadata, written after the hyperparameters. */
    extra?: (w: GgufWriter) => void;
  },
): Promise<void> {
  const w = new GgufWriter();
  w.addString("general.architecture", model.arch);
  const h = model.hparams;
  w.addU32(archKey(model.arch, "contextLength"), h.contextLength);
  w.addU32(archKey(model.arch, "nEmbd"), h.embeddingLength);
  w.addU32(archKey(model.arch, "nLayer"), h.blockCount);
  w.addU32(archKey(model.arch, "nFf"), h.feedForwardLength);
  w.addU32(archKey(model.arch, "nHead"), h.headCount);
  w.addU32(archKey(model.arch, "nHeadKv"), h.headCountKv);
  w.addF32(archKey(model.arch, "eps"), h.rmsEps);
  w.addF32(archKey(model.arch, "ropeTheta"), h.ropeFreqBase);
  w.addU32(archKey(model.arch, "vocabSize"), h.vocabSize);
  for (const [k, v] of Object.entries(model.extraStrings ?? {})) w.addString(k, v);
  model.extra?.(w);
  const payloads: Uint8Array[] = [];
  for (const t of model.tensors) {
    w.addTensorInfo(t.name, t.shape, t.type);
    payloads.push(t.bytes ?? encodeFloats(t.values!, t.type));
  }
  const file = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    await w.write({
      write: async (chunk) => {
        let done = 0;
        while (done < chunk.length) done += await file.write(chunk.subarray(done));
      },
    }, (_, i) => payloads[i]!);
  } finally {
    file.close();
  }
}

/** Byte offset of a tensor's u32 type field in a written GGUF header (to patch it in tests). */
export function tensorTypeFieldOffset(bytes: Uint8Array, name: string): number {
  const needle = new TextEncoder().encode(name);
  for (let i = 8; i + needle.length < bytes.length; i++) {
    if (bytes[i + needle.length - 1] !== needle[needle.length - 1]) continue;
    let hit = true;
    for (let j = 0; j < needle.length && hit; j++) hit = bytes[i + j] === needle[j];
    if (!hit) continue;
    // The name is preceded by its u64 length and followed by u32 n_dims, n_dims × u64, u32 type.
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    if (Number(view.getBigUint64(i - 8, true)) !== needle.length) continue;
    const nDims = view.getUint32(i + needle.length, true);
    return i + needle.length + 4 + nDims * 8;
  }
  throw new Error(`tensor ${name} not found in header`);
}

/**
 * The tensors of a BitNet b1.58 model of `hp`: norms of ones and ternary F32 projections
 * drawn from a linear congruential generator started at `seed`; `tokenEmbd`, when given,
 * replaces the ternary F32 embedding (drawn first otherwise).
 */
export function bitnetTensors(
  hp: HparamsToWrite,
  opts: { seed?: number; tokenEmbd?: TensorToWrite } = {},
): TensorToWrite[] {
  const e = hp.embeddingLength, f = hp.feedForwardLength, kv = (e / hp.headCount) * hp.headCountKv;
  let seed = opts.seed ?? 1;
  const trits = (n: number) =>
    Float32Array.from({ length: n }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 3) - 1);
  const norm = (name: string, n: number): TensorToWrite => ({
    name,
    shape: [n],
    type: GgmlType.F32,
    values: new Float32Array(n).fill(1),
  });
  const mat = (name: string, rows: number, cols: number): TensorToWrite => ({
    name,
    shape: [rows, cols],
    type: GgmlType.F32,
    values: trits(rows * cols),
  });
  const out = [opts.tokenEmbd ?? mat("token_embd.weight", hp.vocabSize, e)];
  for (let l = 0; l < hp.blockCount; l++) {
    const b = `blk.${l}.`;
    out.push(
      norm(b + "attn_norm.weight", e),
      mat(b + "attn_q.weight", e, e),
      mat(b + "attn_k.weight", kv, e),
      mat(b + "attn_v.weight", kv, e),
      norm(b + "attn_sub_norm.weight", e),
      mat(b + "attn_output.weight", e, e),
      norm(b + "ffn_norm.weight", e),
      mat(b + "ffn_gate.weight", f, e),
      mat(b + "ffn_up.weight", f, e),
      norm(b + "ffn_sub_norm.weight", f),
      mat(b + "ffn_down.weight", e, f),
    );
  }
  out.push(norm("output_norm.weight", e));
  return out;
}
