/**
 * meta.json, the provenance file written beside every GGUF
 * (`<stem>.meta.json`), and the fingerprint file (`<stem>.fingerprint`):
 * every key the export and the quantizer write, as data (whether it is
 * required, and the type of its value), the fields a GGUF itself holds (its
 * `{arch}.*` hyperparameters and its tokenizer summary, which the quantizer
 * writes and `model-verify` recomputes through the same functions), and the
 * companions' names. No timestamp unless asked for, so that two exports of the
 * same input are byte-identical.
 *
 * @example
 * ```ts
 * import { fingerprintLine, META_KEYS } from "./meta.ts";
 * fingerprintLine("ab12"); // "sha256-ab12\n"
 * META_KEYS.top.tensors.optional; // false
 * ```
 * @module
 */

import { FormatError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";

/** Tool identity recorded in every meta.json. */
export const TOOL = { name: "clean-gguf", version: "0.1.0" } as const;

/**
 * One key of an object of meta.json: whether a writer may leave it out, and
 * (as a type only, never set) the type of its value, from which the writers'
 * types ({@link GgufMeta}...) are derived: a key is declared once.
 */
export interface Key<T = unknown, Optional extends boolean = boolean> {
  readonly optional: Optional;
  readonly type?: T;
}

/** The keys of one object of meta.json. */
export type KeyTable = Readonly<Record<string, Key>>;

const required = <T = unknown>(): Key<T, false> => ({ optional: false });
const optional = <T = unknown>(): Key<T, true> => ({ optional: true });

/** The object a key table describes, as a writer builds it. */
type Described<S> =
  & { -readonly [K in keyof S as S[K] extends Key<unknown, false> ? K : never]: ValueOf<S[K]> }
  & { -readonly [K in keyof S as S[K] extends Key<unknown, true> ? K : never]?: ValueOf<S[K]> };
type ValueOf<K> = K extends Key<infer T> ? T : never;

const TOOL_KEYS = { name: required<string>(), version: required<string>() };

const SOURCE = { path: required<string>(), size: required<number>(), sha256: required<string>() };
/** A source file and its sha256. */
export type MetaSource = Described<typeof SOURCE>;

const TENSOR = {
  gguf_name: required<string>(),
  /** HF name it came from (null for tensors made by the tool). */
  hf_name: required<string | null>(),
  gguf_type: required<string>(),
  /** PyTorch order. */
  shape: required<number[]>(),
  source_dtype: required<string | null>(),
  /** Statistics of the values as written in the GGUF. */
  rms: required<number>(),
  min: required<number>(),
  max: required<number>(),
  /** What happened to it: "copied", "converted", "ternarized", "quantized:I2_S"... and why. */
  action: required<string>(),
  /**
   * One payload digest is required. xxh64 (seed 0, as llama-gguf-hash prints
   * it) of the payload bytes, without alignment padding: the tensor's
   * locator, equal to its manifest line. The fingerprint covers the bytes;
   * this says which tensor changed.
   */
  xxh64: optional<string>(),
  /** sha256 of the payload bytes: what meta.json recorded before xxh64 (read, never written). */
  sha256: optional<string>(),
  /** F16 overflow values clamped (only with --allow-overflow clamp). */
  clamped: optional<number>(),
  /** Ternary scale s, for ternary projections. */
  ternary_scale: optional<number>(),
};
/** One tensor as written. */
export type MetaTensor = Described<typeof TENSOR>;

const TOP = {
  format: required<"gguf_v3">(),
  tool: required<Described<typeof TOOL_KEYS>>(),
  /** "f16", "f32", "bf16", "i2_s", "tq2_0", "tq1_0". */
  precision: required<string>(),
  norms_format: required<"float_preserved">(),
  architecture: required<string>(),
  file: required<string>(),
  fingerprint: required<string>(),
  size: required<number>(),
  options: required<Record<string, unknown>>(),
  sources: required<MetaSource[]>(),
  config: required<Record<string, unknown>>(),
  tokenizer: required<Record<string, unknown>>(),
  tensors: required<MetaTensor[]>(),
  warnings: required<string[]>(),
  created_at: optional<string>(),
};
/** The whole meta.json. */
export type GgufMeta = Described<typeof TOP>;

/**
 * Every object of meta.json whose keys are fixed. A key not listed here fails
 * `model-verify`: a field nobody checks is a field an attacker can add.
 */
export const META_KEYS = {
  top: TOP,
  tool: TOOL_KEYS,
  source: SOURCE,
  tensor: TENSOR,
  /** The export's options, then the quantizer's. */
  options: {
    outtype: optional(),
    norm_type: optional(),
    arch_name: optional(),
    allow_overflow: optional(),
    tokenizer: optional(),
    origin: optional(),
    type: optional(),
    ggml_type: optional(),
    file_type: optional(),
    quantization_version: optional(),
    runs_in: optional(),
    ternarize: optional(),
    input: optional(),
    input_fingerprint: optional(),
    source_meta: optional(),
    quantized_tensors: optional(),
    copied_tensors: optional(),
  },
  /** `options.origin`: where a Hub download came from. */
  origin: { hf_repo: optional(), revision: optional(), commit: optional() },
  /** `config` as the export writes it (from config.json). */
  exportConfig: {
    architectures: required(),
    model_type: required(),
    family: required(),
    hidden_size: required(),
    intermediate_size: required(),
    num_hidden_layers: required(),
    num_attention_heads: required(),
    num_key_value_heads: required(),
    head_dim: required(),
    vocab_size: required(),
    max_position_embeddings: required(),
    rms_norm_eps: required(),
    rope_theta: required(),
    tie_word_embeddings: required(),
    hidden_act: required(),
    quantization_config: required(),
  },
} as const satisfies Record<string, KeyTable>;

/** The fingerprint file's content for a sha256 hex digest. */
export function fingerprintLine(sha256Hex: string): string {
  return `sha256-${sha256Hex}\n`;
}

/** Parses a fingerprint file's content back to the hex digest. */
export function parseFingerprint(text: string, source: string): string {
  const m = /^sha256-([0-9a-f]{64})\s*$/.exec(text);
  if (!m) throw new FormatError(`${source}: not a fingerprint (expected "sha256-<64 hex digits>")`);
  return m[1]!;
}

/** Stable JSON (2-space indent, trailing newline). */
export function serializeMeta(meta: GgufMeta): string {
  return JSON.stringify(meta, null, 2) + "\n";
}

/** The file stem of a GGUF path: `dir/clean-f16.gguf` → `dir/clean-f16`. */
export function stemOf(ggufPath: string): string {
  return ggufPath.replace(/\.gguf$/, "");
}

/** Paths of the companion files of a GGUF. */
export function companionPaths(ggufPath: string) {
  const stem = stemOf(ggufPath);
  return {
    meta: `${stem}.meta.json`,
    fingerprint: `${stem}.fingerprint`,
    manifest: `${stem}.gguf-hash`,
    signature: `${stem}.sig`,
  };
}

/** A metadata value as JSON: u64/i64 as numbers when safe (7n → 7), else strings. */
function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}

/**
 * The `{arch}.*` scalar hyperparameters of the GGUF, keyed without the prefix
 * (meta.json's `config` when no source meta.json describes the input).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * configFromGguf(gguf, "bitnet-b1.58"); // { derived_from: "gguf metadata", architecture: "bitnet-b1.58", context_length: 256, ... }
 * ```
 */
export function configFromGguf(src: GgufFile, arch: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { derived_from: "gguf metadata", architecture: arch };
  if (arch === null) return out;
  for (const [key, kv] of src.metadata) {
    if (key.startsWith(`${arch}.`) && !Array.isArray(kv.value)) {
      out[key.slice(arch.length + 1)] = jsonValue(kv.value);
    }
  }
  return out;
}

/**
 * meta.json's `tokenizer` summary: arrays by their length, absent keys as null.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * tokenizerFromGguf(gguf); // { model: "gpt2", pre: "llama-bpe", tokens: 2048, merges: 1790, ... }
 * ```
 */
export function tokenizerFromGguf(src: GgufFile): Record<string, unknown> {
  const T = Keys.tokenizer;
  const get = (k: string) => {
    const kv = src.kv(k);
    if (!kv) return null;
    return Array.isArray(kv.value) ? kv.value.length : jsonValue(kv.value);
  };
  return {
    model: get(T.model),
    pre: get(T.pre),
    tokens: get(T.tokens),
    merges: get(T.merges),
    bos_token_id: get(T.bosId),
    eos_token_id: get(T.eosId),
    add_bos_token: get(T.addBos),
  };
}
