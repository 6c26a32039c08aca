/**
 * meta.json against the GGUF it describes. Every field the GGUF determines is
 * recomputed and compared: `format` (GGUF version), `precision`
 * (`general.file_type`), `norms_format` (every norm stored as a float),
 * `architecture`, `fingerprint`, `size`, `config` (the hyperparameters the
 * header holds), `tokenizer` and the whole `tensors` table.
 * What the GGUF cannot determine (`tool`, `options`, `sources`, `warnings`,
 * the config.json fields it does not store...) is returned as claims,
 * "unverifiable without a signature". Unknown keys, missing keys and any
 * difference from the writer's JSON other than whitespace (duplicate keys,
 * reordered keys, reformatted numbers) are failures.
 *
 * The `tensors` table must list the GGUF's tensors in the same order, and
 * for each one its ggml type, shape, payload digest (`xxh64`, or `sha256` in
 * files written before xxh64 became the locator) and statistics (`rms`,
 * `min`, `max`, `ternary_scale`) recomputed from the stored values (see
 * tensor_stats.ts). `hf_name`, `source_dtype`, `action` and `clamped`
 * describe the checkpoint and what the writer did: they are claims the GGUF
 * cannot confirm.
 * @module
 */

import { basename } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ARCHITECTURES, ggufTensorRole } from "../arch/registry.ts";
import { HPARAMS, readHparams } from "../arch/hparams.ts";
import { codecOf } from "../codecs/table.ts";
import { CleanGgufError } from "../errors.ts";
import { isJsonObject } from "../io/json.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import { FileType, GgmlType } from "../gguf/types.ts";
import { configFromGguf, type KeyTable, META_KEYS, tokenizerFromGguf } from "./meta.ts";
import {
  type RecomputedStatistics,
  recomputeStatistics,
  rmsAgreement,
  scaleAgreement,
} from "./tensor_stats.ts";

/** A claim of meta.json that the GGUF cannot confirm, by JSON path (`tensors[3].hf_name`, `tensors[*].action`). */
export interface UnverifiableClaim {
  readonly field: string;
  readonly reason: string;
}

/** Why each claim the GGUF cannot confirm is "unverifiable without a signature" (by field path, `[*]` for every row). */
const UNVERIFIABLE = {
  tool: "which program says it wrote the file",
  options: "the options the writer says it ran with",
  sources: "the input files, their sizes and sha256 (not part of the GGUF)",
  warnings: "what the writer says it warned about",
  created_at: "when the writer says it wrote the file",
  file: "the name the file was written under (it has been renamed since)",
  "config.architectures": "copied from config.json; the GGUF does not hold it",
  "config.model_type": "copied from config.json; the GGUF does not hold it",
  "config.hidden_act": "copied from config.json; the GGUF does not hold it",
  "config.quantization_config": "copied from config.json; the GGUF does not hold it",
  "config.family": "the GGUF's architecture name is not in the architecture table",
  "config.rms_norm_eps": "digits beyond the f32 the GGUF stores",
  "config.rope_theta": "digits beyond the f32 the GGUF stores",
  "tensors[*].hf_name": "the checkpoint tensor each one came from",
  "tensors[*].source_dtype": "the checkpoint dtype each one came from",
  "tensors[*].action": "what the writer says it did to each tensor",
  "tensors[*].clamped": "how many values the writer says it clamped",
  "tensors[*].ternary_scale": "digits beyond the precision of the scale the tensor stores",
  "tensors[*].ternary_scale (all zero)": "an all-zero tensor stores no scale",
  "tensors[*].rms": "compared to 1e-8 relative: the writer's summation order over a tensor " +
    "of more than 2^20 values cannot be reproduced exactly",
  "tensors[*].statistics": "no decoder for the tensor's type: rms, min and max not recomputed",
} as const;

/** A key of {@link UNVERIFIABLE}. */
type UnverifiableKind = keyof typeof UNVERIFIABLE;

/** A claim at `field` (a concrete path such as `tensors[3].hf_name`) with the reason of its kind. */
function claim(kind: UnverifiableKind, field: string = kind): UnverifiableClaim {
  return { field, reason: UNVERIFIABLE[kind] };
}

/** Keys of `value` outside `keys`, and required keys it lacks, as messages naming `where` (a JSON path in `file`). */
function keyProblems(
  value: Record<string, unknown>,
  keys: KeyTable,
  file: string,
  where: string,
): string[] {
  const unknown = Object.keys(value).filter((k) => !Object.hasOwn(keys, k));
  const missing = Object.keys(keys).filter((k) => !keys[k]!.optional && !Object.hasOwn(value, k));
  return [
    ...unknown.map((k) =>
      `${file}: ${where} has an unknown key ${JSON.stringify(k)} (not written by this tool)`
    ),
    ...missing.map((k) => `${file}: ${where} lacks ${JSON.stringify(k)}`),
  ];
}

/** What the rows are checked against. */
interface TensorCheckInput {
  /** meta.json's path, for messages. */
  readonly file: string;
  readonly gguf: GgufFile;
  /** Digests of each tensor's payload, by name (xxh64 always; sha256 when a row records one). */
  readonly digests: ReadonlyMap<string, PayloadDigests>;
}

/** A payload's digests, lower-case hex. */
export type PayloadDigests = Readonly<Partial<Record<RowDigest, string>>>;

/** The payload digests a row may record: xxh64 now, sha256 in earlier files. */
const ROW_DIGESTS = ["xxh64", "sha256"] as const;
type RowDigest = (typeof ROW_DIGESTS)[number];

/** Mismatches (failures) and claims the GGUF cannot confirm. */
export interface Findings {
  readonly mismatches: string[];
  readonly claims: UnverifiableClaim[];
}

/** What meta.json is checked against. */
export interface MetaCheckInput {
  readonly file: string;
  readonly bytes: Uint8Array;
  readonly ggufPath: string;
  readonly fileSize: number;
  readonly fileSha256: string;
  /** The parsed GGUF and its payload digests by tensor name, or why it could not be parsed. */
  readonly parsed: { gguf: GgufFile; digests: ReadonlyMap<string, PayloadDigests> } | {
    error: string;
  };
}

/** The outcome: a one-line summary, failures, and claims the GGUF cannot confirm. */
export interface MetaCheckResult extends Findings {
  readonly detail: string;
}

/** The JSON text without the whitespace outside strings. */
function withoutWhitespace(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\s+/g, (_m, s: string | undefined) => s ?? "");
}

/** The parsed object, or why meta.json is not the writer's JSON. */
function parseMeta(file: string, bytes: Uint8Array): Record<string, unknown> | string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return `${file}: not UTF-8 text`;
  }
  let meta: unknown;
  try {
    meta = JSON.parse(text);
  } catch (e) {
    return `${file}: not JSON (${(e as Error).message})`;
  }
  if (!isJsonObject(meta)) return `${file}: not a JSON object`;
  // The writer emits JSON.stringify's text: only whitespace may differ from it. Anything else
  // (a duplicate key that JSON.parse silently drops, reordered keys, numbers written another way)
  // is an edit that a reader of the bytes and a reader of the parsed object would see differently.
  if (withoutWhitespace(text) !== JSON.stringify(meta)) {
    return `${file}: not as the writer wrote it (duplicate or reordered keys, or reformatted values; only whitespace may differ)`;
  }
  return meta;
}

/** One scalar field against the value the file determines. */
function expectEqual(out: Findings, file: string, key: string, recorded: unknown, actual: unknown) {
  if (isDeepStrictEqual(recorded, actual)) return;
  const [was, is] = [JSON.stringify(recorded), JSON.stringify(actual)];
  out.mismatches.push(`${file}: "${key}" is ${was} but the GGUF gives ${is}`);
}

/** `fingerprint` and `size`: checked before (and whether or not) the GGUF parses. */
function checkWholeFile(meta: Record<string, unknown>, input: MetaCheckInput, out: Findings): void {
  const { file, ggufPath: g, fileSize, fileSha256 } = input;
  const fp = meta.fingerprint;
  if (typeof fp !== "string" || fp.replace(/^sha256-/, "") !== fileSha256) {
    out.mismatches.push(
      `${file}: "fingerprint" is ${JSON.stringify(fp)} but ${g} has sha256 ${fileSha256}`,
    );
  }
  const size = meta.size;
  if (size === fileSize) return;
  // Shorter than recorded and no longer the recorded bytes: the file lost its end. (Were the
  // bytes the recorded ones, "size" itself would be what changed.)
  const intact = typeof fp === "string" && fp.replace(/^sha256-/, "") === fileSha256;
  if (typeof size === "number" && Number.isSafeInteger(size) && fileSize < size && !intact) {
    out.mismatches.push(`${g}: truncated: ${fileSize} bytes, expected ${size} (${file} "size")`);
  } else {
    out.mismatches.push(
      `${file}: "size" is ${JSON.stringify(size)} but ${g} has ${fileSize} bytes`,
    );
  }
}

/** Fields that describe the writer and its inputs: shape-checked, then claims. */
function checkWriterFields(
  meta: Record<string, unknown>,
  input: MetaCheckInput,
  out: Findings,
): void {
  const { file } = input;
  const shape = (ok: boolean, key: string, what: string) => {
    if (!ok) out.mismatches.push(`${file}: "${key}" is not ${what}`);
  };
  /** An object of meta.json, its keys checked against `keys`. */
  const object = (v: unknown, keys: KeyTable, where: string): v is Record<string, unknown> => {
    if (isJsonObject(v)) out.mismatches.push(...keyProblems(v, keys, file, where));
    else shape(false, where, "an object");
    return isJsonObject(v);
  };
  object(meta.tool, META_KEYS.tool, "tool");
  const options = meta.options;
  if (object(options, META_KEYS.options, "options") && options.origin !== undefined) {
    object(options.origin, META_KEYS.origin, "options.origin");
  }
  if (Array.isArray(meta.sources)) {
    meta.sources.forEach((s, i) => object(s, META_KEYS.source, `sources[${i}]`));
  } else shape(false, "sources", "an array");
  const warnings = meta.warnings, created = meta.created_at;
  const strings = Array.isArray(warnings) && warnings.every((w) => typeof w === "string");
  shape(strings, "warnings", "an array of strings");
  shape(created === undefined || typeof created === "string", "created_at", "a string");
  shape(typeof meta.file === "string", "file", "a string");
  out.claims.push(claim("tool"), claim("options"), claim("sources"), claim("warnings"));
  if (meta.created_at !== undefined) out.claims.push(claim("created_at"));
  if (typeof meta.file === "string" && meta.file !== basename(input.ggufPath)) {
    out.claims.push(claim("file"));
  }
}

/** config.json fields the export copies into `config` that the GGUF does not hold. */
const FROM_CONFIG_JSON = [
  "architectures",
  "model_type",
  "hidden_act",
  "quantization_config",
] as const;

/**
 * The export-form `config` keys the header determines (the config.json keys of
 * the hyper-parameter table, lib/arch/hparams.ts), compared with the values the
 * engine reads from the header; f32 keys compare after rounding to f32.
 */
function checkHeaderHparams(
  config: Record<string, unknown>,
  gguf: GgufFile,
  file: string,
  out: Findings,
): void {
  let h: Record<string, unknown>;
  try {
    h = { ...readHparams(gguf) };
  } catch (e) {
    out.mismatches.push(`${file}: config: the header's hyper-parameters: ${(e as Error).message}`);
    return;
  }
  for (const row of HPARAMS) {
    const key = row.config;
    if (key === undefined || !Object.hasOwn(config, key)) continue;
    const recorded = config[key], actual = h[row.name];
    const same = row.float && typeof recorded === "number"
      ? Math.fround(recorded) === actual
      : recorded === actual;
    if (!same) expectEqual(out, file, `config.${key}`, recorded, actual);
    else if (recorded !== actual) out.claims.push(claim(`config.${key}` as "config.rms_norm_eps"));
  }
}

/** The export's `config` (from config.json): what the header holds is compared, the rest claimed. */
function checkExportConfig(
  config: Record<string, unknown>,
  gguf: GgufFile,
  arch: string,
  file: string,
  out: Findings,
) {
  out.mismatches.push(...keyProblems(config, META_KEYS.exportConfig, file, "config"));
  checkHeaderHparams(config, gguf, file, out);
  if (Object.hasOwn(config, "tie_word_embeddings")) {
    const tied = !gguf.hasTensor("output.weight");
    expectEqual(out, file, "config.tie_word_embeddings", config.tie_word_embeddings, tied);
  }
  const family = ARCHITECTURES.find((a) => a.ggufArchNames.includes(arch))?.family;
  if (family === undefined) out.claims.push(claim("config.family"));
  else if (Object.hasOwn(config, "family")) {
    expectEqual(out, file, "config.family", config.family, family);
  }
  for (const key of FROM_CONFIG_JSON) {
    if (Object.hasOwn(config, key)) out.claims.push(claim(`config.${key}`));
  }
}

/** `config` in either form, and `tokenizer`. */
function checkConfigAndTokenizer(
  meta: Record<string, unknown>,
  gguf: GgufFile,
  file: string,
  out: Findings,
) {
  const arch = gguf.kv(Keys.general.architecture)?.value;
  const archName = typeof arch === "string" ? arch : null;
  const config = meta.config;
  if (!isJsonObject(config)) out.mismatches.push(`${file}: "config" is not an object`);
  else if (Object.hasOwn(config, "derived_from")) {
    // The quantizer's form when no source meta.json described its input: all from the header.
    expectEqual(out, file, "config", config, configFromGguf(gguf, archName));
  } else if (archName === null) {
    out.mismatches.push(
      `${file}: "config" describes a model but ${gguf.path} has no general.architecture`,
    );
  } else checkExportConfig(config, gguf, archName, file, out);

  const tokenizer = meta.tokenizer;
  if (!isJsonObject(tokenizer)) {
    out.mismatches.push(`${file}: "tokenizer" is not an object`);
    return;
  }
  const actual = tokenizerFromGguf(gguf);
  const keys = Object.fromEntries(Object.keys(actual).map((k) => [k, { optional: false }]));
  out.mismatches.push(...keyProblems(tokenizer, keys, file, "tokenizer"));
  for (const key of Object.keys(actual)) {
    if (Object.hasOwn(tokenizer, key)) {
      expectEqual(out, file, `tokenizer.${key}`, tokenizer[key], actual[key]);
    }
  }
}

/** `general.file_type` → meta.json precision: the FileType name without ALL_/MOSTLY_, lower case. */
const PRECISION_OF_FILE_TYPE: ReadonlyMap<number, string> = new Map(
  Object.entries(FileType).map((
    [name, id],
  ) => [id, name.replace(/^(ALL|MOSTLY)_/, "").toLowerCase()]),
);

/** meta.json's `precision` of a GGUF; null when general.file_type is absent or names no file type we write. */
function precisionOf(gguf: GgufFile): string | null {
  const kv = gguf.kv(Keys.general.fileType);
  return typeof kv?.value === "number" ? PRECISION_OF_FILE_TYPE.get(kv.value) ?? null : null;
}

const FLOAT_TYPES: readonly number[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/** Fields that need the parsed GGUF. */
async function checkAgainstGguf(
  meta: Record<string, unknown>,
  input: MetaCheckInput,
  parsed: { gguf: GgufFile; digests: ReadonlyMap<string, PayloadDigests> },
  out: Findings,
): Promise<void> {
  const { file } = input;
  const { gguf } = parsed;
  expectEqual(out, file, "format", meta.format, `gguf_v${gguf.version}`);
  expectEqual(out, file, "precision", meta.precision, precisionOf(gguf));
  const arch = gguf.kv(Keys.general.architecture)?.value;
  expectEqual(out, file, "architecture", meta.architecture, typeof arch === "string" ? arch : "");
  const notFloat = gguf.tensors.filter((t) =>
    ggufTensorRole(t.name)?.role === "norm" && !FLOAT_TYPES.includes(t.type)
  ).map((t) => t.name);
  if (meta.norms_format !== "float_preserved") {
    expectEqual(out, file, "norms_format", meta.norms_format, "float_preserved");
  } else if (notFloat.length > 0) {
    const stored = `${gguf.path} stores ${notFloat.join(", ")} in another type`;
    out.mismatches.push(`${file}: "norms_format" is "float_preserved" but ${stored}`);
  }
  checkConfigAndTokenizer(meta, gguf, file, out);
  const rows = await checkTensorRows(meta.tensors, { file, gguf, digests: parsed.digests });
  out.mismatches.push(...rows.mismatches);
  out.claims.push(...rows.claims);
}

/**
 * Checks meta.json against the GGUF (see the module comment). Never throws
 * for a bad meta.json: every problem is a mismatch naming the field and,
 * where it applies, the tensor.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("m.gguf");
 * const { mismatches, claims } = await checkMetaJson({
 *   file: "m.meta.json",
 *   bytes: await Deno.readFile("m.meta.json"),
 *   ggufPath: "m.gguf",
 *   fileSize: gguf.fileSize,
 *   fileSha256: "…",
 *   parsed: { error: "not parsed in this example" },
 * });
 * ```
 */
export async function checkMetaJson(input: MetaCheckInput): Promise<MetaCheckResult> {
  const meta = parseMeta(input.file, input.bytes);
  if (typeof meta === "string") return { detail: "malformed", mismatches: [meta], claims: [] };
  const out: Findings = { mismatches: [], claims: [] };
  out.mismatches.push(...keyProblems(meta, META_KEYS.top, input.file, "the top level"));
  checkWholeFile(meta, input, out);
  checkWriterFields(meta, input, out);
  if ("error" in input.parsed) {
    out.mismatches.push(
      `${input.file}: its tensor table, statistics, precision, config and tokenizer cannot be checked: ${input.parsed.error}`,
    );
  } else await checkAgainstGguf(meta, input, input.parsed, out);
  const rows = Array.isArray(meta.tensors) ? meta.tensors.length : 0;
  return {
    detail: `${rows} tensors and every field the GGUF determines recomputed`,
    ...out,
  };
}

type Row = Record<string, unknown>;

/** Rows by name, after their keys are checked; problems go to `bad`. */
function rowsByName(rows: unknown[], file: string, bad: string[]): Map<string, [Row, number]> {
  const byName = new Map<string, [Row, number]>();
  rows.forEach((row, i) => {
    if (!isJsonObject(row)) {
      bad.push(`${file}: tensors[${i}] is not an object`);
      return;
    }
    bad.push(...keyProblems(row, META_KEYS.tensor, file, `tensors[${i}]`));
    const name = row.gguf_name;
    if (typeof name !== "string") {
      bad.push(`${file}: tensors[${i}] lacks a string "gguf_name"`);
      return;
    }
    if (byName.has(name)) bad.push(`${file}: tensor ${name} is listed twice`);
    else byName.set(name, [row, i]);
  });
  return byName;
}

/** Missing and extra tensors, or one message for a different order. */
function listingProblems(
  rows: unknown[],
  byName: Map<string, [Row, number]>,
  gguf: GgufFile,
  file: string,
): string[] {
  const bad: string[] = [];
  for (const name of byName.keys()) {
    if (!gguf.hasTensor(name)) {
      bad.push(`${file}: tensor ${name} is listed but is not in ${gguf.path}`);
    }
  }
  for (const t of gguf.tensors) {
    if (!byName.has(t.name)) bad.push(`${file}: tensor ${t.name} of ${gguf.path} is not listed`);
  }
  if (bad.length > 0 || rows.length !== gguf.tensors.length) return bad;
  const at = gguf.tensors.findIndex((t, i) => (rows[i] as Row).gguf_name !== t.name);
  if (at >= 0) {
    bad.push(
      `${file}: tensors are not in the GGUF's order: tensors[${at}] is ${
        (rows[at] as Row).gguf_name
      }, tensor #${at} of ${gguf.path} is ${gguf.tensors[at]!.name}`,
    );
  }
  return bad;
}

/** The claims of a row that describe the checkpoint and the writer, and their types. */
function writerClaims(row: Row, i: number, file: string, out: Findings): void {
  const name = row.gguf_name as string;
  for (const key of ["hf_name", "source_dtype"] as const) {
    if (row[key] !== null && typeof row[key] !== "string") {
      out.mismatches.push(`${file}: tensor ${name}: "${key}" is neither a string nor null`);
    }
  }
  if (typeof row.action !== "string") {
    out.mismatches.push(`${file}: tensor ${name}: "action" is not a string`);
  }
  if (row.clamped !== undefined) {
    if (!Number.isSafeInteger(row.clamped) || (row.clamped as number) < 0) {
      out.mismatches.push(`${file}: tensor ${name}: "clamped" is not a count`);
    }
    out.claims.push(claim("tensors[*].clamped", `tensors[${i}].clamped`));
  }
}

/** Type, shape and payload digest. */
function tableProblems(
  row: Row,
  t: GgufTensorInfo,
  digests: PayloadDigests | undefined,
  g: string,
): string[] {
  const bad: string[] = [];
  const type = codecOf(t.type).name;
  if (row.gguf_type !== type) {
    bad.push(`gguf_type ${JSON.stringify(row.gguf_type)} recorded, ${type} in ${g}`);
  }
  if (!isDeepStrictEqual(row.shape, [...t.shape])) {
    bad.push(`shape ${JSON.stringify(row.shape)} recorded, [${t.shape.join(",")}] in ${g}`);
  }
  const recordedAny = ROW_DIGESTS.filter((a) => row[a] !== undefined);
  if (recordedAny.length === 0) bad.push(`no payload digest recorded (xxh64)`);
  for (const algo of recordedAny) {
    const value = row[algo];
    const recorded = typeof value === "string" ? value.replace(/^sha256-/, "") : value;
    const actual = digests?.[algo];
    if (recorded !== actual) bad.push(`${algo} ${value} recorded, ${actual} in ${g}`);
  }
  return bad;
}

/** rms, min, max and ternary_scale against the recomputed statistics. */
function statisticsProblems(
  row: Row,
  t: GgufTensorInfo,
  i: number,
  s: RecomputedStatistics,
  out: Findings,
): string[] {
  const bad: string[] = [];
  const rms = typeof row.rms === "number" ? rmsAgreement(row.rms, s) : "differs";
  if (rms === "close") out.claims.push(claim("tensors[*].rms", `tensors[${i}].rms`));
  if (rms === "differs") {
    const also = s.ternaryRms !== undefined ? ` (or ${s.ternaryRms} from its trit counts)` : "";
    bad.push(`rms ${JSON.stringify(row.rms)} recorded, ${s.summary.rms}${also} recomputed`);
  }
  for (const key of ["min", "max"] as const) {
    if (row[key] !== s.summary[key]) {
      bad.push(`${key} ${JSON.stringify(row[key])} recorded, ${s.summary[key]} recomputed`);
    }
  }
  if (row.ternary_scale === undefined) return bad;
  const scale = typeof row.ternary_scale === "number"
    ? scaleAgreement(row.ternary_scale, s, t.type)
    : "differs";
  const field = `tensors[${i}].ternary_scale`;
  if (scale === "rounds-to-stored") out.claims.push(claim("tensors[*].ternary_scale", field));
  if (scale === "no-scale-stored") {
    out.claims.push(claim("tensors[*].ternary_scale (all zero)", field));
  }
  if (scale === "differs") {
    const stored = s.ternary.ternary ? `the tensor stores ${s.ternary.scale}` : "it is not ternary";
    bad.push(`ternary_scale ${JSON.stringify(row.ternary_scale)} recorded, ${stored}`);
  }
  return bad;
}

/** Everything about one listed tensor. */
async function checkRow(
  row: Row,
  i: number,
  t: GgufTensorInfo,
  input: TensorCheckInput,
  out: Findings,
): Promise<void> {
  const g = input.gguf.path;
  const bad = tableProblems(row, t, input.digests.get(t.name), g);
  let stats: RecomputedStatistics | undefined;
  try {
    stats = await recomputeStatistics(input.gguf, t);
  } catch (e) {
    if (!(e instanceof CleanGgufError)) throw e;
    bad.push(`its values cannot be decoded (${e.message})`);
  }
  if (stats) bad.push(...statisticsProblems(row, t, i, stats, out));
  else if (bad.length === 0) {
    for (const k of ["rms", "min", "max"]) {
      out.claims.push(claim("tensors[*].statistics", `tensors[${i}].${k}`));
    }
  }
  out.mismatches.push(...bad.map((b) => `${input.file}: tensor ${t.name}: ${b}`));
}

/** Checks meta.json's `tensors` against the GGUF (see the module comment). */
async function checkTensorRows(rows: unknown, input: TensorCheckInput): Promise<Findings> {
  const out: Findings = { mismatches: [], claims: [] };
  const { file, gguf } = input;
  if (!Array.isArray(rows)) {
    out.mismatches.push(`${file}: "tensors" is not an array`);
    return out;
  }
  const byName = rowsByName(rows, file, out.mismatches);
  out.mismatches.push(...listingProblems(rows, byName, gguf, file));
  for (const [name, [row, i]] of byName) {
    writerClaims(row, i, file, out);
    if (gguf.hasTensor(name)) await checkRow(row, i, gguf.tensor(name), input, out);
  }
  if (byName.size > 0) {
    const columns = (["hf_name", "source_dtype", "action"] as const).map((k) =>
      claim(`tensors[*].${k}`)
    );
    out.claims.unshift(...columns);
  }
  return out;
}
