/**
 * Ternary quantization of a clean float GGUF (the export's `clean-f16.gguf`)
 * to I2_S (bitnet.cpp), TQ2_0 or TQ1_0 (upstream llama.cpp), written with its
 * `.fingerprint`, `.meta.json` and gguf-hash manifest through temporary files
 * that are renamed into place only when everything is complete.
 *
 * Flow: open the input → check its hyper-parameters and tensor table
 * against its architecture's (lib/arch: every tensor present, with its shape;
 * exit 9 otherwise) → decide every tensor with the one rule table
 * (rules.ts) → check each projection (float type, 2-D, rows a multiple of
 * the format's block) and scan it once (is it ternary? which s?) — so a
 * refusal comes before anything is written → write the header (metadata
 * copied unchanged but for `general.file_type` and
 * `general.quantization_version`) → stream each tensor: kept tensors byte for
 * byte, projections as trits packed slab by slab by the type's codec row (or,
 * for ternary F16/BF16 into I2_S, by the one-pass WebAssembly packer of
 * lib/codecs/i2s_pack.ts) → meta.json records what each tensor became and why.
 *
 * Tensors are read synchronously in slabs of at most a few hundred KiB
 * (slab_reader.ts); the input's sha256 is computed meanwhile by a worker on
 * the other core, and the output is written and hashed by others
 * (lib/io/pipelined_writer.ts).
 *
 * A projection that is not ternary (a Llama checkpoint, say) is refused with
 * a {@link NotTernaryError} (exit 17) unless `ternarize` is set, which applies
 * BitNet b1.58's absmean WQ (docs/reference/formats.md, "BitNet b1.58
 * forward pass") and changes the model.
 *
 * @example
 * ```ts
 * import { quantizeGguf } from "./quantize.ts";
 * const r = await quantizeGguf({ input: "models/clean/clean-f16.gguf", type: "i2_s" });
 * console.log(r.ggufPath, r.fingerprint); // models/clean/clean-i2_s.gguf sha256-...
 * ```
 * @module
 */

import { basename, dirname, resolve } from "node:path";
import { ModelShapeError, NonFiniteError, NotTernaryError, UsageError } from "../errors.ts";
import { isJsonObject, readJsonIfExists } from "../io/json.ts";
import { ternarizeAbsmean, TRIT_CODE, tritsFromTernary } from "../codecs/ternary.ts";
import { classifyBits16, firstInvalid16, ternaryCodeTable16 } from "../codecs/ternary_bits.ts";
import { codecOf, type GgmlType } from "../codecs/table.ts";
import { type GgufFile, type GgufTensorInfo, openGguf } from "../gguf/reader.ts";
import { readHparams } from "../arch/hparams.ts";
import { checkModelTensors } from "../arch/model_tensors.ts";
import { GgufWriter } from "../gguf/writer.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { sha256InWorker } from "../io/hash_worker.ts";
import { companionPaths, type GgufMeta, type MetaSource, TOOL } from "../provenance/meta.ts";
import {
  commitModel,
  companionHasher,
  type ModelOutputOptions,
  type ProducedTensor,
  writeGguf,
  type WrittenGguf,
  type WrittenModel,
} from "../provenance/companions.ts";
import { configFromGguf, tokenizerFromGguf } from "../provenance/meta.ts";
import { StatsAccumulator } from "../stats/summary.ts";
import { type Bits16Packer, type QuantFormat, quantFormat, type QuantTypeName } from "./formats.ts";
import { SlabReader } from "../io/slab_reader.ts";
import { Stats16, STATS16_BATCH } from "../codecs/stats16.ts";
import { copyMetadata, QUANTIZATION_VERSION } from "./metadata.ts";
import { FLOAT_LAYER, quantizeDecision, rowBlockDecision, type TensorDecision } from "./rules.ts";
import { BITLINEAR_KEY, bitlinearFromGguf } from "../arch/bitlinear.ts";
import { ggufTensorRole } from "../arch/registry.ts";
import {
  CHUNK_ELEMENTS,
  floatCodecOf,
  scanTernary,
  streamFloatValues,
  type TernaryScan,
} from "./scan.ts";

/** Options of {@link quantizeGguf} (the flags of `model-quantize-i2s`). */
export interface QuantizeOptions extends ModelOutputOptions {
  /** The float GGUF to quantize (F32/F16/BF16 projections). */
  input: string;
  /** Output folder; default the input's folder. */
  outDir?: string;
  /** Target format; default i2_s. */
  type?: QuantTypeName;
  /** Ternarize non-ternary projections with absmean instead of refusing them. */
  ternarize?: boolean;
  /** Output file stem; default `clean-<type>`. */
  name?: string;
  /** Write `<stem>.gguf-hash` (llama.cpp gguf-hash format); default true. */
  hashManifest?: boolean;
}

/** What {@link quantizeGguf} wrote (`manifestPath` null when `hashManifest` was false). */
export type QuantizeResult = WrittenModel;

/** One tensor of the input and what becomes of it. */
interface TensorJob {
  readonly info: GgufTensorInfo;
  readonly decision: TensorDecision;
  readonly outType: GgmlType;
  /** Projections only. */
  readonly scan?: TernaryScan;
}

/** How many offending tensors an error message names before "and N more". */
const NAMED_IN_ERRORS = 6;

function listNames(items: string[]): string {
  const shown = items.slice(0, NAMED_IN_ERRORS).join("; ");
  return items.length > NAMED_IN_ERRORS
    ? `${shown}; and ${items.length - NAMED_IN_ERRORS} more`
    : shown;
}

const shapeText = (t: GgufTensorInfo) => `[${t.shape.join(", ")}]`;

/**
 * Every tensor's decision; each projection checked for type and shape. A
 * projection whose rows are not a multiple of the format's block is kept in
 * its float type (rule {@link rowBlockDecision}), named in a warning and in
 * meta.json: never packed wrongly, never a refusal of the whole model.
 */
function decideTensors(src: GgufFile, format: QuantFormat, warn: (m: string) => void) {
  const kept: string[] = [];
  const block = format.codec.ternary.rowBlock;
  // A llama file listing its BitLinear projections: the others are float layers of the model.
  const listed = src.kv(BITLINEAR_KEY) ? bitlinearFromGguf(src, false) : null;
  const decided = src.tensors.map((info) => {
    const decision = quantizeDecision(info.name), kind = ggufTensorRole(info.name)?.projection;
    const floatLayer = listed && decision.decision === "quantize" && kind && !listed.includes(kind);
    return { info, decision: floatLayer ? FLOAT_LAYER : decision };
  });
  for (const entry of decided) {
    const { info, decision } = entry;
    if (decision.decision !== "quantize") continue;
    floatCodecOf(src, info);
    if (info.ne.length !== 2) {
      throw new ModelShapeError(
        `${src.path}: projection ${info.name} has shape ${
          shapeText(info)
        }; a projection is a 2-D matrix`,
      );
    }
    const row = info.ne[0]!;
    if (row % block !== 0) {
      entry.decision = rowBlockDecision(row, block, format.codec.name, codecOf(info.type).name);
      kept.push(`${info.name} ${shapeText(info)}`);
    }
  }
  if (kept.length > 0) {
    const quantized = decided.filter((d) => d.decision.decision === "quantize").length;
    warn(
      `${kept.length} projection(s) kept in their float type (F16 in a default export), because each row (ne[0]) must be a multiple of the ${block}-element ${format.codec.name} block: ${
        listNames(kept)
      }; ${quantized} projection(s) quantized to ${format.codec.name}`,
    );
  }
  return decided;
}

/**
 * Decides every tensor and checks every projection before anything is
 * written: type, shape, row block, ternary values.
 */
async function planJobs(
  src: GgufFile,
  format: QuantFormat,
  ternarize: boolean,
  warn: (m: string) => void,
): Promise<TensorJob[]> {
  const jobs: TensorJob[] = [];
  const notTernary: string[] = [];
  for (const { info, decision } of decideTensors(src, format, warn)) {
    if (decision.decision !== "quantize") {
      jobs.push({ info, decision, outType: info.type });
      continue;
    }
    // Without --ternarize, one chunk per projection is enough to refuse a float
    // checkpoint up front; the encoding pass checks every value again.
    const scan = await scanTernary(src, info, { absmean: ternarize, full: ternarize });
    if (!scan.ternary) {
      const seen = scan.witnesses.map((v) => String(v)).join(" and ");
      notTernary.push(`${info.name} (${seen ? `holds ${seen}` : "not one magnitude"})`);
    }
    jobs.push({ info, decision, outType: format.codec.id, scan });
  }
  if (notTernary.length > 0 && !ternarize) {
    throw new NotTernaryError(
      `${src.path}: ${notTernary.length} projection(s) are not ternary (every value exactly -s, 0 or +s): ${
        listNames(notTernary)
      }. This is not a BitNet b1.58 export (a Llama checkpoint, or master weights). ` +
        `Pass --ternarize to ternarize them with absmean (BitNet's WQ), which changes the model.`,
    );
  }
  if (notTernary.length > 0) {
    warn(
      `${notTernary.length} projection(s) were not ternary and were ternarized with absmean (the model changes): ${
        listNames(notTernary.map((n) => n.split(" ")[0]!))
      }`,
    );
  }
  return jobs;
}

/**
 * Bytes per read when copying: a multiple of every element size. It is also
 * the statistics' chunk (each chunk's sums are added to the totals), so it
 * fixes meta.json's figures to the last bit: keep it.
 */
const COPY_CHUNK_BYTES = 1 << 22;

/** Summary figures of a copied tensor, and where its next slab is read to. */
interface CopyStats {
  /** Where each slab is read to: whole chunks of {@link COPY_CHUNK_BYTES}, one or more. */
  readonly buffer: Uint8Array;
  /** Each chunk of a slab read into {@link buffer}, yielded once its figures are in. */
  chunks(bytes: Uint8Array): Iterable<Uint8Array>;
  result(): { rms: number; min: number; max: number; nonFinite: number };
}

/** The chunks of `bytes`, {@link COPY_CHUNK_BYTES} each (the last one shorter). */
function* splitChunks(bytes: Uint8Array): Generator<{ chunk: Uint8Array; at: number }> {
  for (let at = 0; at < bytes.length; at += COPY_CHUNK_BYTES) {
    yield { chunk: bytes.subarray(at, Math.min(at + COPY_CHUNK_BYTES, bytes.length)), at };
  }
}

/**
 * Statistics of a copied tensor from its bytes: 16-bit floats in WebAssembly
 * (lib/codecs/stats16.ts; slabs of four chunks, summed four at a time), F32
 * decoded into a {@link StatsAccumulator}, none for other types. Both sum
 * each chunk as the accumulator does.
 */
function copyStats(job: TensorJob): CopyStats {
  const { float, name } = codecOf(job.info.type);
  const nbytes = job.info.nbytes;
  if (float?.bytes === 2) {
    const stats = new Stats16(
      name as "F16" | "BF16",
      Math.min(COPY_CHUNK_BYTES, nbytes),
      nbytes > COPY_CHUNK_BYTES ? STATS16_BATCH : 1,
    );
    const batch = STATS16_BATCH * COPY_CHUNK_BYTES;
    return {
      buffer: stats.input.subarray(0, Math.min(stats.input.length, nbytes)),
      *chunks(bytes) {
        const four = bytes.length === batch;
        if (four) stats.sumFour(COPY_CHUNK_BYTES / 2, COPY_CHUNK_BYTES);
        for (const { chunk, at } of splitChunks(bytes)) {
          if (four) stats.mergeChunk(at / COPY_CHUNK_BYTES);
          else stats.add(chunk.length / 2, at);
          yield chunk;
        }
      },
      result: () => stats.result(),
    };
  }
  const stats = new StatsAccumulator();
  const size = Math.min(COPY_CHUNK_BYTES, nbytes);
  const values = float ? new Float32Array(Math.ceil(size / float.bytes)) : null;
  return {
    buffer: new Uint8Array(size),
    *chunks(bytes) {
      if (values) stats.add(float!.decodeInto(bytes, values));
      yield bytes;
    },
    result: () => stats.result(),
  };
}

/** Byte-for-byte copy, read slab by slab; statistics from the same bytes when the type is float. */
function copyTensor(reader: SlabReader, src: GgufFile, job: TensorJob): ProducedTensor {
  const { name: typeName } = codecOf(job.info.type);
  const { fileOffset, nbytes, name } = job.info;
  const stats = copyStats(job);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const { bytes } of reader.slabs(fileOffset, nbytes, stats.buffer, `tensor ${name}`)) {
      for (const chunk of stats.chunks(bytes)) {
        const { nonFinite } = stats.result();
        if (nonFinite > 0) {
          throw new NonFiniteError(
            `${src.path}: tensor ${name} holds ${nonFinite} NaN or ±inf value(s); a clean file holds finite values only`,
          );
        }
        yield chunk;
      }
    }
  }
  return {
    chunks: chunks(),
    row: () => {
      const s = stats.result();
      return {
        hf_name: null,
        gguf_type: typeName,
        source_dtype: typeName,
        rms: s.rms,
        min: s.min,
        max: s.max,
        action: `copied byte-for-byte (rule ${job.decision.rule}: ${job.decision.reason})`,
      };
    },
  };
}

/** The up-front scan saw only the start of the tensor: values further on may still break it. */
function notTernaryLater(src: GgufFile, name: string, what: string): NotTernaryError {
  return new NotTernaryError(
    `${src.path}: projection ${name} is not ternary: ${what}. Pass --ternarize to ternarize it with absmean (which changes the model).`,
  );
}

/** {@link notTernaryLater} for the first 16-bit pattern of a chunk that `table` finds invalid. */
function invalidBits16(
  src: GgufFile,
  job: TensorJob,
  bits: Uint16Array,
  table: Uint8Array,
  chunkStart: number,
): NotTernaryError {
  const i = firstInvalid16(bits, table);
  const value = floatCodecOf(src, job.info).value(bits[i]!);
  const what = `element ${chunkStart + i} is ${value}, not -s, 0 or +s (s = ${job.scan!.scale})`;
  return notTernaryLater(src, job.info.name, what);
}

/** F16/BF16 ternary values: one table lookup per element (lib/codecs/ternary_bits.ts). */
async function* tritsFromTable(
  src: GgufFile,
  job: TensorJob,
  counts: Float64Array,
): AsyncGenerator<Int8Array> {
  const table = ternaryCodeTable16(job.scan!.scaleBits!);
  const trits = new Int8Array(CHUNK_ELEMENTS);
  let done = 0;
  for await (const bytes of src.streamTensor(job.info, CHUNK_ELEMENTS * 2)) {
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    const out = trits.subarray(0, bits.length);
    classifyBits16(bits, table, counts, out);
    if (counts[3]! > 0) throw invalidBits16(src, job, bits, table, done);
    done += bits.length;
    yield out;
  }
}

/** Trits of each chunk of values: the exact ones, or absmean's; counted into `counts`. */
async function* tritsFromValues(
  src: GgufFile,
  job: TensorJob,
  scale: number,
  counts: Float64Array,
): AsyncGenerator<Int8Array> {
  const name = job.info.name;
  let done = 0;
  for await (const values of streamFloatValues(src, job.info)) {
    let trits: Int8Array;
    try {
      trits = job.scan!.ternary
        ? tritsFromTernary(values, scale, `${name} [from element ${done}]`)
        : ternarizeAbsmean(values, scale, name).trits;
    } catch (e) {
      throw e instanceof NotTernaryError ? notTernaryLater(src, name, e.message) : e;
    }
    const bytes = new Uint8Array(trits.buffer, trits.byteOffset, trits.length);
    for (let i = 0; i < bytes.length; i++) counts[TRIT_CODE[bytes[i]!]!]!++;
    done += values.length;
    yield trits;
  }
}

/** The meta.json row of a quantized projection: the values a reader gets back, trit × stored scale. */
function quantizedRow(job: TensorJob, format: QuantFormat, scale: number, counts: Float64Array) {
  const d = format.codec.ternary.storedScale(scale);
  const [neg, zero, pos] = [counts[0]!, counts[1]!, counts[2]!];
  const count = neg + zero + pos;
  const how = job.scan!.ternary
    ? `ternary values kept exactly (s = ${scale})`
    : `ternarized with absmean (s = max(mean|W|, 1e-5) = ${scale}): the values changed`;
  const stored = d === scale ? "" : `; scale stored as f16 ${d}`;
  const typeName = format.codec.name;
  return {
    hf_name: null,
    gguf_type: typeName,
    source_dtype: codecOf(job.info.type).name,
    rms: count ? d * Math.sqrt((neg + pos) / count) : 0,
    min: neg ? -d : zero ? 0 : d,
    max: pos ? d : zero ? 0 : -d,
    action:
      `quantized:${typeName} (rule ${job.decision.rule}: ${job.decision.reason}); ${how}${stored}`,
    ternary_scale: d,
  };
}

/**
 * A ternary F16/BF16 projection packed by the format's one-pass kernel: each
 * slab is read into the kernel's memory and comes out as the format's bytes.
 */
async function* packedFromBits16(
  reader: SlabReader,
  src: GgufFile,
  job: TensorJob,
  packer: Bits16Packer,
  counts: Float64Array,
): AsyncGenerator<Uint8Array> {
  const { fileOffset, nbytes, name } = job.info;
  const scaleBits = job.scan!.scaleBits!;
  for (const { bytes, done } of reader.slabs(fileOffset, nbytes, packer.input, `tensor ${name}`)) {
    const packed = packer.pack(bytes.length / 2, scaleBits, counts);
    if (packed === null) {
      const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      throw invalidBits16(src, job, bits, ternaryCodeTable16(scaleBits), done / 2);
    }
    yield packed;
  }
}

/**
 * Trits of each chunk (from the exact values, or absmean), packed slab by
 * slab; or, for a ternary F16/BF16 tensor and a format with a one-pass
 * packer, the packer's bytes.
 */
function quantizeTensor(
  reader: SlabReader,
  src: GgufFile,
  job: TensorJob,
  format: QuantFormat,
  packer: Bits16Packer | null,
): ProducedTensor {
  const scan = job.scan!;
  const scale = scan.ternary ? scan.scale : scan.absmeanScale!;
  const n = job.info.ne[0]! * job.info.ne[1]!;
  const encoder = format.codec.ternary.encoder(n, scale, job.info.name);
  // counts[0..2]: −1, 0, +1; counts[3]: the table found an invalid value; [4]: TRIT_CODE's invalid.
  const counts = new Float64Array(5);
  const exact16 = scan.ternary && scan.scaleBits !== undefined;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    if (exact16 && scan.scaleBits !== 0 && packer) {
      yield* packedFromBits16(reader, src, job, packer, counts);
    } else {
      const slabs = exact16
        ? tritsFromTable(src, job, counts)
        : tritsFromValues(src, job, scale, counts);
      for await (const trits of slabs) yield encoder.encode(trits);
    }
    const tail = encoder.finish();
    if (tail.length > 0) yield tail;
  }
  return { chunks: chunks(), row: () => quantizedRow(job, format, scale, counts) };
}

/** hf_name of each tensor, from the input's meta.json when it describes this very file. */
async function sourceMeta(input: string, inputSha: string, warn: (m: string) => void) {
  const path = companionPaths(input).meta;
  const json = await readJsonIfExists(path);
  if (!json) return null;
  if (json.fingerprint !== `sha256-${inputSha}`) {
    warn(`${path} does not describe ${input} (its fingerprint differs): hf names not carried over`);
    return null;
  }
  const hfNames = new Map<string, string | null>();
  if (Array.isArray(json.tensors)) {
    for (const row of json.tensors as Record<string, unknown>[]) {
      if (typeof row?.gguf_name === "string") {
        hfNames.set(row.gguf_name, typeof row.hf_name === "string" ? row.hf_name : null);
      }
    }
  }
  return { path, json, hfNames };
}

/** The output file name, refused when it has folders in it or would replace the input. */
function outputName(opts: QuantizeOptions, format: QuantFormat, outDir: string) {
  const stem = opts.name ?? `clean-${format.name}`;
  if (stem.length === 0 || /[\\/]/.test(stem)) {
    throw new UsageError(`--name must be a file stem without folders, got "${stem}"`);
  }
  const outName = `${stem}.gguf`;
  if (resolve(outDir, outName) === resolve(opts.input)) {
    throw new UsageError(
      `the output ${
        resolve(outDir, outName)
      } would replace the input: choose another --name or out_dir`,
    );
  }
  return { stem, outName };
}

/** What {@link quantizeMeta} records. */
interface QuantizeRecord {
  readonly opts: QuantizeOptions;
  readonly format: QuantFormat;
  readonly src: GgufFile;
  readonly jobs: readonly TensorJob[];
  readonly outName: string;
  readonly gguf: WrittenGguf;
  readonly inputSha: string;
  readonly srcMeta: Awaited<ReturnType<typeof sourceMeta>>;
  readonly warnings: string[];
}

/** The meta.json of the quantized file. */
async function quantizeMeta(r: QuantizeRecord): Promise<GgufMeta> {
  const { opts, format, srcMeta, gguf, src } = r;
  for (const row of gguf.tensors) row.hf_name = srcMeta?.hfNames.get(row.gguf_name) ?? null;
  const quantized = r.jobs.filter((p) => p.decision.decision === "quantize").length;
  const sources: MetaSource[] = [{
    path: basename(opts.input),
    size: (await Deno.stat(opts.input)).size,
    sha256: r.inputSha,
  }];
  const fromMeta = srcMeta?.json;
  return {
    format: "gguf_v3",
    tool: { ...TOOL },
    precision: format.name,
    norms_format: "float_preserved",
    architecture: src.architecture,
    file: r.outName,
    fingerprint: `sha256-${gguf.sha256}`,
    size: gguf.bytes,
    options: {
      type: format.name,
      ggml_type: format.codec.id,
      file_type: format.fileType,
      quantization_version: QUANTIZATION_VERSION,
      runs_in: format.runsIn,
      ternarize: opts.ternarize === true,
      input: basename(opts.input),
      input_fingerprint: `sha256-${r.inputSha}`,
      source_meta: srcMeta ? basename(srcMeta.path) : null,
      quantized_tensors: quantized,
      copied_tensors: r.jobs.length - quantized,
    },
    sources,
    config: isJsonObject(fromMeta?.config)
      ? fromMeta.config
      : configFromGguf(src, src.architecture),
    tokenizer: isJsonObject(fromMeta?.tokenizer) ? fromMeta.tokenizer : tokenizerFromGguf(src),
    tensors: gguf.tensors,
    warnings: r.warnings,
    ...(opts.timestamp ? { created_at: new Date().toISOString() } : {}),
  };
}

/** Warns when the runtime of `format` cannot load a file of architecture `archName`. */
function warnUnloadableUpstream(
  input: string,
  archName: string,
  format: QuantFormat,
  warn: (m: string) => void,
): void {
  const loads = format.loadsArchitectures;
  if (!loads || loads.includes(archName)) return;
  warn(
    `${input}: general.architecture is "${archName}", but upstream llama.cpp loads ` +
      `${format.codec.name} files only as ${loads.map((a) => `"${a}"`).join(" or ")} ` +
      `(export with --arch-name bitnet)`,
  );
}

/** Runs the quantization (see the module comment). */
export async function quantizeGguf(opts: QuantizeOptions): Promise<QuantizeResult> {
  const format = quantFormat(opts.type ?? "i2_s");
  const outDir = opts.outDir ?? dirname(opts.input);
  const { stem, outName } = outputName(opts, format, outDir);
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };
  // The input's digest (provenance) is computed on another core meanwhile. It is the longest
  // thread of the run (4.2 s of the 2B model's ≈ 5.5), so it starts before the header is parsed.
  const inputHash = sha256InWorker(opts.input);
  let src: GgufFile;
  let reader: SlabReader;
  try {
    src = await openGguf(opts.input);
  } catch (e) {
    inputHash.cancel();
    throw e;
  }
  try {
    reader = SlabReader.open(opts.input, src.fileSize);
  } catch (e) {
    inputHash.cancel();
    src.close();
    throw e;
  }
  try {
    // The model against its architecture's tensor table first, as the engine checks it.
    checkModelTensors(src, readHparams(src));
    warnUnloadableUpstream(opts.input, src.architecture, format, warn);
    const jobs = await planJobs(src, format, opts.ternarize === true, warn);
    const packer = format.bits16Packer?.() ?? null;
    const w = new GgufWriter(src.alignment);
    copyMetadata(w, src, format.fileType);
    for (const p of jobs) w.addTensorInfo(p.info.name, p.info.shape, p.outType);
    const outputs = await AtomicOutputs.create(
      outDir,
      opts.commitHooks ? { hooks: opts.commitHooks } : {},
    );
    try {
      const ggufFile = await outputs.file(outName);
      const hashes = opts.hashManifest === false ? null : companionHasher(opts.manifest);
      const gguf = await writeGguf(ggufFile, w, hashes, (tensor, i) => {
        opts.onProgress?.(i, jobs.length, tensor.name);
        const job = jobs[i]!;
        return job.decision.decision === "quantize"
          ? quantizeTensor(reader, src, job, format, packer)
          : copyTensor(reader, src, job);
      });
      opts.onProgress?.(jobs.length, jobs.length, "");
      const inputSha = await inputHash.digest;
      const srcMeta = await sourceMeta(opts.input, inputSha, warn);
      const record = { opts, format, src, jobs, outName, gguf, inputSha, srcMeta, warnings };
      const meta = await quantizeMeta(record);
      return await commitModel(outputs, ggufFile, stem, meta, gguf.sha256, hashes);
    } catch (e) {
      await outputs.abort();
      throw e;
    }
  } finally {
    inputHash.cancel();
    reader.close();
    src.close();
  }
}
