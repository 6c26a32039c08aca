/**
 * One tensor of the export, from the checkpoint to the bytes written: each
 * expected tensor is found in the checkpoint (shape checked), then produced
 * chunk by chunk — norms and embeddings converted, BitNet projections
 * ternarized in two streamed passes (or unpacked from U8 codes), Llama q/k
 * rows permuted — with the statistics meta.json records.
 *
 * @example
 * ```ts
 * import { resolveTensors } from "./tensors.ts";
 * import { SafetensorsCheckpoint } from "../safetensors/reader.ts";
 * import { architectureOf, expectedTensors } from "../arch/registry.ts";
 * const ckpt = await SafetensorsCheckpoint.open("fixtures/tiny-bitnet");
 * const dims = { nEmbd: 256, nFf: 768, nLayer: 4, nHead: 8, nHeadKv: 2, headDim: 32, vocabSize: 2048, tied: true };
 * resolveTensors(ckpt, expectedTensors(architectureOf("bitnet"), dims), 1, 0).length; // 46
 * ```
 * @module
 */

import { ModelShapeError, NonFiniteError, UnsupportedError } from "../errors.ts";
import type { ArchTensor, ProjectionKind } from "../arch/registry.ts";
import { permuteQKRows } from "../arch/permute.ts";
import type { SafetensorsCheckpoint, SafetensorsTensor } from "../safetensors/reader.ts";
import type { GgufTensorPlan } from "../gguf/writer.ts";
import { codecByName, codecOf, type GgmlType } from "../codecs/table.ts";
import type { OverflowMode } from "../codecs/float_bulk.ts";
import { AbsmeanAccumulator, ternarizeAbsmean } from "../codecs/ternary.ts";
import type { ProducedTensor } from "../provenance/companions.ts";
import { StatsAccumulator, type TensorSummary } from "../stats/summary.ts";
import { type ChunkConverter, type FloatOutType, fromF32, toF32 } from "./convert.ts";
import { packedRows, packedScaleConvention, unpackBitnetU8 } from "./packed.ts";
import { Ternary16 } from "./ternary16.ts";

/** A tensor resolved against the checkpoint. */
export interface SourceTensor {
  plan: ArchTensor;
  hfName: string;
  source: SafetensorsTensor;
  ggmlType: GgmlType;
  /** Scale tensor of a packed U8 projection. */
  packedScale?: SafetensorsTensor;
}

/** Finds each expected tensor in the checkpoint and checks its shape. */
export function resolveTensors(
  ckpt: SafetensorsCheckpoint,
  planned: ArchTensor[],
  weightType: GgmlType,
  normType: GgmlType,
): SourceTensor[] {
  return planned.map((plan) => {
    const hfName = plan.hf.find((n) => ckpt.has(n));
    if (hfName === undefined) {
      throw new ModelShapeError(
        `checkpoint has no tensor ${plan.hf.join(" or ")} (needed for ${plan.gguf})`,
      );
    }
    const source = ckpt.get(hfName);
    const ggmlType = plan.rule.role === "norm" ? normType : weightType;
    const scaleName = hfName.replace(/\.weight$/, ".weight_scale");
    if (source.dtype === "U8" && plan.rule.role === "projection" && ckpt.has(scaleName)) {
      const [rows, cols] = plan.shape as [number, number];
      const packed = packedRows(rows);
      if (source.shape.length !== 2 || source.shape[0] !== packed || source.shape[1] !== cols) {
        throw new ModelShapeError(
          `${hfName}: packed shape [${
            source.shape.join(", ")
          }], expected [${packed}, ${cols}] for ${plan.gguf}`,
        );
      }
      return { plan, hfName, source, ggmlType, packedScale: ckpt.get(scaleName) };
    }
    if (source.dtype !== "F32" && source.dtype !== "F16" && source.dtype !== "BF16") {
      throw new UnsupportedError(
        `${hfName}: dtype ${source.dtype} cannot be exported as ${plan.gguf}`,
      );
    }
    if (source.shape.join(",") !== plan.shape.join(",")) {
      throw new ModelShapeError(
        `${hfName}: shape [${source.shape.join(", ")}], expected [${
          plan.shape.join(", ")
        }] for ${plan.gguf} (from config.json)`,
      );
    }
    return { plan, hfName, source, ggmlType };
  });
}

/** What producing a tensor needs to know about the model and the run. */
export interface ProduceContext {
  ckpt: SafetensorsCheckpoint;
  permuteQK: boolean;
  /** Projection kinds written as BitLinear (ternary); the others are converted as floats. */
  bitlinear: readonly ProjectionKind[];
  nHead: number;
  nHeadKv: number;
  overflowMode: OverflowMode;
  quant: Record<string, unknown> | undefined;
  configPath: string;
  /** Reused conversion buffers: one tensor is produced at a time, each chunk consumed before the next. */
  scratch: ChunkConverter;
}

interface ProducedChunk {
  written: Uint8Array;
  /** Written values, for statistics (as f32, or as 16-bit patterns and their f32 table); or, for ternary tensors, their trit counts. */
  values?: Float32Array;
  bits16?: { bits: Uint16Array; table: Float32Array };
  ternary?: TernaryCounts;
  overflow: number;
  ternaryScale?: number;
}

/** One tensor's bytes with its statistics, counts and overflow, and its meta.json row. */
export function exportTensor(
  ctx: ProduceContext,
  src: SourceTensor,
  plan: GgufTensorPlan,
  overflows: string[],
): ProducedTensor {
  const stats = new StatsAccumulator();
  let counts: TernaryCounts | undefined;
  let overflow = 0;
  let scale: number | undefined;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for await (const chunk of produceTensor(ctx, src, plan)) {
      if (chunk.values || chunk.bits16) {
        if (chunk.values) stats.add(chunk.values);
        else stats.addBits16(chunk.bits16!.bits, chunk.bits16!.table);
        // Refused F16 overflow is written as ±inf (and refused after the last tensor); any other
        // non-finite value came from the source.
        const overflowInf = ctx.overflowMode === "refuse" ? overflow + chunk.overflow : 0;
        const nonFinite = stats.result().nonFinite - overflowInf;
        if (nonFinite > 0) throw nonFiniteIn(src, plan, nonFinite);
      }
      if (chunk.ternary) {
        counts ??= { n: 0, nonzero: 0, negatives: 0, value: chunk.ternary.value };
        counts.n += chunk.ternary.n;
        counts.nonzero += chunk.ternary.nonzero;
        counts.negatives += chunk.ternary.negatives;
      }
      overflow += chunk.overflow;
      if (chunk.ternaryScale !== undefined) scale = chunk.ternaryScale;
      yield chunk.written;
    }
    if (overflow > 0) overflows.push(`${plan.name} (${src.hfName}): ${overflow} values`);
  }
  return {
    chunks: chunks(),
    row: () => {
      const s = counts ? ternarySummary(counts) : stats.result();
      return {
        hf_name: src.hfName,
        gguf_type: codecOf(plan.type).name,
        source_dtype: src.source.dtype,
        rms: s.rms,
        min: s.min,
        max: s.max,
        action: describeAction(ctx, src, plan),
        ...(overflow > 0 && ctx.overflowMode === "clamp" ? { clamped: overflow } : {}),
        ...(scale !== undefined ? { ternary_scale: scale } : {}),
      };
    },
  };
}

/** The error for a tensor whose source holds NaN or ±inf values. */
function nonFiniteIn(src: SourceTensor, plan: GgufTensorPlan, n: number): NonFiniteError {
  return new NonFiniteError(
    `${src.source.file}: tensor ${src.hfName} (${plan.name}) holds ${n} NaN or ±inf value(s); ` +
      `a clean export holds finite values only`,
  );
}

function describeAction(ctx: ProduceContext, src: SourceTensor, plan: GgufTensorPlan): string {
  const to = codecOf(plan.type).name;
  const permuted = qkHeads(ctx, src) > 0 ? ", rows permuted for llama.cpp RoPE" : "";
  if (src.packedScale) {
    const op = packedScaleConvention(ctx.quant, ctx.configPath) === "divide" ? "÷" : "×";
    return `unpacked from U8 codes ${op} weight_scale${permuted}, written ${to}`;
  }
  if (isBitlinear(ctx, src)) return `ternarized (absmean, per tensor)${permuted}, written ${to}`;
  if (permuted) return `rows permuted for llama.cpp RoPE, written ${to}`;
  return src.source.dtype === to ? "copied" : `converted ${src.source.dtype} → ${to}`;
}

const STREAM_CHUNK = 1 << 22;

/** A projection the model computes as BitLinear. */
function isBitlinear(ctx: ProduceContext, src: SourceTensor): boolean {
  const kind = src.plan.rule.projection;
  return kind !== undefined && ctx.bitlinear.includes(kind);
}

/** The head count to permute q/k rows with for llama.cpp's RoPE, or 0 when not permuted. */
function qkHeads(ctx: ProduceContext, src: SourceTensor): number {
  const kind = src.plan.rule.projection;
  if (!ctx.permuteQK || (kind !== "attn_q" && kind !== "attn_k")) return 0;
  return kind === "attn_q" ? ctx.nHead : ctx.nHeadKv;
}

/** Trits × s of a whole projection, q/k rows permuted where the family needs it. */
function ternaryWhole(
  ctx: ProduceContext,
  src: SourceTensor,
  trits: Int8Array,
  s: number,
  outType: FloatOutType,
  [rows, cols]: [number, number],
): ProducedChunk {
  const heads = qkHeads(ctx, src);
  const t = heads > 0 ? permuteQKRows(trits, rows, cols, heads, src.hfName) : trits;
  return { ...ternaryChunk(t, s, outType, ctx.overflowMode), ternaryScale: s };
}

/** Yields one tensor's bytes as written, with its values for statistics. */
async function* produceTensor(
  ctx: ProduceContext,
  src: SourceTensor,
  plan: GgufTensorPlan,
): AsyncGenerator<ProducedChunk> {
  const outType = codecOf(plan.type).name as FloatOutType;
  const [rows, cols] = plan.shape as [number, number];

  if (src.packedScale) {
    if (!isBitlinear(ctx, src)) {
      throw new UnsupportedError(
        `${src.hfName}: packed ternary codes, but quantization_config.modules_to_not_convert exempts this module from BitLinear`,
      );
    }
    const trits = unpackBitnetU8(await ctx.ckpt.read(src.hfName), rows, cols, src.hfName);
    const scaleValues = toF32(
      src.packedScale.dtype,
      await ctx.ckpt.read(src.packedScale.name),
      src.packedScale.name,
    );
    if (scaleValues.length !== 1) {
      throw new UnsupportedError(
        `${src.packedScale.name}: expected one per-tensor scale, got ${scaleValues.length}`,
      );
    }
    const ws = scaleValues[0]!;
    if (!Number.isFinite(ws) || ws === 0) {
      throw new NonFiniteError(
        `${src.packedScale.file}: tensor ${src.packedScale.name} is ${ws}, not a finite non-zero scale`,
      );
    }
    const convention = packedScaleConvention(ctx.quant, ctx.configPath);
    const s = Math.fround(convention === "divide" ? 1 / ws : ws);
    yield ternaryWhole(ctx, src, trits, s, outType, [rows, cols]);
    return;
  }

  if (isBitlinear(ctx, src) && qkHeads(ctx, src) > 0) {
    // q/k of a ternary Llama: the whole tensor, ternarized, then its rows permuted.
    const values = toF32(src.source.dtype, await ctx.ckpt.read(src.hfName), src.hfName);
    const { trits, scale } = ternarizeAbsmean(values, undefined, src.hfName);
    yield ternaryWhole(ctx, src, trits, scale, outType, [rows, cols]);
    return;
  }

  if (isBitlinear(ctx, src)) {
    // The checkpoint holds master weights: WQ(W) is what the model computes (docs/reference/formats.md, "BitNet b1.58 forward pass").
    // Two streamed passes (the absmean scale, then the trits) keep memory at one chunk
    // whatever the tensor's size; the second read comes from the page cache.
    yield* ternarizeStreamed(ctx, src, outType);
    return;
  }

  const nHead = qkHeads(ctx, src);
  if (nHead > 0) {
    const values = toF32(src.source.dtype, await ctx.ckpt.read(src.hfName), src.hfName);
    yield fromF32(permuteQKRows(values, rows, cols, nHead, src.hfName), outType, ctx.overflowMode);
    return;
  }

  // Embeddings, output, norms and Llama projections: streamed, converted chunk by chunk.
  for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
    yield ctx.scratch.convert(src.source.dtype, chunk, outType, ctx.overflowMode, src.hfName);
  }
}

/** Output bits of −s, 0, +s in a 16-bit output type. */
function ternaryBits16(scale: number, outType: FloatOutType, overflowMode: OverflowMode) {
  const t = fromF32(new Float32Array([-scale, 0, scale]), outType, overflowMode);
  const bits = new Uint16Array(t.written.buffer, t.written.byteOffset, 3);
  return {
    bits: [bits[0]!, bits[1]!, bits[2]!] as const,
    value: t.values[2]!,
    overflow: t.overflow,
  };
}

/** A BitNet projection's master weights, ternarized in two streamed passes. */
async function* ternarizeStreamed(
  ctx: ProduceContext,
  src: SourceTensor,
  outType: FloatOutType,
): AsyncGenerator<ProducedChunk> {
  const dtype = src.source.dtype;
  if ((dtype === "BF16" || dtype === "F16") && outType !== "F32") {
    // 16-bit source and output: histogram, then one table lookup per element (ternary16.ts).
    const table = new Ternary16(codecByName(dtype).float!.value, src.hfName);
    for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
      table.count(u16View(chunk));
    }
    let value = 0, overflow = 0;
    const { scale } = table.finish((s) => {
      const t = ternaryBits16(s, outType, ctx.overflowMode);
      value = t.value;
      overflow = t.overflow;
      return t.bits;
    });
    let first = true;
    for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
      const source = u16View(chunk);
      const out = ctx.scratch.u16(source.length);
      table.map(source, out);
      yield {
        written: new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
        // The counts are known for the whole tensor: report them once.
        ternary: first
          ? {
            n: source.length === 0 ? 0 : table.total,
            nonzero: table.nonzero,
            negatives: table.negatives,
            value,
          }
          : { n: 0, nonzero: 0, negatives: 0, value },
        overflow: first && overflow > 0 ? table.nonzero : 0,
        ternaryScale: scale,
      };
      first = false;
    }
    return;
  }
  const absmean = new AbsmeanAccumulator();
  for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
    absmean.add(toF32(dtype, chunk, src.hfName));
  }
  const scale = absmean.scale();
  for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
    const { trits } = ternarizeAbsmean(toF32(dtype, chunk, src.hfName), scale, src.hfName);
    yield { ...ternaryChunk(trits, scale, outType, ctx.overflowMode), ternaryScale: scale };
  }
}

/** A u16 view of a chunk (copied when its offset is odd). */
function u16View(chunk: Uint8Array): Uint16Array {
  const b = chunk.byteOffset % 2 === 0 ? chunk : chunk.slice();
  return new Uint16Array(b.buffer, b.byteOffset, b.length / 2);
}

/**
 * Writes trits × scale in the output type straight from a three-entry table
 * (the value set is {−s, 0, +s}), with statistics from the trit counts: no
 * per-element float conversion on the export's hottest path.
 */
function ternaryChunk(
  trits: Int8Array,
  scale: number,
  outType: FloatOutType,
  overflowMode: OverflowMode,
): ProducedChunk {
  const table = fromF32(new Float32Array([-scale, 0, scale]), outType, overflowMode);
  // −s, 0, +s as written: f32 values, or the 16-bit output type's bit patterns.
  const [neg, zero, pos] = outType === "F32"
    ? table.values
    : new Uint16Array(table.written.buffer, table.written.byteOffset, 3);
  const out = outType === "F32" ? new Float32Array(trits.length) : new Uint16Array(trits.length);
  let nonzero = 0, negatives = 0;
  for (let i = 0; i < trits.length; i++) {
    const t = trits[i]!;
    out[i] = t > 0 ? pos! : t < 0 ? neg! : zero!;
    nonzero += t & 1;
    negatives += (t >>> 31) & 1;
  }
  return {
    written: new Uint8Array(out.buffer),
    ternary: { n: trits.length, nonzero, negatives, value: table.values[2]! },
    overflow: table.overflow > 0 ? nonzero : 0,
  };
}

/** Trit counts of a ternary tensor, chunk by chunk, and the summary they imply. */
interface TernaryCounts {
  n: number;
  nonzero: number;
  negatives: number;
  /** The written value of +1 (s in the output type). */
  value: number;
}

function ternarySummary(c: TernaryCounts): TensorSummary {
  const positives = c.nonzero - c.negatives, zeros = c.n - c.nonzero;
  return {
    count: c.n,
    rms: Math.abs(c.value) * Math.sqrt(c.nonzero / c.n),
    mean: (c.value * (positives - c.negatives)) / c.n,
    min: c.negatives > 0 ? -c.value : zeros > 0 ? 0 : c.value,
    max: positives > 0 ? c.value : zeros > 0 ? 0 : -c.value,
    nonFinite: 0,
  };
}
