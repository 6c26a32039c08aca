/**
 * Ternary quantization of a clean float GGUF (the export's `clean-f16.gguf`)
 * to I2_S (bitnet.cpp), TQ2_0 or TQ1_0 (upstream llama.cpp), written with its
 * `.fingerprint`, `.meta.json` and gguf-hash manifest through temporary files
 * that are renamed into place only when everything is complete.
 *
 * Flow: open the input → decide every tensor with the one rule table
 * (rules.ts) → check each projection (float type, 2-D, rows a multiple of
 * the format's block) and scan it once (is it ternary? which s?) — so a
 * refusal comes before anything is written → write the header (metadata
 * copied unchanged but for `general.file_type` and
 * `general.quantization_version`) → stream each tensor: kept tensors byte for
 * byte, projections as trits packed slab by slab → meta.json records what
 * each tensor became and why.
 *
 * A projection that is not ternary (a Llama checkpoint, say) is refused with
 * a {@link NotTernaryError} (exit 17) unless `ternarize` is set, which applies
 * BitNet b1.58's absmean WQ (FORMATS.md §4) and changes the model.
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
import { ModelShapeError, NotTernaryError, UnsupportedError, UsageError } from "../errors.ts";
import { readJsonFile } from "../arch/config.ts";
import { ternarizeAbsmean, tritsFromTernary } from "../codecs/ternary.ts";
import { type GgufFile, type GgufTensorInfo, openGguf } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import { GGML_TYPES, GgmlType } from "../gguf/types.ts";
import { bf16ToF32, f16ToF32 } from "../codecs/float.ts";
import { GgufWriter } from "../gguf/writer.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import {
  companionPaths,
  type GgufMeta,
  type MetaSource,
  type MetaTensor,
  TOOL,
} from "../provenance/meta.ts";
import { StatsAccumulator } from "../stats/summary.ts";
import { type QuantFormat, quantFormat, type QuantTypeName } from "./formats.ts";
import { copyMetadata, QUANTIZATION_VERSION } from "./metadata.ts";
import { classifyBits16, firstInvalid16, ternaryCodeTable16 } from "./ternary_bits.ts";
import { sha256InWorker } from "../io/hash_worker.ts";
import { quantizeDecision, type TensorDecision } from "./rules.ts";
import {
  CHUNK_ELEMENTS,
  decodeFloatChunk,
  isFloatInput,
  scanTernary,
  streamFloatValues,
  type TernaryScan,
} from "./scan.ts";
import {
  companionHasher,
  lastTensorSha256,
  removeStaleCompanions,
  writeCompanions,
} from "../provenance/companions.ts";
import { PayloadHashing } from "../provenance/gguf_hash.ts";
import { configFromGguf, tokenizerFromGguf } from "../provenance/meta_from_gguf.ts";

/** Options of {@link quantizeGguf} (the flags of `model-quantize-i2s`). */
export interface QuantizeOptions {
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
  /** Write `<stem>.gguf-hash` (xxh64 + sha256, llama.cpp gguf-hash format); default true. */
  hashManifest?: boolean;
  /** Record the time in meta.json (off by default: reproducible files). */
  timestamp?: boolean;
  /** Called before each tensor is written, and once at the end. */
  onProgress?: (done: number, total: number, tensor: string) => void;
  /** Called with each warning (also recorded in meta.json). */
  onWarning?: (message: string) => void;
}

/** What {@link quantizeGguf} wrote. */
export interface QuantizeResult {
  ggufPath: string;
  metaPath: string;
  fingerprintPath: string;
  /** Null when `hashManifest` was false. */
  manifestPath: string | null;
  /** `sha256-<hex>` of the written GGUF. */
  fingerprint: string;
  meta: GgufMeta;
  /** Companions of an earlier file (.sig, .baseline.*) removed because they no longer match. */
  removed: string[];
}

/** One tensor of the plan. */
interface PlannedTensor {
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
 * Decides every tensor and checks every projection before anything is
 * written: type, shape, row block, ternary values.
 */
async function planTensors(
  src: GgufFile,
  format: QuantFormat,
  ternarize: boolean,
  warn: (m: string) => void,
): Promise<PlannedTensor[]> {
  const badRows: string[] = [];
  const plan: { info: GgufTensorInfo; decision: TensorDecision }[] = [];
  for (const info of src.tensors) {
    const decision = quantizeDecision(info.name);
    plan.push({ info, decision });
    if (decision.decision !== "quantize") continue;
    const typeName = GGML_TYPES[info.type].name;
    if (!isFloatInput(info.type)) {
      throw new UnsupportedError(
        `${src.path}: tensor ${info.name} is ${typeName}; quantize from the float export (F32, F16 or BF16 projections)`,
      );
    }
    if (info.ne.length !== 2) {
      throw new ModelShapeError(
        `${src.path}: projection ${info.name} has shape ${
          shapeText(info)
        }; a projection is a 2-D matrix`,
      );
    }
    const row = info.ne[0]!;
    if (row % format.rowBlock !== 0) {
      badRows.push(`${info.name} ${shapeText(info)} (rows of ${row})`);
    }
  }
  if (badRows.length > 0) {
    throw new NotTernaryError(
      `${src.path}: cannot quantize to ${format.ggmlName}: each row (ne[0], the last dimension of the shape) must be a multiple of its ${format.rowBlock}-element block, and ${badRows.length} projection(s) are not: ${
        listNames(badRows)
      }`,
    );
  }

  const out: PlannedTensor[] = [];
  const notTernary: string[] = [];
  for (const { info, decision } of plan) {
    if (decision.decision !== "quantize") {
      out.push({ info, decision, outType: info.type });
      continue;
    }
    // Without --ternarize, one chunk per projection is enough to refuse a float
    // checkpoint up front; the encoding pass checks every value again.
    const scan = await scanTernary(src, info, { absmean: ternarize, full: ternarize });
    if (!scan.ternary) {
      const seen = scan.witnesses.map((v) => String(v)).join(" and ");
      notTernary.push(`${info.name} (${seen ? `holds ${seen}` : "not one magnitude"})`);
    }
    out.push({ info, decision, outType: format.ggml, scan });
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
  return out;
}

/** Bytes per read when copying (a multiple of every element size). */
const COPY_CHUNK_BYTES = 1 << 22;

/** One tensor's bytes as written, with its meta.json row filled in at the end. */
interface Produced {
  chunks: AsyncGenerator<Uint8Array>;
  row: () => Omit<MetaTensor, "gguf_name" | "hf_name" | "shape" | "sha256">;
}

/** Byte-for-byte copy; statistics from the same bytes, decoded, when the type is float. */
function copyTensor(src: GgufFile, p: PlannedTensor): Produced {
  const stats = new StatsAccumulator();
  const float = isFloatInput(p.info.type);
  const typeName = GGML_TYPES[p.info.type].name;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const values = new Float32Array(
      float ? Math.ceil(Math.min(COPY_CHUNK_BYTES, p.info.nbytes) / 2) : 0,
    );
    for await (const bytes of src.streamTensor(p.info, COPY_CHUNK_BYTES)) {
      if (float) stats.add(decodeFloatChunk(p.info.type, bytes, values));
      yield bytes;
    }
  }
  return {
    chunks: chunks(),
    row: () => {
      const s = stats.result();
      return {
        gguf_type: typeName,
        source_dtype: typeName,
        rms: s.rms,
        min: s.min,
        max: s.max,
        action: `copied byte-for-byte (rule ${p.decision.rule}: ${p.decision.reason})`,
      };
    },
  };
}

/** A trit's byte (−1 is 0xff) → its code (0: −1, 1: 0, 2: +1), for counting without branches. */
const TRIT_CODES = (() => {
  const t = new Uint8Array(256).fill(3);
  t[0xff] = 0;
  t[0] = 1;
  t[1] = 2;
  return t;
})();

/** Trits of each chunk (from the exact values, or absmean), packed slab by slab. */
function quantizeTensor(src: GgufFile, p: PlannedTensor, format: QuantFormat): Produced {
  const scan = p.scan!;
  const name = p.info.name;
  const ternary = scan.ternary;
  const scale = ternary ? scan.scale : scan.absmeanScale!;
  const n = p.info.ne[0]! * p.info.ne[1]!;
  const encoder = format.encoder(n, scale, name);
  const counts = new Float64Array(4);
  let done = 0;
  // The up-front scan saw only the start of the tensor: values further on may still break it.
  const notTernaryLater = (what: string) =>
    new NotTernaryError(
      `${src.path}: projection ${name} is not ternary: ${what}. Pass --ternarize to ternarize it with absmean (which changes the model).`,
    );
  const tally = (trits: Int8Array) => {
    const bits = new Uint8Array(trits.buffer, trits.byteOffset, trits.length);
    for (let i = 0; i < bits.length; i++) counts[TRIT_CODES[bits[i]!]!]!++;
  };
  async function* fromTable(scaleBits: number): AsyncGenerator<Int8Array> {
    // F16/BF16 ternary values: one table lookup per element (ternary_bits.ts).
    const table = ternaryCodeTable16(scaleBits);
    const trits = new Int8Array(CHUNK_ELEMENTS);
    for await (const bytes of src.streamTensor(p.info, CHUNK_ELEMENTS * 2)) {
      const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
      const out = trits.subarray(0, bits.length);
      classifyBits16(bits, table, counts, out);
      if (counts[3]! > 0) {
        const i = firstInvalid16(bits, table);
        const decode = p.info.type === GgmlType.F16 ? f16ToF32 : bf16ToF32;
        throw notTernaryLater(
          `element ${done + i} is ${decode(bits[i]!)}, not -s, 0 or +s (s = ${scale})`,
        );
      }
      done += bits.length;
      yield out;
    }
  }
  async function* fromValues(): AsyncGenerator<Int8Array> {
    for await (const values of streamFloatValues(src, p.info)) {
      let trits: Int8Array;
      try {
        trits = ternary
          ? tritsFromTernary(values, scale, `${name} [from element ${done}]`)
          : ternarizeAbsmean(values, scale, name).trits;
      } catch (e) {
        throw e instanceof NotTernaryError ? notTernaryLater(e.message) : e;
      }
      tally(trits);
      done += values.length;
      yield trits;
    }
  }
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const slabs = ternary && scan.scaleBits !== undefined
      ? fromTable(scan.scaleBits)
      : fromValues();
    for await (const trits of slabs) yield encoder.encode(trits);
    const tail = encoder.finish();
    if (tail.length > 0) yield tail;
  }
  return {
    chunks: chunks(),
    row: () => {
      // The values a reader of the file gets back: trit × stored scale.
      const d = format.storedScale(scale);
      const [neg, zero, pos] = [counts[0]!, counts[1]!, counts[2]!];
      const count = neg + zero + pos;
      const rms = count ? d * Math.sqrt((neg + pos) / count) : 0;
      const min = neg ? -d : zero ? 0 : d;
      const max = pos ? d : zero ? 0 : -d;
      const how = ternary
        ? `ternary values kept exactly (s = ${scale})`
        : `ternarized with absmean (s = max(mean|W|, 1e-5) = ${scale}): the values changed`;
      const stored = d === scale ? "" : `; scale stored as f16 ${d}`;
      return {
        gguf_type: format.ggmlName,
        source_dtype: GGML_TYPES[p.info.type].name,
        rms,
        min,
        max,
        action:
          `quantized:${format.ggmlName} (rule ${p.decision.rule}: ${p.decision.reason}); ${how}${stored}`,
        ternary_scale: d,
      };
    },
  };
}

/** hf_name of each tensor, from the input's meta.json when it describes this very file. */
async function sourceMeta(
  input: string,
  inputSha: string,
  warn: (m: string) => void,
): Promise<
  { path: string; json: Record<string, unknown>; hfNames: Map<string, string | null> } | null
> {
  const path = companionPaths(input).meta;
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  const json = await readJsonFile(path);
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

/** Runs the quantization (see the module comment). */
export async function quantizeGguf(opts: QuantizeOptions): Promise<QuantizeResult> {
  const format = quantFormat(opts.type ?? "i2_s");
  const ternarize = opts.ternarize === true;
  const outDir = opts.outDir ?? dirname(opts.input);
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
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    opts.onWarning?.(m);
  };

  const src = await openGguf(opts.input);
  // The input's digest (provenance) is computed on another core meanwhile.
  const inputHash = sha256InWorker(opts.input);
  try {
    const arch = src.kv(Keys.general.architecture)?.value;
    const archName = typeof arch === "string" ? arch : null;
    if (archName === null) warn(`${opts.input} has no general.architecture`);
    const loads = format.loadsArchitectures;
    if (archName !== null && loads && !loads.includes(archName)) {
      warn(
        `${opts.input}: general.architecture is "${archName}", but upstream llama.cpp loads ` +
          `${format.ggmlName} files only as ${loads.map((a) => `"${a}"`).join(" or ")} ` +
          `(export with --arch-name bitnet)`,
      );
    }
    const plan = await planTensors(src, format, ternarize, warn);

    const w = new GgufWriter(src.alignment);
    copyMetadata(w, src, format.fileType);
    for (const p of plan) w.addTensorInfo(p.info.name, p.info.shape, p.outType);

    const outputs = await AtomicOutputs.create(outDir);
    try {
      const ggufFile = await outputs.file(outName);
      const metaTensors: MetaTensor[] = [];
      const hashes = opts.hashManifest === false ? null : await companionHasher();
      await w.write(ggufFile, async function* (tensor, i) {
        const p = plan[i]!;
        opts.onProgress?.(i, plan.length, tensor.name);
        const produced = p.decision.decision === "quantize"
          ? quantizeTensor(src, p, format)
          : copyTensor(src, p);
        // The payload's sha256 (for meta.json) and the manifest's digests, as the bytes go by.
        const hash = hashes ?? await PayloadHashing.create({ tensor: ["sha256"] });
        await hash.begin();
        for await (const chunk of produced.chunks) {
          hash.update(chunk);
          yield chunk;
        }
        hash.end(tensor.name);
        const row = produced.row();
        metaTensors.push({
          gguf_name: tensor.name,
          hf_name: null,
          gguf_type: row.gguf_type,
          shape: [...tensor.shape],
          source_dtype: row.source_dtype,
          rms: row.rms,
          min: row.min,
          max: row.max,
          sha256: lastTensorSha256(hash),
          action: row.action,
          ...(row.ternary_scale !== undefined ? { ternary_scale: row.ternary_scale } : {}),
        });
      });
      opts.onProgress?.(plan.length, plan.length, "");
      const ggufSha = await outputs.close(ggufFile);

      const inputSha = await inputHash.digest;
      const srcMeta = await sourceMeta(opts.input, inputSha, warn);
      for (const row of metaTensors) row.hf_name = srcMeta?.hfNames.get(row.gguf_name) ?? null;
      const quantized = plan.filter((p) => p.decision.decision === "quantize").length;
      const inputStat = await Deno.stat(opts.input);
      const sources: MetaSource[] = [{
        path: basename(opts.input),
        size: inputStat.size,
        sha256: inputSha,
      }];
      const fromMeta = srcMeta?.json;
      const meta: GgufMeta = {
        format: "gguf_v3",
        tool: { ...TOOL },
        precision: format.name,
        norms_format: "float_preserved",
        architecture: archName ?? "",
        file: outName,
        fingerprint: `sha256-${ggufSha}`,
        size: ggufFile.bytesWritten,
        options: {
          type: format.name,
          ggml_type: format.ggml,
          file_type: format.fileType,
          quantization_version: QUANTIZATION_VERSION,
          runs_in: format.runsIn,
          ternarize,
          input: basename(opts.input),
          input_fingerprint: `sha256-${inputSha}`,
          source_meta: srcMeta ? basename(srcMeta.path) : null,
          quantized_tensors: quantized,
          copied_tensors: plan.length - quantized,
        },
        sources,
        config: isRecord(fromMeta?.config) ? fromMeta.config : configFromGguf(src, archName),
        tokenizer: isRecord(fromMeta?.tokenizer) ? fromMeta.tokenizer : tokenizerFromGguf(src),
        tensors: metaTensors,
        warnings,
        ...(opts.timestamp ? { created_at: new Date().toISOString() } : {}),
      };
      const companions = await writeCompanions(outputs, stem, meta, ggufSha, hashes);
      await outputs.commit();
      const removed = await removeStaleCompanions(companions);
      return {
        ggufPath: ggufFile.finalPath,
        metaPath: companions.metaPath,
        fingerprintPath: companions.fingerprintPath,
        manifestPath: companions.manifestPath,
        fingerprint: meta.fingerprint,
        meta,
        removed,
      };
    } catch (e) {
      await outputs.abort();
      throw e;
    }
  } finally {
    inputHash.cancel();
    src.close();
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
