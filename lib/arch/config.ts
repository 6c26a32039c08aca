/**
 * Reading a Hugging Face config.json into {@link ExportHparams}, with every
 * missing or malformed key named.
 *
 * @example
 * ```ts
 * import { hparamsFromConfig } from "./config.ts";
 * const h = hparamsFromConfig(
 *   JSON.parse(await Deno.readTextFile("fixtures/tiny-bitnet/config.json")),
 *   "fixtures/tiny-bitnet/config.json",
 * );
 * h.headDim; // 32
 * ```
 * @module
 */

import { FormatError, InputError, UnsupportedError } from "../errors.ts";
import type { ExportHparams } from "./registry.ts";

/** Reads and parses a JSON file; missing is an InputError, malformed a FormatError. */
export async function readJsonFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new InputError(`${path}: cannot read (${(e as Error).message})`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${path}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new FormatError(`${path}: expected a JSON object`);
  }
  return value as Record<string, unknown>;
}

function int(
  config: Record<string, unknown>,
  key: string,
  source: string,
  fallback?: number,
): number {
  const v = config[key] ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError(
      `${source}: "${key}" must be a positive integer, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function num(
  config: Record<string, unknown>,
  key: string,
  source: string,
  fallback: number,
): number {
  const v = config[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new FormatError(
      `${source}: "${key}" must be a positive number, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function optionalId(config: Record<string, unknown>, key: string, source: string): number | null {
  const v = config[key];
  if (v === undefined || v === null) return null;
  // Some configs list several EOS ids; the first is the canonical one.
  const first = Array.isArray(v) ? v[0] : v;
  if (typeof first !== "number" || !Number.isSafeInteger(first) || first < 0) {
    throw new FormatError(`${source}: "${key}" must be a token id, got ${JSON.stringify(v)}`);
  }
  return first;
}

/** Hyperparameters from a parsed config.json. */
export function hparamsFromConfig(config: Record<string, unknown>, source: string): ExportHparams {
  const nEmbd = int(config, "hidden_size", source);
  const nHead = int(config, "num_attention_heads", source);
  const nHeadKv = int(config, "num_key_value_heads", source, nHead);
  const headDim = config.head_dim === undefined || config.head_dim === null
    ? nEmbd / nHead
    : int(config, "head_dim", source);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new FormatError(
      `${source}: head_dim ${headDim} (hidden_size / num_attention_heads) must be an even integer`,
    );
  }
  if (nHead % nHeadKv !== 0) {
    throw new FormatError(
      `${source}: num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nHeadKv}`,
    );
  }
  if (config.rope_scaling !== undefined && config.rope_scaling !== null) {
    throw new UnsupportedError(
      `${source}: rope_scaling ${JSON.stringify(config.rope_scaling)} is not supported yet`,
    );
  }
  return {
    nEmbd,
    nFf: int(config, "intermediate_size", source),
    nLayer: int(config, "num_hidden_layers", source),
    nHead,
    nHeadKv,
    headDim,
    vocabSize: int(config, "vocab_size", source),
    contextLength: int(config, "max_position_embeddings", source, 2048),
    eps: num(config, "rms_norm_eps", source, 1e-6),
    ropeTheta: num(config, "rope_theta", source, 10000),
    tiedEmbeddings: config.tie_word_embeddings === true,
    bosId: optionalId(config, "bos_token_id", source),
    eosId: optionalId(config, "eos_token_id", source),
  };
}
