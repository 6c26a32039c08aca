/**
 * The clean export: a Hugging Face BitNet b1.58 or Llama checkpoint becomes a
 * GGUF (every norm in float), a fingerprint and a meta.json, written to
 * temporary files and renamed into place only when all are complete.
 *
 * Flow: config.json → architecture table and hyper-parameter table
 * (lib/arch) → tokenizer metadata → SafeTensors → each tensor produced
 * (tensors.ts: ternarize, convert, permute) → GGUF writer through a sha256
 * tee → meta.json + fingerprint + gguf-hash manifest → rename.
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

import { basename, join, resolve } from "node:path";
import { FormatError, OverflowError, UsageError } from "../errors.ts";
import { expectedTensors, findArchitecture } from "../arch/registry.ts";
import { type Hparams, hparamsFromConfig, writeHparams } from "../arch/hparams.ts";
import { heldCounts } from "../arch/limits.ts";
import type { OverflowMode } from "../codecs/float_bulk.ts";
import { SafetensorsCheckpoint } from "../safetensors/reader.ts";
import { type HashJob, sha256InWorker } from "../io/hash_worker.ts";
import { readJsonFile, readJsonIfExists } from "../io/json.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { GgufWriter } from "../gguf/writer.ts";
import { Keys } from "../gguf/keys.ts";
import { FileType, GgmlType } from "../gguf/types.ts";
import {
  commitModel,
  companionHasher,
  type ModelOutputOptions,
  writeGguf,
  type WrittenModel,
} from "../provenance/companions.ts";
import {
  TOKENIZER_MODELS,
  type TokenizerMetadata,
  tokenizerMetadataFromJson,
  writeTokenizerMetadata,
} from "../tokenizer/metadata.ts";
import { type GgufMeta, type MetaSource, type MetaTensor, TOOL } from "../provenance/meta.ts";
import { ChunkConverter } from "./convert.ts";
import { exportTensor, type ProduceContext, resolveTensors, type SourceTensor } from "./tensors.ts";

/** Export options (the CLI flags of `model-export`). */
export interface ExportOptions extends ModelOutputOptions {
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
  allowOverflow?: OverflowMode;
  /** Output file stem; default `clean-<outType>`. */
  name?: string;
  /** Where the checkpoint came from (e.g. the Hub repo and commit), recorded in meta.json. */
  origin?: Record<string, unknown>;
  quiet?: boolean;
  /** Files beside the output never removed as stale companions (model-check's reference baseline). */
  keep?: readonly string[];
  /**
   * sha256 of source files already computed and checked against the Hub in
   * this run (the download's), by absolute path: recorded as they are, not
   * recomputed. Any other source is hashed in a worker beside the export.
   */
  verifiedSha256?: Readonly<Record<string, string>>;
}

/** What an export produced. */
export interface ExportResult extends WrittenModel {
  /** llama.cpp gguf-hash manifest (xxh64 per tensor and for the model, unless others were asked for). */
  manifestPath: string;
}

/** The `--outtype` / `--norm-type` values: the ggml type and the `general.file_type`. */
const OUT_TYPES: Record<string, { ggml: GgmlType; fileType: number }> = {
  f32: { ggml: GgmlType.F32, fileType: FileType.ALL_F32 },
  f16: { ggml: GgmlType.F16, fileType: FileType.MOSTLY_F16 },
  bf16: { ggml: GgmlType.BF16, fileType: FileType.MOSTLY_BF16 },
};

/** The run's settings, checked before anything is read. */
type Settings = ReturnType<typeof settingsOf>;

function settingsOf(opts: ExportOptions) {
  const outType = opts.outType ?? "f16";
  const normType = opts.normType ?? "f32";
  const out = OUT_TYPES[outType];
  const normOut = OUT_TYPES[normType];
  if (!out) throw new UsageError(`--outtype must be f32, f16 or bf16, got "${outType}"`);
  if (!normOut || (normType as string) === "bf16") {
    throw new UsageError(`--norm-type must be f32 or f16, got "${normType}"`);
  }
  const warnings: string[] = [];
  return {
    outType,
    normType,
    out,
    normGgml: normOut.ggml,
    overflowMode: opts.allowOverflow ?? "refuse",
    stem: opts.name ?? `clean-${outType}`,
    warnings,
    warn(m: string) {
      warnings.push(m);
      opts.onWarning?.(m);
    },
  };
}

/** What config.json and the tokenizer files say, read before any weight. */
type ModelFiles = Awaited<ReturnType<typeof readModelFiles>>["m"];

/** A token id from config.json (the first of a list), or null when absent. */
function optionalId(config: Record<string, unknown>, key: string, source: string): number | null {
  const v = config[key];
  if (v === undefined || v === null) return null;
  const first = Array.isArray(v) ? v[0] : v;
  if (typeof first !== "number" || !Number.isSafeInteger(first) || first < 0) {
    throw new FormatError(`${source}: "${key}" must be a token id, got ${JSON.stringify(v)}`);
  }
  return first;
}

/**
 * config.json → architecture row and hyper-parameters, the counts checked
 * against the checkpoint's tensors (opened here, once, for the whole export)
 * before anything is sized from them; tokenizer.json checked against them.
 */
async function readModelFiles(opts: ExportOptions, s: Settings) {
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
  const ckpt = await SafetensorsCheckpoint.open(opts.modelDir);
  try {
    const held = heldCounts(arch, ckpt.names().map((name) => ckpt.get(name)), "hf");
    const h = hparamsFromConfig(config, arch, configPath, held);
    const { tokenizerPath, tokMeta } = await readTokenizer(opts, config, configPath, h, s);
    return { m: { configPath, config, arch, archName, h, tokenizerPath, tokMeta }, ckpt };
  } catch (e) {
    ckpt.close();
    throw e;
  }
}

/** tokenizer.json (the command line's wins over model_dir's) checked against the hyper-parameters. */
async function readTokenizer(
  opts: ExportOptions,
  config: Record<string, unknown>,
  configPath: string,
  h: Hparams,
  s: Settings,
): Promise<{ tokenizerPath: string; tokMeta: TokenizerMetadata }> {
  const tokenizerPath = opts.tokenizerPath ?? join(opts.modelDir, "tokenizer.json");
  const tokenizerConfig = await readJsonIfExists(join(opts.modelDir, "tokenizer_config.json"));
  const tokMeta = tokenizerMetadataFromJson(await readJsonFile(tokenizerPath), {
    vocabSize: h.vocabSize,
    bosId: optionalId(config, "bos_token_id", configPath),
    eosId: optionalId(config, "eos_token_id", configPath),
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    source: tokenizerPath,
  });
  if (tokMeta.pre === null) {
    s.warn(
      `${tokenizerPath}: pre-tokenizer not recognized; tokenizer.ggml.pre not written (llama.cpp will warn)`,
    );
  }
  return { tokenizerPath, tokMeta };
}

/**
 * An absent lm_head means tied embeddings whatever the config says; a present
 * one is used only when the config does not declare the embeddings tied.
 */
function decideTied(m: ModelFiles, ckpt: SafetensorsCheckpoint, s: Settings): void {
  const hasHead = ckpt.has("lm_head.weight");
  m.h.tied = !hasHead || m.config.tie_word_embeddings === true;
  if (hasHead && m.h.tied) s.warn("lm_head.weight ignored: config declares tied embeddings");
  if (!m.h.tied && m.archName === "bitnet") {
    s.warn(
      "upstream llama.cpp's bitnet architecture always uses token_embd as the output layer: it cannot load this model's untied output.weight",
    );
  }
}

/** Every expected tensor found in the checkpoint; the tensors left out are named in a warning. */
function sourceTensors(m: ModelFiles, ckpt: SafetensorsCheckpoint, s: Settings): SourceTensor[] {
  const sources = resolveTensors(ckpt, expectedTensors(m.arch, m.h), s.out.ggml, s.normGgml);
  const used = new Set(
    sources.flatMap((t) => [t.hfName, ...(t.packedScale ? [t.packedScale.name] : [])]),
  );
  const ignored = ckpt.names().filter((n) => !used.has(n) && n !== "lm_head.weight");
  if (ignored.length > 0) {
    s.warn(`tensors not exported (not part of the architecture): ${ignored.join(", ")}`);
  }
  return sources;
}

/** `general.name`: config's `_name_or_path`, else the Hub repo's name, else the folder's. */
function modelName(config: Record<string, unknown>, opts: ExportOptions): string {
  const fromConfig = typeof config._name_or_path === "string" ? config._name_or_path : "";
  const repo = typeof opts.origin?.hf_repo === "string" ? opts.origin.hf_repo : "";
  return fromConfig || repo.split("/").pop() || basename(opts.modelDir);
}

/** The header: general keys, the hyper-parameter table's keys, tokenizer, tensor infos. */
function header(opts: ExportOptions, m: ModelFiles, s: Settings, sources: SourceTensor[]) {
  const w = new GgufWriter();
  w.addString(Keys.general.architecture, m.archName);
  w.addString(Keys.general.name, modelName(m.config, opts));
  w.addU32(Keys.general.fileType, s.out.fileType);
  writeHparams(w, m.archName, m.arch, m.h);
  writeTokenizerMetadata(w, m.tokMeta);
  for (const t of sources) w.addTensorInfo(t.plan.gguf, t.plan.shape, t.ggmlType);
  return w;
}

/** F16 overflow anywhere is refused (naming every tensor) unless clamping was asked for. */
function judgeOverflow(overflows: string[], s: Settings): void {
  if (overflows.length > 0 && s.overflowMode === "refuse") {
    throw new OverflowError(
      `BF16 → F16 overflow (|x| ≥ 65520) in ${overflows.length} tensor(s): ${
        overflows.join("; ")
      }. ` +
        `Use --outtype f32/bf16, or --allow-overflow clamp to clamp to ±65504 (recorded in meta.json).`,
    );
  }
  if (overflows.length > 0) s.warn(`clamped F16 overflow: ${overflows.join("; ")}`);
}

/** What the meta.json of an export holds besides its tensors. */
function exportMeta(
  opts: ExportOptions,
  m: ModelFiles,
  s: Settings,
  written: { sha: string; size: number; sources: MetaSource[]; tensors: MetaTensor[] },
): GgufMeta {
  const { h, config, tokMeta } = m;
  return {
    format: "gguf_v3",
    tool: { ...TOOL },
    precision: s.outType,
    norms_format: "float_preserved",
    architecture: m.archName,
    file: `${s.stem}.gguf`,
    fingerprint: `sha256-${written.sha}`,
    size: written.size,
    options: {
      outtype: s.outType,
      norm_type: s.normType,
      arch_name: m.archName,
      allow_overflow: s.overflowMode,
      tokenizer: basename(m.tokenizerPath),
      ...(opts.origin ? { origin: opts.origin } : {}),
    },
    sources: written.sources,
    config: {
      architectures: config.architectures ?? null,
      model_type: config.model_type ?? null,
      family: m.arch.family,
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
      tie_word_embeddings: h.tied,
      hidden_act: config.hidden_act ?? null,
      quantization_config: config.quantization_config ?? null,
    },
    tokenizer: {
      model: tokMeta.model,
      pre: tokMeta.pre,
      tokens: tokMeta.tokens.length,
      // As the GGUF says it (model-verify recomputes it): SentencePiece writes no merges list.
      merges: TOKENIZER_MODELS[tokMeta.model]?.merges ? tokMeta.merges.length : null,
      bos_token_id: tokMeta.bosId,
      eos_token_id: tokMeta.eosId,
      add_bos_token: tokMeta.addBos,
    },
    tensors: written.tensors,
    warnings: s.warnings,
    ...(opts.timestamp ? { created_at: new Date().toISOString() } : {}),
  };
}

/** Streams the tensors into the GGUF, then writes the companions, all committed together. */
async function writeOutputs(
  opts: ExportOptions,
  m: ModelFiles,
  s: Settings,
  ckpt: SafetensorsCheckpoint,
  sourceHashes: Promise<MetaSource[]>,
): Promise<ExportResult> {
  const sources = sourceTensors(m, ckpt, s);
  const w = header(opts, m, s, sources);
  const ctx: ProduceContext = {
    ckpt,
    permuteQK: m.arch.permuteQK,
    bitlinear: m.h.bitlinear,
    nHead: m.h.nHead,
    nHeadKv: m.h.nHeadKv,
    overflowMode: s.overflowMode,
    quant: (m.config.quantization_config ?? undefined) as Record<string, unknown> | undefined,
    configPath: m.configPath,
    scratch: new ChunkConverter(),
  };
  const outputs = await AtomicOutputs.create(
    opts.outDir,
    opts.commitHooks ? { hooks: opts.commitHooks } : {},
  );
  try {
    const ggufFile = await outputs.file(`${s.stem}.gguf`);
    const overflows: string[] = [];
    // The manifest and the fingerprint are computed as the bytes go by: no second read of the
    // output. The GGUF's temporary file is filled by the pipelined writer (positional writes,
    // its sha256 on the other core); AtomicOutputs still syncs it and renames it at commit.
    const hashes = companionHasher(opts.manifest);
    const gguf = await writeGguf(ggufFile, w, hashes, (plan, i) => {
      opts.onProgress?.(i, sources.length, plan.name);
      return exportTensor(ctx, sources[i]!, plan, overflows);
    });
    judgeOverflow(overflows, s);
    opts.onProgress?.(sources.length, sources.length, "");
    const sha = gguf.sha256;
    const written = { sha, size: gguf.bytes, sources: await sourceHashes, tensors: gguf.tensors };
    const meta = exportMeta(opts, m, s, written);
    const result = await commitModel(outputs, ggufFile, s.stem, meta, sha, hashes, opts.keep);
    // The export always writes a manifest.
    return { ...result, manifestPath: result.manifestPath! };
  } catch (e) {
    await outputs.abort();
    throw e;
  }
}

/** A digest known already, as a finished hashing job. */
function knownDigest(hex: string): HashJob {
  return { digest: Promise.resolve(hex), cancel: () => {} };
}

/** Runs the export. */
export async function exportCleanGguf(opts: ExportOptions): Promise<ExportResult> {
  const s = settingsOf(opts);
  const { m, ckpt } = await readModelFiles(opts, s);
  // The sources' sha256 (a full read of the checkpoint) runs in workers beside the export,
  // except for files the download has just hashed and checked against the Hub.
  const jobs = [m.configPath, m.tokenizerPath, ...ckpt.files.map((f) => f.path)].map((path) => {
    const known = opts.verifiedSha256?.[resolve(path)];
    return { path, job: known ? knownDigest(known) : sha256InWorker(path) };
  });
  const sourceHashes = Promise.all(jobs.map(async ({ path, job }) => ({
    path: basename(path),
    size: (await Deno.stat(path)).size,
    sha256: await job.digest,
  })));
  try {
    decideTied(m, ckpt, s);
    return await writeOutputs(opts, m, s, ckpt, sourceHashes);
  } finally {
    for (const { job } of jobs) job.cancel();
    ckpt.close();
  }
}
