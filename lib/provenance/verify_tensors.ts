/**
 * meta.json's `tensors` table against the GGUF's: the same tensors in the
 * same order, and for each one its ggml type, shape, payload digest (`xxh64`,
 * or `sha256` in files written before xxh64 became the locator) and
 * statistics (`rms`, `min`, `max`, `ternary_scale`) recomputed from the
 * stored values (see tensor_stats.ts). `hf_name`, `source_dtype`, `action`
 * and `clamped` describe the checkpoint and what the writer did: they are
 * returned as claims the GGUF cannot confirm.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { checkTensorRows } from "./verify_tensors.ts";
 * const gguf = await openGguf("m.gguf");
 * const meta = JSON.parse(await Deno.readTextFile("m.meta.json"));
 * const rows = meta.tensors as { gguf_name: string; xxh64: string }[];
 * const digests = new Map(rows.map((r) => [r.gguf_name, { xxh64: r.xxh64 }]));
 * const { mismatches } = await checkTensorRows(meta.tensors, { file: "m.meta.json", gguf, digests });
 * gguf.close();
 * ```
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import { CleanGgufError } from "../errors.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { codecOf } from "../codecs/table.ts";
import { claim, isRecord, keyProblems, META_KEYS, type UnverifiableClaim } from "./meta_schema.ts";
import {
  type RecomputedStatistics,
  recomputeStatistics,
  rmsAgreement,
  scaleAgreement,
} from "./tensor_stats.ts";

/** What the rows are checked against. */
export interface TensorCheckInput {
  /** meta.json's path, for messages. */
  readonly file: string;
  readonly gguf: GgufFile;
  /** Digests of each tensor's payload, by name (xxh64 always; sha256 when a row records one). */
  readonly digests: ReadonlyMap<string, PayloadDigests>;
}

/** A payload's digests, lower-case hex. */
export type PayloadDigests = Readonly<Partial<Record<RowDigest, string>>>;

/** The payload digests a row may record: xxh64 now, sha256 in earlier files. */
export const ROW_DIGESTS = ["xxh64", "sha256"] as const;
type RowDigest = (typeof ROW_DIGESTS)[number];

/** Mismatches (failures) and claims the GGUF cannot confirm. */
export interface Findings {
  readonly mismatches: string[];
  readonly claims: UnverifiableClaim[];
}

type Row = Record<string, unknown>;

/** Rows by name, after their keys are checked; problems go to `bad`. */
function rowsByName(rows: unknown[], file: string, bad: string[]): Map<string, [Row, number]> {
  const byName = new Map<string, [Row, number]>();
  rows.forEach((row, i) => {
    if (!isRecord(row)) {
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

/**
 * Checks meta.json's `tensors` against the GGUF (see the module comment).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("m.gguf");
 * const meta = JSON.parse(await Deno.readTextFile("m.meta.json"));
 * const found = await checkTensorRows(meta.tensors, { file: "m.meta.json", gguf, digests: new Map() });
 * found.mismatches.length === 0; // every recomputable field matches
 * ```
 */
export async function checkTensorRows(rows: unknown, input: TensorCheckInput): Promise<Findings> {
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
