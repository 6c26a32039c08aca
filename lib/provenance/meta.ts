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

import type { GgufMeta } from "./meta_schema.ts";

/** The writers' types of meta.json, derived from its key tables. */
export type { GgufMeta, MetaSource, MetaTensor } from "./meta_schema.ts";

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
