/**
 * A model's hyper-parameters, one name per quantity, and the one table that
 * maps each to its config.json key and its GGUF key (docs/reference/formats.md,
 * "Metadata keys"). The export reads config.json and writes the GGUF keys
 * through it; the engine reads the GGUF keys through it. A new quantity, or a
 * family whose config names one differently, is a row (or a field of a row).
 *
 * @example
 * ```ts
 * import { hparamsFromConfig } from "./hparams.ts";
 * import { findArchitecture } from "./registry.ts";
 * const config = { architectures: ["LlamaForCausalLM"], hidden_size: 64, intermediate_size: 128,
 *   num_hidden_layers: 2, num_attention_heads: 4, vocab_size: 100 };
 * const h = hparamsFromConfig(config, findArchitecture(config, "config.json"), "config.json");
 * h.headDim; // 16
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import type { GgufWriter } from "../gguf/writer.ts";
import { Keys } from "../gguf/keys.ts";
import {
  type Activation,
  archByGgufName,
  type ArchSpec,
  type Family,
  type ProjectionKind,
} from "./registry.ts";
import { BITLINEAR_KEY, bitlinearFromConfig, bitlinearFromGguf } from "./bitlinear.ts";
import { checkDeclaredCounts, type HeldCounts, heldCounts } from "./limits.ts";

/** Everything the tensor shapes and the forward pass depend on. */
export interface Hparams {
  contextLength: number;
  nEmbd: number;
  nLayer: number;
  nFf: number;
  nHead: number;
  nHeadKv: number;
  /** RMSNorm epsilon. */
  eps: number;
  ropeTheta: number;
  headDim: number;
  /** Value head size (llama.cpp's `attention.value_length`); the engine needs it equal to headDim. */
  valueDim: number;
  /** Rotated dimensions per head (≤ headDim, even). */
  ropeDim: number;
  vocabSize: number;
  /** The output layer is `token_embd` (no `output.weight`). */
  tied: boolean;
  /** The gated FFN's activation: relu²(gate)·up or silu(gate)·up. */
  activation: Activation;
  /**
   * Projections computed as BitLinear: ternary weights, inputs quantized to
   * int8 per token (absmax). Every projection of a BitNet architecture; for
   * "llama", those listed in `clean_gguf.bitlinear_projections` (none without it).
   */
  bitlinear: readonly ProjectionKind[];
}

/** A numeric quantity of {@link Hparams}. */
export type HparamName = Exclude<keyof Hparams, "tied" | "activation" | "bitlinear">;

/** The value of a quantity that its key does not give. */
type Fallback = (h: Hparams) => number;

/** One row: a quantity, its keys, and what it is when a key is absent. */
interface HparamRow {
  readonly name: HparamName;
  /** GGUF key without the `{arch}.` prefix. */
  readonly gguf: string;
  /** f32 in GGUF (else u32); any positive finite number (else a positive integer). */
  readonly float?: true;
  /** config.json key; absent when the quantity is derived there. */
  readonly config?: string;
  /** When the config.json key is absent (absent here: the key is required). */
  readonly configFallback?: Fallback;
  /** When the GGUF key is absent (absent here: the key is required, as llama.cpp requires it). */
  readonly ggufFallback?: (h: Hparams, g: GgufFile) => number;
  /** Written only when this holds (default: always). */
  readonly written?: (h: Hparams) => boolean;
}

const derivedHeadDim: Fallback = (h) => h.nEmbd / h.nHead;

/** The table, in the order the export writes the keys. */
export const HPARAMS: readonly HparamRow[] = [
  {
    name: "contextLength",
    gguf: "context_length",
    config: "max_position_embeddings",
    configFallback: () => 2048,
  },
  { name: "nEmbd", gguf: "embedding_length", config: "hidden_size" },
  { name: "nLayer", gguf: "block_count", config: "num_hidden_layers" },
  { name: "nFf", gguf: "feed_forward_length", config: "intermediate_size" },
  { name: "nHead", gguf: "attention.head_count", config: "num_attention_heads" },
  {
    name: "nHeadKv",
    gguf: "attention.head_count_kv",
    config: "num_key_value_heads",
    configFallback: (h) => h.nHead,
    ggufFallback: (h) => h.nHead,
  },
  {
    name: "eps",
    gguf: "attention.layer_norm_rms_epsilon",
    float: true,
    config: "rms_norm_eps",
    configFallback: () => 1e-6,
  },
  {
    name: "ropeTheta",
    gguf: "rope.freq_base",
    float: true,
    config: "rope_theta",
    configFallback: () => 10000,
    ggufFallback: () => 10000,
  },
  {
    name: "headDim",
    gguf: "attention.key_length",
    config: "head_dim",
    configFallback: derivedHeadDim,
    ggufFallback: derivedHeadDim,
    written: (h) => h.headDim !== derivedHeadDim(h),
  },
  {
    // llama.cpp takes the value head size from its own key (default n_embd / n_head), so an
    // explicit head_dim (Falcon3) is written for both; the engine needs them equal.
    name: "valueDim",
    gguf: "attention.value_length",
    config: "head_dim",
    configFallback: derivedHeadDim,
    ggufFallback: derivedHeadDim,
    written: (h) => h.valueDim !== derivedHeadDim(h),
  },
  {
    name: "ropeDim",
    gguf: "rope.dimension_count",
    configFallback: (h) => h.headDim,
    ggufFallback: (h) => h.headDim,
  },
  { name: "vocabSize", gguf: "vocab_size", config: "vocab_size", ggufFallback: vocabFromFile },
];

/** The `hidden_activation` key (upstream llama.cpp's `bitnet` reads it). */
const ACTIVATION_KEY = "hidden_activation";
/** config.json `hidden_act` values → the activation the forward pass computes. */
const ACTIVATIONS: Readonly<Record<string, Activation>> = {
  relu2: "relu2",
  silu: "silu",
  swish: "silu",
};

/**
 * The full GGUF key of a quantity (or of `hidden_activation`) for an architecture.
 *
 * @example
 * ```ts
 * archKey("llama", "ropeTheta"); // "llama.rope.freq_base"
 * ```
 */
export function archKey(arch: string, name: HparamName | "activation"): string {
  if (name === "activation") return `${arch}.${ACTIVATION_KEY}`;
  return `${arch}.${HPARAMS.find((r) => r.name === name)!.gguf}`;
}

function vocabFromFile(_h: Hparams, g: GgufFile): number {
  const tokens = g.kv(Keys.tokenizer.tokens);
  if (tokens && Array.isArray(tokens.value)) return tokens.value.length;
  if (g.hasTensor("token_embd.weight")) return g.tensor("token_embd.weight").shape[0] ?? 0;
  throw new FormatError(
    `${g.path}: cannot tell the vocabulary size (no vocab_size key, no tokenizer.ggml.tokens, no token_embd.weight)`,
  );
}

/** Fills `h` row by row from `read` (null: key absent), else the fallback, else NaN (refused by the check). */
function fill(
  read: (row: HparamRow) => number | null,
  fallback: (row: HparamRow) => Fallback | undefined,
  h: Hparams,
): Hparams {
  for (const row of HPARAMS) h[row.name] = read(row) ?? fallback(row)?.(h) ?? NaN;
  return h;
}

/** Positive integers (positive finite numbers for float rows), heads that group, even heads. */
function checkHparams(
  h: Hparams,
  source: string,
  keyOf: (row: HparamRow) => string,
  raw: (row: HparamRow) => unknown = (row) => h[row.name],
): void {
  for (const row of HPARAMS) {
    const v = h[row.name];
    const ok = row.float ? Number.isFinite(v) && v > 0 : Number.isSafeInteger(v) && v > 0;
    if (!ok) {
      throw new FormatError(
        `${source}: ${keyOf(row)} must be a positive ${row.float ? "number" : "integer"}, got ${
          JSON.stringify(raw(row)) ?? "nothing"
        }`,
      );
    }
  }
  const named = (name: HparamName) =>
    `${keyOf(HPARAMS.find((r) => r.name === name)!)} = ${h[name]}`;
  if (h.nHead % h.nHeadKv !== 0) {
    throw new FormatError(
      `${source}: the head count (${
        named("nHead")
      }) is not a multiple of the key/value head count (${named("nHeadKv")})`,
    );
  }
  if (h.valueDim !== h.headDim) {
    throw new UnsupportedError(
      `${source}: value head size ${h.valueDim} differs from the key head size ${h.headDim}`,
    );
  }
  if (h.headDim % 2 !== 0 || h.ropeDim % 2 !== 0 || h.ropeDim > h.headDim) {
    throw new FormatError(
      `${source}: the head size (${named("headDim")}) must be even, and the rotated dimensions (${
        named("ropeDim")
      }) even and at most the head size`,
    );
  }
}

const blank = (): Hparams => ({
  ...Object.fromEntries(HPARAMS.map((r) => [r.name, 0])) as Record<HparamName, number>,
  tied: false,
  activation: "relu2",
  bitlinear: [],
});

/**
 * Hyper-parameters from a parsed config.json: every key named in a message
 * when missing or malformed. With `held` (what the checkpoint's tensors hold,
 * lib/arch/limits.ts), no count may exceed it.
 *
 * @example
 * ```ts
 * import { architectureOf } from "./registry.ts";
 * hparamsFromConfig({ hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, vocab_size: 4 }, architectureOf("llama"), "config.json").activation; // "silu"
 * ```
 */
export function hparamsFromConfig(
  config: Record<string, unknown>,
  arch: ArchSpec,
  source: string,
  held?: HeldCounts,
): Hparams {
  if (config.rope_scaling !== undefined && config.rope_scaling !== null) {
    throw new UnsupportedError(
      `${source}: rope_scaling ${JSON.stringify(config.rope_scaling)} is not supported yet`,
    );
  }
  const act = config.hidden_act;
  const activation = act === undefined || act === null ? arch.activation : ACTIVATIONS[String(act)];
  if (!activation) {
    throw new UnsupportedError(
      `${source}: hidden_act ${JSON.stringify(act)} is not supported (${
        Object.keys(ACTIVATIONS).join(", ")
      })`,
    );
  }
  const h = fill(
    (row) => {
      const v = row.config === undefined ? undefined : config[row.config];
      return v === undefined || v === null ? null : typeof v === "number" ? v : NaN;
    },
    (row) => row.configFallback,
    { ...blank(), tied: config.tie_word_embeddings === true, activation },
  );
  const keyOf = (row: HparamRow) => row.config ? `"${row.config}"` : row.gguf;
  if (held) {
    const byName = (name: HparamName) => keyOf(HPARAMS.find((r) => r.name === name)!);
    checkDeclaredCounts(h, held, { source, keyOf: byName });
  }
  checkHparams(
    h,
    source,
    keyOf,
    (row) => row.config && config[row.config] !== undefined ? config[row.config] : h[row.name],
  );
  h.bitlinear = bitlinearFromConfig(config, arch, h.nLayer, source);
  return h;
}

/**
 * Writes the `{arch}.*` keys of `h` (and `hidden_activation` where the
 * architecture's loader reads it, or where it differs from the family's).
 *
 * @example
 * ```ts
 * import { GgufWriter } from "../gguf/writer.ts";
 * import { architectureOf } from "./registry.ts";
 * const llama = architectureOf("llama");
 * const h = hparamsFromConfig({ hidden_size: 8, intermediate_size: 8, num_hidden_layers: 1,
 *   num_attention_heads: 2, vocab_size: 4 }, llama, "config.json");
 * writeHparams(new GgufWriter(), "llama", llama, h);
 * ```
 */
export function writeHparams(w: GgufWriter, archName: string, arch: ArchSpec, h: Hparams): void {
  for (const row of HPARAMS) {
    if (row.written && !row.written(h)) continue;
    const key = `${archName}.${row.gguf}`;
    if (row.float) w.addF32(key, h[row.name]);
    else w.addU32(key, h[row.name]);
  }
  if (archName === arch.activationKeyIn || h.activation !== arch.activation) {
    w.addString(archKey(archName, "activation"), h.activation);
  }
  if (arch.bitlinearKey && h.bitlinear.length > 0) w.addStringArray(BITLINEAR_KEY, h.bitlinear);
}

/** Hyper-parameters of a GGUF file, with its architecture name and family. */
export interface ModelHparams extends Hparams {
  /** `general.architecture` as written in the file. */
  arch: string;
  family: Family;
}

/**
 * Reads and checks the hyper-parameters of a GGUF file. The keys llama.cpp
 * requires are required here (all missing ones are named); the others fall
 * back as the table says. No count may exceed what the file's tensors hold
 * (lib/arch/limits.ts), so nothing sized from them outgrows the file. An architecture outside the registry is an
 * {@link UnsupportedError} listing the supported ones.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * readHparams(gguf).headDim; // 128 for BitNet b1.58 2B-4T
 * ```
 */
export function readHparams(g: GgufFile): ModelHparams {
  const arch = g.architecture;
  const spec = archByGgufName(arch, g.path);
  const key = (row: HparamRow) => `${arch}.${row.gguf}`;
  const missing = HPARAMS.filter((row) => !row.ggufFallback && !g.kv(key(row))).map(key);
  if (missing.length > 0) {
    throw new FormatError(`${g.path}: required metadata key(s) missing: ${missing.join(", ")}`);
  }
  const activationKey = archKey(arch, "activation");
  const activation = g.kv(activationKey) ? g.getString(activationKey) : spec.activation;
  if (!Object.values(ACTIVATIONS).includes(activation as Activation)) {
    throw new UnsupportedError(
      `${g.path}: ${archKey(arch, "activation")} = "${activation}" is not supported (relu2, silu)`,
    );
  }
  const h = fill(
    (row) => g.kv(key(row)) ? g.getNumber(key(row)) : null,
    (row) => row.ggufFallback && ((h) => row.ggufFallback!(h, g)),
    {
      ...blank(),
      tied: !g.hasTensor("output.weight"),
      activation: activation as Activation,
      bitlinear: bitlinearFromGguf(g, spec.ternaryProjections),
    },
  );
  const held = heldCounts(spec, g.tensors, "gguf");
  checkDeclaredCounts(h, held, { source: g.path, keyOf: (name) => archKey(arch, name) });
  checkHparams(h, g.path, key);
  return { ...h, arch, family: spec.family };
}
