/**
 * The provenance file written beside every GGUF (`<stem>.meta.json`) and the
 * fingerprint file (`<stem>.fingerprint`). No timestamp unless asked for, so
 * that two exports of the same input are byte-identical.
 *
 * @example
 * ```ts
 * import { fingerprintLine, serializeMeta } from "./meta.ts";
 * fingerprintLine("ab12"); // "sha256-ab12\n"
 * ```
 * @module
 */

import { FormatError } from "../errors.ts";

/** Tool identity recorded in every meta.json. */
export const TOOL = { name: "clean-gguf", version: "0.1.0" } as const;

/** One tensor as written. */
export interface MetaTensor {
  gguf_name: string;
  /** HF name it came from (null for tensors made by the tool). */
  hf_name: string | null;
  gguf_type: string;
  /** PyTorch order. */
  shape: number[];
  source_dtype: string | null;
  /** Statistics of the values as written in the GGUF. */
  rms: number;
  min: number;
  max: number;
  /**
   * xxh64 (seed 0, as llama-gguf-hash prints it) of the payload bytes, without
   * alignment padding: the tensor's locator, equal to its manifest line. The
   * fingerprint covers the bytes; this says which tensor changed.
   */
  xxh64?: string;
  /** sha256 of the payload bytes: what meta.json recorded before xxh64 (read, never written). */
  sha256?: string;
  /** What happened to it: "copied", "converted", "ternarized", "quantized:I2_S"... and why. */
  action: string;
  /** F16 overflow values clamped (only with --allow-overflow clamp). */
  clamped?: number;
  /** Ternary scale s, for ternary projections. */
  ternary_scale?: number;
}

/** A source file and its sha256. */
export interface MetaSource {
  path: string;
  size: number;
  sha256: string;
}

/** The whole meta.json. */
export interface GgufMeta {
  format: "gguf_v3";
  tool: { name: string; version: string };
  /** "f16", "f32", "bf16", "i2_s", "tq2_0", "tq1_0". */
  precision: string;
  norms_format: "float_preserved";
  architecture: string;
  file: string;
  fingerprint: string;
  size: number;
  options: Record<string, unknown>;
  sources: MetaSource[];
  config: Record<string, unknown>;
  tokenizer: Record<string, unknown>;
  tensors: MetaTensor[];
  warnings: string[];
  created_at?: string;
}

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
export function companionPaths(ggufPath: string): {
  meta: string;
  fingerprint: string;
  manifest: string;
  signature: string;
} {
  const stem = stemOf(ggufPath);
  return {
    meta: `${stem}.meta.json`,
    fingerprint: `${stem}.fingerprint`,
    manifest: `${stem}.gguf-hash`,
    signature: `${stem}.sig`,
  };
}
