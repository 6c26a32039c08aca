/**
 * The clean export: a Hugging Face BitNet b1.58 or Llama checkpoint becomes a
 * GGUF (every norm in float), a fingerprint and a meta.json, written to
 * temporary files and renamed into place only when all are complete.
 *
 * Flow: config.json → architecture table → SafeTensors → codecs (ternarize,
 * float conversion, q/k permutation) → GGUF writer through a sha256 tee →
 * meta.json + fingerprint → rename.
 *
 * @example
 * ```ts
 * import { exportCleanGguf } from "./export.ts";
 * const r = await exportCleanGguf({
 *   modelDir: "fixtures/tiny-bitnet",
 *   outDir: "models/clean",
 *   quiet: true,
 * });
 * console.log(r.fingerprint);
 * ```
 * @module
 */

import { basename, join } from "node:path";
import { ModelShapeError, OverflowError, UnsupportedError, UsageError } from "../errors.ts";
import { expectedTensors, findArchitecture, type PlannedTensor } from "../arch/registry.ts";
import { hparamsFromConfig, readJsonFile } from "../arch/config.ts";
import { permuteQKRows } from "../arch/permute.ts";
import { SafetensorsCheckpoint, type SafetensorsTensor } from "../safetensors/reader.ts";
import { sha256InWorker } from "../io/hash_worker.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { type GgufTensorPlan, GgufWriter } from "../gguf/writer.ts";
import {
  companionHasher,
  type ProducedTensor,
  writeCompanions,
  writeTensors,
} from "../provenance/companions.ts";
import { archKey, Keys } from "../gguf/keys.ts";
import { FileType, GgmlType } from "../gguf/types.ts";
import { codecOf } from "../codecs/table.ts";
import { AbsmeanAccumulator, ternarizeAbsmean } from "../codecs/ternary.ts";
import { bf16ToF32, f16ToF32 } from "../codecs/float.ts";
import { Ternary16 } from "./ternary16.ts";
import { tokenizerMetadataFromJson, writeTokenizerMetadata } from "../tokenizer/metadata.ts";
import { StatsAccumulator, type TensorSummary } from "../stats/summary.ts";
import { type GgufMeta, TOOL } from "../provenance/meta.ts";
import { convertChunk, type FloatOutType, fromF32, toF32 } from "./convert.ts";
import { packedScaleConvention, unpackBitnetU8 } from "./packed.ts";

/** Export options (the CLI flags of `model-export`). */
export interface ExportOptions {
  modelDir: string;
  /** tokenizer.json; wins over the one in modelDir. */
  tokenizerPath?: string;
  outDir: string;
  /** Type of 2-D weights. Default f16. */
  outType?: "f16" | "f32" | "bf16";
  /** Type of the 1-D norms. Default f32. */
  normType?: "f32" | "f16";
  /** `general.architecture`; default the family's first name (bitnet-b1.58 for BitNet). */
  archName?: string;
  /** What to do with BF16 values that overflow F16. Default refuse. */
  allowOverflow?: "refuse" | "clamp";
  /** Output file stem; default `clean-<outType>`. */
  name?: string;
  /** Where the checkpoint came from (e.g. the Hub repo and commit), recorded in meta.json. */
  origin?: Record<string, unknown>;
  /** Record the export time in meta.json (off by default: reproducible files). */
  timestamp?: boolean;
  /** Called as each tensor is written. */
  onProgress?: (done: number, total: number, tensor: string) => void;
  /** Called with each warning (also recorded in meta.json). */
  onWarning?: (message: string) => void;
  quiet?: boolean;
}

/** What an export produced. */
export interface ExportResult {
  ggufPath: string;
  metaPath: string;
  fingerprintPath: string;
  /** llama.cpp gguf-hash manifest (xxh64 and sha256 per tensor and for the model). */
  manifestPath: string;
  /** `sha256-<hex>` of the GGUF. */
  fingerprint: string;
  meta: GgufMeta;
}

const OUT_TYPES: Record<string, { ggml: GgmlType; float: FloatOutType; fileType: number }> = {
  f32: { ggml: GgmlType.F32, float: "F32", fileType: FileType.ALL_F32 },
  f16: { ggml: GgmlType.F16, float: "F16", fileType: FileType.MOSTLY_F16 },
  bf16: { ggml: GgmlType.BF16, float: "BF16", fileType: FileType.MOSTLY_BF16 },
};

/** A tensor resolved against the checkpoint. */
interface SourceTensor {
  plan: PlannedTensor;
  hfName: string;
  source: SafetensorsTensor;
  ggmlType: GgmlType;
  /** Scale tensor of a packed U8 projection. */
  packedScale?: SafetensorsTensor;
}

/** Runs the export. */
export async function exportCleanGguf(opts: ExportOptions): Promise<ExportResult> {
  const outType = opts.outType ?? "f16";
  const normType = opts.normType ?? "f32";
  const overflowMode = opts.allowOverflow ?? "refuse";
  const out = OUT_TYPES[outType];
  const normOut = OUT_TYPES[normType];
  if (!out) throw new UsageError(`--outtype must be f32, f16 or bf16, got "${outType}"`);
  if (!normOut || (normType as string) === "bf16") {
    throw new UsageError(`--norm-type must be f32 or f16, got "${normType}"`);
  }
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };

  const configPath = join(opts.modelDir, "config.json");
  const config = await readJsonFile(configPath);
  const arch = findArchitecture(config, configPath);
  const archName = opts.archName ?? arch.ggufArchNames[0]!;
  if (!arch.ggufArchNames.includes(archName)) {
    throw new UsageError(
      `--arch-name "${archName}" is not a name for ${arch.family}; use one of ${
        arch.ggufArchNames.join(", ")
      }`,
    );
  }
  const h = hparamsFromConfig(config, configPath);
  const quant = (config.quantization_config ?? undefined) as Record<string, unknown> | undefined;

  // Tokenizer: the one given on the command line wins over model_dir's.
  const tokenizerPath = opts.tokenizerPath ?? join(opts.modelDir, "tokenizer.json");
  const tokenizerJson = await readJsonFile(tokenizerPath);
  const tokenizerConfig = await readOptionalJson(join(opts.modelDir, "tokenizer_config.json"));
  const tokMeta = tokenizerMetadataFromJson(tokenizerJson, {
    vocabSize: h.vocabSize,
    bosId: h.bosId,
    eosId: h.eosId,
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    source: tokenizerPath,
  });
  if (tokMeta.pre === null) {
    warn(
      `${tokenizerPath}: pre-tokenizer not recognized; tokenizer.ggml.pre not written (llama.cpp will warn)`,
    );
  }

  const ckpt = await SafetensorsCheckpoint.open(opts.modelDir);
  // The sources' sha256 (a full read of the checkpoint) runs in workers beside the export.
  const sourceJobs = [configPath, tokenizerPath, ...ckpt.files.map((f) => f.path)].map((path) => ({
    path,
    job: sha256InWorker(path),
  }));
  const sourceHashes = Promise.all(sourceJobs.map(async ({ path, job }) => ({
    path: basename(path),
    size: (await Deno.stat(path)).size,
    sha256: await job.digest,
  })));
  try {
    // An absent lm_head means tied embeddings whatever the config says; a present one is used
    // only when the config does not declare the embeddings tied.
    const hasHead = ckpt.has("lm_head.weight");
    h.tiedEmbeddings = !hasHead || config.tie_word_embeddings === true;
    if (hasHead && h.tiedEmbeddings) {
      warn("lm_head.weight ignored: config declares tied embeddings");
    }
    if (!h.tiedEmbeddings && archName === "bitnet") {
      warn(
        "upstream llama.cpp's bitnet architecture always uses token_embd as the output layer: it cannot load this model's untied output.weight",
      );
    }

    const sources = resolveTensors(ckpt, expectedTensors(arch, h), out.ggml, normOut.ggml);
    const used = new Set(
      sources.flatMap((s) => [s.hfName, ...(s.packedScale ? [s.packedScale.name] : [])]),
    );
    const ignored = ckpt.names().filter((n) => !used.has(n) && n !== "lm_head.weight");
    if (ignored.length > 0) {
      warn(`tensors not exported (not part of the architecture): ${ignored.join(", ")}`);
    }

    // Header.
    const w = new GgufWriter();
    w.addString(Keys.general.architecture, archName);
    w.addString(Keys.general.name, modelName(config, opts));
    w.addU32(Keys.general.fileType, out.fileType);
    w.addU32(archKey(archName, "contextLength"), h.contextLength);
    w.addU32(archKey(archName, "embeddingLength"), h.nEmbd);
    w.addU32(archKey(archName, "blockCount"), h.nLayer);
    w.addU32(archKey(archName, "feedForwardLength"), h.nFf);
    w.addU32(archKey(archName, "headCount"), h.nHead);
    w.addU32(archKey(archName, "headCountKv"), h.nHeadKv);
    w.addF32(archKey(archName, "rmsEps"), h.eps);
    w.addF32(archKey(archName, "ropeFreqBase"), h.ropeTheta);
    w.addU32(archKey(archName, "ropeDimensionCount"), h.headDim);
    w.addU32(archKey(archName, "vocabSize"), h.vocabSize);
    if (archName === "bitnet" && arch.hiddenActivation) {
      w.addString(archKey(archName, "hiddenActivation"), arch.hiddenActivation);
    }
    writeTokenizerMetadata(w, tokMeta);
    for (const s of sources) w.addTensorInfo(s.plan.gguf, s.plan.shape, s.ggmlType);

    const stem = opts.name ?? `clean-${outType}`;
    const outputs = await AtomicOutputs.create(opts.outDir);
    try {
      const ggufFile = await outputs.file(`${stem}.gguf`);
      const overflows: string[] = [];
      const ctx: ProduceContext = {
        ckpt,
        family: arch.family,
        permuteQK: arch.permuteQK,
        ternary: arch.ternaryProjections,
        nHead: h.nHead,
        nHeadKv: h.nHeadKv,
        overflowMode,
        quant,
        configPath,
      };
      // The manifest is computed as the payloads go by: no second read of the output.
      const payloadHashes = await companionHasher();
      const metaTensors = await writeTensors(w, ggufFile, payloadHashes, (plan, i) => {
        opts.onProgress?.(i, sources.length, plan.name);
        return exportTensor(ctx, sources[i]!, plan, overflows);
      });
      if (overflows.length > 0 && overflowMode === "refuse") {
        throw new OverflowError(
          `BF16 → F16 overflow (|x| ≥ 65520) in ${overflows.length} tensor(s): ${
            overflows.join("; ")
          }. ` +
            `Use --outtype f32/bf16, or --allow-overflow clamp to clamp to ±65504 (recorded in meta.json).`,
        );
      }
      if (overflows.length > 0) warn(`clamped F16 overflow: ${overflows.join("; ")}`);
      opts.onProgress?.(sources.length, sources.length, "");

      const ggufSha = await outputs.close(ggufFile);
      const fingerprint = `sha256-${ggufSha}`;
      const meta: GgufMeta = {
        format: "gguf_v3",
        tool: { ...TOOL },
        precision: outType,
        norms_format: "float_preserved",
        architecture: archName,
        file: `${stem}.gguf`,
        fingerprint,
        size: ggufFile.bytesWritten,
        options: {
          outtype: outType,
          norm_type: normType,
          arch_name: archName,
          allow_overflow: overflowMode,
          tokenizer: basename(tokenizerPath),
          ...(opts.origin ? { origin: opts.origin } : {}),
        },
        sources: await sourceHashes,
        config: {
          architectures: config.architectures ?? null,
          model_type: config.model_type ?? null,
          family: arch.family,
          hidden_size: h.nEmbd,
          intermediate_size: h.nFf,
          num_hidden_layers: h.nLayer,
          num_attention_heads: h.nHead,
          num_key_value_heads: h.nHeadKv,
          head_dim: h.headDim,
          vocab_size: h.vocabSize,
          max_position_embeddings: h.contextLength,
          rms_norm_eps: h.eps,
          rope_theta: h.ropeTheta,
          tie_word_embeddings: h.tiedEmbeddings,
          hidden_act: config.hidden_act ?? null,
          quantization_config: quant ?? null,
        },
        tokenizer: {
          model: tokMeta.model,
          pre: tokMeta.pre,
          tokens: tokMeta.tokens.length,
          merges: tokMeta.merges.length,
          bos_token_id: tokMeta.bosId,
          eos_token_id: tokMeta.eosId,
          add_bos_token: tokMeta.addBos,
        },
        tensors: metaTensors,
        warnings,
        ...(opts.timestamp ? { created_at: new Date().toISOString() } : {}),
      };
      const companions = await writeCompanions(outputs, stem, meta, ggufSha, payloadHashes);
      await outputs.commit();
      return {
        ggufPath: ggufFile.finalPath,
        metaPath: companions.metaPath,
        fingerprintPath: companions.fingerprintPath,
        manifestPath: companions.manifestPath!,
        fingerprint,
        meta,
      };
    } catch (e) {
      await outputs.abort();
      throw e;
    }
  } finally {
    for (const { job } of sourceJobs) job.cancel();
    ckpt.close();
  }
}

/** `general.name`: config's `_name_or_path`, else the Hub repo's name, else the folder's. */
function modelName(config: Record<string, unknown>, opts: ExportOptions): string {
  const fromConfig = typeof config._name_or_path === "string" ? config._name_or_path : "";
  const repo = typeof opts.origin?.hf_repo === "string" ? opts.origin.hf_repo : "";
  return fromConfig || repo.split("/").pop() || basename(opts.modelDir);
}

async function readOptionalJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    await Deno.stat(path);
  } catch {
    return undefined;
  }
  return await readJsonFile(path);
}

/** Finds each expected tensor in the checkpoint and checks its shape. */
function resolveTensors(
  ckpt: SafetensorsCheckpoint,
  planned: PlannedTensor[],
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
      if (source.shape.length !== 2 || source.shape[0] !== rows / 4 || source.shape[1] !== cols) {
        throw new ModelShapeError(
          `${hfName}: packed shape [${source.shape.join(", ")}], expected [${
            rows / 4
          }, ${cols}] for ${plan.gguf}`,
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

interface ProduceContext {
  ckpt: SafetensorsCheckpoint;
  family: "bitnet" | "llama";
  permuteQK: boolean;
  ternary: boolean;
  nHead: number;
  nHeadKv: number;
  overflowMode: "refuse" | "clamp";
  quant: Record<string, unknown> | undefined;
  configPath: string;
}

interface ProducedChunk {
  written: Uint8Array;
  /** Written values, for statistics; or, for ternary tensors, their trit counts. */
  values?: Float32Array;
  ternary?: TernaryCounts;
  overflow: number;
  ternaryScale?: number;
}

/** One tensor's bytes with its statistics, counts and overflow, and its meta.json row. */
function exportTensor(
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
      if (chunk.values) stats.add(chunk.values);
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

function describeAction(ctx: ProduceContext, src: SourceTensor, plan: GgufTensorPlan): string {
  const to = codecOf(plan.type).name;
  if (src.packedScale) return `unpacked from U8 codes × weight_scale, written ${to}`;
  if (src.plan.rule.role === "projection" && ctx.ternary) {
    return `ternarized (absmean, per tensor), written ${to}`;
  }
  if (src.plan.rule.projection === "attn_q" || src.plan.rule.projection === "attn_k") {
    if (ctx.permuteQK) return `rows permuted for llama.cpp RoPE, written ${to}`;
  }
  return src.source.dtype === to ? "copied" : `converted ${src.source.dtype} → ${to}`;
}

const STREAM_CHUNK = 1 << 22;

/** Yields one tensor's bytes as written, with its values for statistics. */
async function* produceTensor(
  ctx: ProduceContext,
  src: SourceTensor,
  plan: GgufTensorPlan,
): AsyncGenerator<ProducedChunk> {
  const outType = codecOf(plan.type).name as FloatOutType;
  const role = src.plan.rule.role;
  const [rows, cols] = plan.shape as [number, number];

  if (src.packedScale) {
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
    const convention = packedScaleConvention(ctx.quant, ctx.configPath);
    const s = Math.fround(convention === "divide" ? 1 / ws : ws);
    yield { ...ternaryChunk(trits, s, outType, ctx.overflowMode), ternaryScale: s };
    return;
  }

  if (role === "projection" && ctx.ternary) {
    // The checkpoint holds master weights: WQ(W) is what the model computes (FORMATS.md §4).
    // Two streamed passes (the absmean scale, then the trits) keep memory at one chunk
    // whatever the tensor's size; the second read comes from the page cache.
    yield* ternarizeStreamed(ctx, src, outType);
    return;
  }

  const permute = ctx.permuteQK &&
    (src.plan.rule.projection === "attn_q" || src.plan.rule.projection === "attn_k");
  if (permute) {
    const nHead = src.plan.rule.projection === "attn_q" ? ctx.nHead : ctx.nHeadKv;
    const values = toF32(src.source.dtype, await ctx.ckpt.read(src.hfName), src.hfName);
    yield fromF32(permuteQKRows(values, rows, cols, nHead, src.hfName), outType, ctx.overflowMode);
    return;
  }

  // Embeddings, output, norms and Llama projections: streamed, converted chunk by chunk.
  for await (const chunk of ctx.ckpt.stream(src.hfName, STREAM_CHUNK)) {
    yield convertChunk(src.source.dtype, chunk, outType, ctx.overflowMode, src.hfName);
  }
}

/** Output bits of −s, 0, +s in a 16-bit output type. */
function ternaryBits16(scale: number, outType: FloatOutType, overflowMode: "refuse" | "clamp") {
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
    const table = new Ternary16(dtype === "BF16" ? bf16ToF32 : f16ToF32, src.hfName);
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
      const out = new Uint16Array(source.length);
      table.map(source, out);
      yield {
        written: new Uint8Array(out.buffer),
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
  overflowMode: "refuse" | "clamp",
): ProducedChunk {
  const table = fromF32(new Float32Array([-scale, 0, scale]), outType, overflowMode);
  let written: Uint8Array;
  if (outType === "F32") {
    const out = new Float32Array(trits.length);
    const pos = table.values[2]!;
    for (let i = 0; i < trits.length; i++) out[i] = trits[i]! * pos;
    written = new Uint8Array(out.buffer);
  } else {
    const bits = new Uint16Array(table.written.buffer, table.written.byteOffset, 3);
    const neg = bits[0]!, zero = bits[1]!, pos = bits[2]!;
    const out = new Uint16Array(trits.length);
    for (let i = 0; i < trits.length; i++) {
      const t = trits[i]!;
      out[i] = t > 0 ? pos : t < 0 ? neg : zero;
    }
    written = new Uint8Array(out.buffer);
  }
  let nonzero = 0, negatives = 0;
  for (let i = 0; i < trits.length; i++) {
    const t = trits[i]!;
    nonzero += t & 1;
    negatives += (t >>> 31) & 1;
  }
  return {
    written,
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
