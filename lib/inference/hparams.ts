/**
 * Model hyperparameters read from GGUF metadata (FORMATS.md §2), for the
 * architectures the engine runs: `bitnet-b1.58`, `bitnet-25` and `bitnet`
 * (BitNet b1.58 semantics, FORMATS.md §4) and `llama`.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "./hparams.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const hp = readHparams(gguf); // { arch: "bitnet-b1.58", family: "bitnet", nEmbd: 2560, ... }
 * gguf.close();
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import { archKey, type ArchKeyName, Keys } from "../gguf/keys.ts";

/** The two forward-pass families the engine implements. */
export type ModelFamily = "bitnet" | "llama";

/** The gated FFN activation: relu²(gate)·up (BitNet) or silu(gate)·up (Llama). */
export type HiddenActivation = "relu2" | "silu";

/** Architecture name → family. The one list of what the engine runs. */
export const SUPPORTED_ARCHITECTURES: Readonly<Record<string, ModelFamily>> = {
  "bitnet-b1.58": "bitnet",
  "bitnet-25": "bitnet",
  "bitnet": "bitnet",
  "llama": "llama",
};

/** The per-architecture keys llama.cpp requires too. */
const REQUIRED_KEYS: readonly ArchKeyName[] = [
  "contextLength",
  "embeddingLength",
  "blockCount",
  "feedForwardLength",
  "headCount",
  "rmsEps",
];

/** Everything the forward pass needs to know about a model's shape. */
export interface ModelHparams {
  /** `general.architecture` as written in the file. */
  arch: string;
  family: ModelFamily;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  headDim: number;
  nFf: number;
  vocabSize: number;
  /** RMSNorm epsilon. */
  eps: number;
  ropeBase: number;
  /** Rotated dimensions per head (≤ headDim, even). */
  ropeDim: number;
  /** Trained context length. */
  contextLength: number;
  /** True when the file has no `output.weight`: the output layer is `token_embd`. */
  tiedOutput: boolean;
  /** relu² for BitNet (FORMATS.md §4), SiLU for Llama. */
  hiddenAct: HiddenActivation;
}

/**
 * The family of an architecture name; an unknown one is an {@link UnsupportedError} listing the known.
 *
 * @example
 * ```ts
 * familyOf("bitnet-25"); // "bitnet"
 * familyOf("gpt2"); // throws UnsupportedError
 * ```
 */
export function familyOf(arch: string, where = "model"): ModelFamily {
  const family = SUPPORTED_ARCHITECTURES[arch];
  if (!family) {
    throw new UnsupportedError(
      `${where}: architecture "${arch}" is not supported (supported: ${
        Object.keys(SUPPORTED_ARCHITECTURES).join(", ")
      })`,
    );
  }
  return family;
}

/**
 * Reads and checks the hyperparameters of a BitNet or Llama GGUF file.
 *
 * Required keys (as llama.cpp requires them): `{arch}.context_length`,
 * `embedding_length`, `block_count`, `feed_forward_length`,
 * `attention.head_count`, `attention.layer_norm_rms_epsilon`. Optional:
 * `attention.head_count_kv` (default head_count), `rope.freq_base` (default
 * 10000), `rope.dimension_count` (default head_dim), `attention.key_length`
 * (default embedding_length / head_count), `vocab_size` (default the length of
 * `tokenizer.ggml.tokens`, else token_embd's row count).
 *
 * @example
 * ```ts
 * const hp = readHparams(gguf);
 * hp.headDim; // 128 for BitNet b1.58 2B-4T
 * ```
 */
export function readHparams(g: GgufFile): ModelHparams {
  const arch = g.architecture;
  const family = familyOf(arch, g.path);
  const missing = REQUIRED_KEYS.map((name) => archKey(arch, name)).filter((key) => !g.kv(key));
  if (missing.length > 0) {
    throw new FormatError(`${g.path}: required metadata key(s) missing: ${missing.join(", ")}`);
  }
  const num = (name: ArchKeyName) => g.getNumber(archKey(arch, name));
  const opt = (key: string, fallback: number) => g.optional(key, g.getNumber, fallback);

  const nEmbd = num("embeddingLength");
  const nHead = num("headCount");
  const headDim = opt(`${arch}.attention.key_length`, Math.floor(nEmbd / nHead));
  const hp: ModelHparams = {
    arch,
    family,
    nEmbd,
    nLayer: num("blockCount"),
    nHead,
    nHeadKv: opt(archKey(arch, "headCountKv"), nHead),
    headDim,
    nFf: num("feedForwardLength"),
    vocabSize: opt(archKey(arch, "vocabSize"), vocabFromFile(g)),
    eps: num("rmsEps"),
    ropeBase: opt(archKey(arch, "ropeFreqBase"), 10000),
    ropeDim: opt(archKey(arch, "ropeDimensionCount"), headDim),
    contextLength: num("contextLength"),
    tiedOutput: !g.hasTensor("output.weight"),
    hiddenAct: family === "llama" ? "silu" : bitnetActivation(g, arch),
  };
  checkHparams(hp, g.path);
  return hp;
}

function vocabFromFile(g: GgufFile): number {
  const tokens = g.kv(Keys.tokenizer.tokens);
  if (tokens && Array.isArray(tokens.value)) return tokens.value.length;
  if (g.hasTensor("token_embd.weight")) return g.tensor("token_embd.weight").shape[0] ?? 0;
  throw new FormatError(
    `${g.path}: cannot tell the vocabulary size (no vocab_size key, no tokenizer.ggml.tokens, no token_embd.weight)`,
  );
}

/**
 * BitNet b1.58 uses relu² (FORMATS.md §4). Upstream llama.cpp's optional
 * `bitnet.hidden_activation` may say so explicitly; "silu" is honoured for
 * files that ask for it, and anything else is refused rather than guessed.
 */
function bitnetActivation(g: GgufFile, arch: string): HiddenActivation {
  const key = archKey(arch, "hiddenActivation");
  const value = g.optional(key, g.getString, "relu2");
  if (value === "relu2" || value === "silu") return value;
  throw new UnsupportedError(`${g.path}: ${key} = "${value}" is not supported (relu2, silu)`);
}

function checkHparams(hp: ModelHparams, path: string): void {
  const positive: Array<keyof ModelHparams> = [
    "nEmbd",
    "nLayer",
    "nHead",
    "nHeadKv",
    "headDim",
    "nFf",
    "vocabSize",
    "ropeDim",
    "contextLength",
  ];
  for (const key of positive) {
    const v = hp[key] as number;
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new FormatError(`${path}: hyperparameter ${key} must be a positive integer, got ${v}`);
    }
  }
  if (hp.nHead % hp.nHeadKv !== 0) {
    throw new FormatError(
      `${path}: head_count ${hp.nHead} is not a multiple of head_count_kv ${hp.nHeadKv}`,
    );
  }
  if (hp.ropeDim % 2 !== 0 || hp.ropeDim > hp.headDim) {
    throw new FormatError(
      `${path}: rope.dimension_count ${hp.ropeDim} must be even and at most head_dim ${hp.headDim}`,
    );
  }
  if (!(hp.eps > 0) || !Number.isFinite(hp.eps)) {
    throw new FormatError(`${path}: layer_norm_rms_epsilon must be > 0, got ${hp.eps}`);
  }
  if (!(hp.ropeBase > 0) || !Number.isFinite(hp.ropeBase)) {
    throw new FormatError(`${path}: rope.freq_base must be > 0, got ${hp.ropeBase}`);
  }
}
