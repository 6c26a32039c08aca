/**
 * Gate 1: the norm tensors. Every norm the hyperparameters imply
 * (attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm, output_norm) must be
 * present, stored as F32/F16/BF16 (never quantized), finite, with its RMS inside
 * the envelope of its class, show no trace of quantization (≤ 3 distinct values,
 * or every block on a low-bit grid), and, when the export's meta.json is
 * known, have the RMS recorded at export. The meta.json is found beside the
 * GGUF unless named: its per-tensor table `tensors: [{ gguf_name, hf_name,
 * gguf_type, shape, source_dtype, rms, min, max, xxh64 }]` (`sha256` instead
 * of `xxh64` in files written before xxh64 became the tensor locator).
 *
 * Exit codes: 10 when a norm, the GGUF or the meta.json cannot be read; 12
 * when the model has no norm tensor that can act as one (none at all, or all
 * zero, non-finite or misshapen); 11 for any other failure.
 *
 * @example
 * ```ts
 * import { inspectNormsOfFile } from "./norms.ts";
 * const { gate, norms } = await inspectNormsOfFile({ ggufPath: "models/clean/clean-f16.gguf" });
 * console.log(gate.exitCode ?? 0, norms.length);
 * ```
 * @module
 */

import { archByGgufName, type Family, ggufTensorRole, type NormClass } from "../arch/registry.ts";
import { EXIT, FormatError, messageAbout, UnsupportedError } from "../errors.ts";
import { sha256Hex } from "../io/hash.ts";
import { xxh64Hex } from "../io/xxh64.ts";
import { type GgufFile, type GgufTensorInfo, openGguf } from "../gguf/reader.ts";
import { codecOf, typesWith } from "../codecs/table.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import { expectedModelTensors, sameShape } from "../arch/model_tensors.ts";
import { isJsonObject, readJsonFile } from "../io/json.ts";
import { companionPaths } from "../provenance/meta.ts";
import { countDistinct, lowBitGrid } from "../stats/grid.ts";
import { summarize } from "../stats/summary.ts";
import { elementCount } from "../stats/tensor_values.ts";
import {
  type Check,
  check,
  failedGate,
  gate,
  type GateResult,
  type NormFinding,
  type TensorStatsEntry,
} from "./report.ts";
import {
  DEFAULT_RULES,
  type EnvelopeFamily,
  envelopeFamily,
  envelopeFor,
  NORM_CLASSES,
  type ValidationRules,
} from "./rules.ts";

/** Norm storage types: norms are never quantized. */
const FLOAT_NORM_TYPES: readonly number[] = typesWith("float");

/**
 * What gate 1 reads of a tensor row of the export's meta.json (readExportMeta checks the row's
 * other fields too; nothing else in the file is read, so the validator keeps working when the
 * provenance format grows).
 */
interface MetaTensorRow {
  readonly rms: number;
  readonly min: number;
  readonly max: number;
  /** The payload's xxh64; absent in files that record sha256 instead. */
  readonly xxh64?: string;
  readonly sha256?: string;
}

/** The meta.json's tensor table, by GGUF name. */
interface ExportMeta {
  readonly path: string;
  readonly tensors: ReadonlyMap<string, MetaTensorRow>;
}

/** Options of {@link runNormGate} and {@link inspectNormsOfFile}. */
export interface NormGateOptions {
  /** meta.json of the export; undefined: look beside the GGUF; null: none. */
  readonly metaPath?: string | null;
  readonly rules?: ValidationRules;
}

/** Gate 1's outcome with the meta.json it compared against (or null). */
export interface NormGateResult {
  readonly gate: GateResult;
  readonly norms: NormFinding[];
  readonly metaPath: string | null;
}

function statsEntry(t: GgufTensorInfo, values: Float32Array): TensorStatsEntry {
  return { name: t.name, type: codecOf(t.type).name, shape: [...t.shape], ...summarize(values) };
}

const fmt = (x: number) => Number(x.toPrecision(6)).toString();

/** One norm tensor to judge, with its decoded values and raw payload. */
export interface NormSample {
  readonly tensor: GgufTensorInfo;
  readonly values: Float32Array;
  readonly payload: Uint8Array;
  readonly normClass: NormClass;
  readonly layer: number | null;
  /** The shape the hyperparameters imply, or null when unknown. */
  readonly expectedShape: readonly number[] | null;
}

/** What every norm check reads: the sample, its figures and the rules that apply to it. */
function normFacts(sample: NormSample, family: EnvelopeFamily | null, rules: ValidationRules) {
  const t = sample.tensor, q = rules.quantization;
  return {
    sample,
    name: t.name,
    typeName: codecOf(t.type).name,
    stats: statsEntry(t, sample.values),
    family,
    envelope: envelopeFor(rules, family, sample.normClass),
    q,
    distinct: countDistinct(sample.values),
    grid: lowBitGrid(sample.values, {
      blockSize: q.gridBlockSize,
      maxLevel: q.gridMaxLevel,
      tolerance: q.gridTolerance,
    }),
  };
}

type NormFacts = ReturnType<typeof normFacts>;

/** One row of the norm checks: its id, what a failure means, and [passed, message] (null: not run). */
interface NormCheck {
  readonly id: string;
  readonly severity: "unusable" | "suspicious";
  /**
   * Judges the figures of the values: not run on a tensor holding NaN or ±inf,
   * whose figures would leave them out (the finite check has failed it).
   */
  readonly ofValues?: true;
  judge(f: NormFacts): readonly [boolean, string] | null;
}

/** The checks of gate 1, in report order. */
const NORM_CHECKS: readonly NormCheck[] = [
  {
    id: "storage",
    severity: "suspicious",
    judge: ({ name, typeName, sample }) => {
      const ok = FLOAT_NORM_TYPES.includes(sample.tensor.type);
      const why = ok ? "" : ": norm weights must stay F32/F16/BF16, never quantized";
      return [ok, `${name} stored as ${typeName}${why}`];
    },
  },
  {
    id: "shape",
    severity: "unusable",
    judge: ({ name, sample: { tensor, expectedShape } }) => {
      if (!expectedShape) return null;
      const ok = sameShape(tensor.shape, expectedShape), shape = `[${tensor.shape.join(", ")}]`;
      return [
        ok,
        ok
          ? `${name} shape ${shape}`
          : `${name} has shape ${shape}, expected [${expectedShape.join(", ")}]`,
      ];
    },
  },
  {
    id: "finite",
    severity: "unusable",
    judge: ({ name, stats, sample }) =>
      stats.nonFinite === 0 ? [true, `${name} values are finite`] : [
        false,
        `${name} has ${stats.nonFinite} NaN/inf values of ${elementCount(sample.tensor)}`,
      ],
  },
  {
    id: "nonzero",
    ofValues: true,
    severity: "unusable",
    judge: ({ name, stats }) =>
      stats.rms > 0
        ? [true, `${name} is not all zero`]
        : [false, `${name} is all zero: it would erase its input`],
  },
  {
    id: "envelope",
    ofValues: true,
    severity: "suspicious",
    judge: ({ name, stats, envelope: e, family, sample }) => {
      const ok = stats.rms >= e.rmsMin && stats.rms <= e.rmsMax;
      const where = `the ${
        family ?? "generic"
      } ${sample.normClass} envelope [${e.rmsMin}, ${e.rmsMax}]`;
      return [
        ok,
        `${name} RMS ${fmt(stats.rms)} ${ok ? "inside" : "outside"} ${where} (${e.reason})`,
      ];
    },
  },
  {
    id: "distinct",
    ofValues: true,
    severity: "suspicious",
    judge: ({ name, distinct, q }) =>
      distinct > q.maxDistinct
        ? [true, `${name} holds ${distinct >= 4096 ? "4096+" : distinct} distinct values`]
        : [
          false,
          `${name} holds only ${distinct} distinct value(s): quantized (at most ${q.maxDistinct} is suspicious)`,
        ],
  },
  {
    id: "grid",
    ofValues: true,
    severity: "suspicious",
    judge: ({ name, grid, q }) => {
      if (!grid.onGrid) return [true, `${name} is not on a low-bit grid`];
      const levels = grid.levels === 1 ? "ternary" : `${grid.levels}-level`;
      return [
        false,
        `${name}: every ${q.gridBlockSize}-value block sits on a ${levels} grid k*d: quantization damage`,
      ];
    },
  },
];

/** The comparison with the export's meta.json: RMS within the stored type's roundoff, same bytes. */
function metaCheck(f: NormFacts, rules: ValidationRules, meta: ExportMeta, checks: Check[]) {
  const { name, stats, typeName } = f;
  const row = meta.tensors.get(name);
  if (!row) {
    const why = `${name} is not in ${meta.path}: not the export it claims to be`;
    checks.push(check("fail", "meta_rms", why, name));
    return null;
  }
  const tol = rules.meta.relTolerance[typeName] ?? rules.meta.relTolerance.F16 ?? 2 ** -10;
  const relDiff = row.rms === 0
    ? (stats.rms === 0 ? 0 : Infinity)
    : Math.abs(stats.rms - row.rms) / Math.abs(row.rms);
  // A row may carry other digests (or a null xxh64) beside the one it is located by.
  const byXxh64 = typeof row.xxh64 === "string";
  const digestMatch = byXxh64
    ? xxh64Hex(f.sample.payload) === row.xxh64
    : sha256Hex(f.sample.payload) === row.sha256;
  const diff = `relative difference ${relDiff.toExponential(2)}, tolerance ${tol.toExponential(2)}`;
  const message = `${name} RMS ${fmt(stats.rms)} vs ${
    fmt(row.rms)
  } recorded at export (${diff} for ${typeName})`;
  checks.push(check(relDiff <= tol ? "pass" : "fail", "meta_rms", message, name));
  if (!digestMatch) {
    const algo = byXxh64 ? "xxh64" : "sha256";
    const why = `${name} payload ${algo} differs from ${meta.path}: rewritten since export`;
    checks.push(check("warn", "meta_digest", why, name));
  }
  return { rms: row.rms, min: row.min, max: row.max, relDiff, tolerance: tol, digestMatch };
}

/**
 * Judges one norm tensor's values against the rules (and meta.json).
 *
 * @example
 * ```ts
 * import type { GgufTensorInfo } from "../gguf/reader.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * declare const tensor: GgufTensorInfo, values: Float32Array, payload: Uint8Array;
 * const f = judgeNorm({ tensor, values, payload, normClass: "attn_norm", layer: 0, expectedShape: [256] },
 *   "bitnet", DEFAULT_RULES, null);
 * f.verdict; // "healthy"
 * ```
 */
export function judgeNorm(
  sample: NormSample,
  family: EnvelopeFamily | null,
  rules: ValidationRules,
  meta: ExportMeta | null,
): NormFinding {
  const t = sample.tensor, facts = normFacts(sample, family, rules);
  const checks: Check[] = [];
  const failed = new Set<string>();
  for (const row of NORM_CHECKS) {
    if (row.ofValues && facts.stats.nonFinite > 0) continue;
    const result = row.judge(facts);
    if (!result) continue;
    checks.push(check(result[0] ? "pass" : "fail", row.id, result[1], t.name));
    if (!result[0]) failed.add(row.severity);
  }
  const metaFinding = meta ? metaCheck(facts, rules, meta, checks) : null;
  if (checks.some((c) => c.id === "meta_rms" && c.status === "fail")) failed.add("suspicious");
  const { envelope: e, grid } = facts;
  return {
    name: t.name,
    normClass: sample.normClass,
    layer: sample.layer,
    type: facts.typeName,
    shape: [...t.shape],
    stats: facts.stats,
    distinct: facts.distinct,
    gridLevels: grid.onGrid ? grid.levels : null,
    envelope: { rmsMin: e.rmsMin, rmsMax: e.rmsMax, reason: e.reason },
    meta: metaFinding,
    verdict: failed.has("unusable") ? "unusable" : failed.size ? "suspicious" : "healthy",
    checks,
  };
}

/** The norms the hyper-parameters imply (by name, with their shapes), and the presence check. */
function expectedNorms(gguf: GgufFile, hparams: ModelHparams | null, checks: Check[]) {
  const expected = new Map<string, readonly number[]>();
  if (!hparams) {
    const why =
      "hyperparameters unreadable: the expected norm set is unknown; inspecting the norms found";
    checks.push(check("skip", "norms_present", why));
    return expected;
  }
  for (const spec of expectedModelTensors(hparams)) {
    if (spec.role === "norm") expected.set(spec.name, spec.shape);
  }
  const missing = [...expected.keys()].filter((n) => !gguf.hasTensor(n));
  const model = `${hparams.arch} with ${hparams.nLayer} layers`;
  const message = missing.length === 0
    ? `all ${expected.size} norm tensors of ${model} are present`
    : `${missing.length} of ${expected.size} norm tensors missing: ${list(missing)}`;
  checks.push(check(missing.length === 0 ? "pass" : "fail", "norms_present", message));
  return expected;
}

/** Reads and judges every norm of the file; the first undecodable one is named. */
async function judgeNorms(
  input: { gguf: GgufFile; hparams: ModelHparams | null; rules: ValidationRules },
  family: EnvelopeFamily | null,
  meta: ExportMeta | null,
  expected: Map<string, readonly number[]>,
  checks: Check[],
) {
  const { gguf, hparams, rules } = input;
  const norms: NormFinding[] = [];
  let undecodable: string | null = null;
  for (const tensor of gguf.tensors) {
    const role = ggufTensorRole(tensor.name);
    if (role?.role !== "norm" || !role.normClass) continue;
    if (hparams && !expected.has(tensor.name)) {
      const why =
        `is not a norm of ${hparams.arch} with ${hparams.nLayer} layers; inspected anyway`;
      checks.push(check("warn", "unexpected_norm", `${tensor.name} ${why}`, tensor.name));
    }
    const where = `${gguf.path}: tensor ${tensor.name}`;
    try {
      const payload = await gguf.readTensor(tensor);
      const values = codecOf(tensor.type, where).decode(payload, elementCount(tensor), where);
      const { normClass, layer } = role;
      const sample = { tensor, values, payload, normClass, layer };
      const expectedShape = expected.get(tensor.name) ?? null;
      norms.push(judgeNorm({ ...sample, expectedShape }, family, rules, meta));
    } catch (e) {
      undecodable ??= `${tensor.name}: ${(e as Error).message}`;
      checks.push(check("fail", "decode", (e as Error).message, tensor.name));
    }
  }
  return { norms: norms.sort((a, b) => order(a) - order(b)), undecodable };
}

/** Gate 1's exit code and summary: 10 when a norm cannot be decoded, 12 when none is usable, 11 else. */
function normVerdict(
  norms: NormFinding[],
  undecodable: string | null,
  missing: boolean,
  meta: boolean,
) {
  const healthy = norms.filter((n) => n.verdict === "healthy").length;
  const usable = norms.filter((n) => n.verdict !== "unusable").length;
  if (undecodable !== null) {
    const summary = `the norm inspection could not run: ${undecodable}`;
    return { exitCode: EXIT.normInspection, summary };
  }
  if (norms.length === 0) {
    return { exitCode: EXIT.noHealthyNorms, summary: "no norm tensors found" };
  }
  if (usable === 0) {
    const summary =
      `none of the ${norms.length} norm tensors can act as a norm (zero, non-finite or misshapen)`;
    return { exitCode: EXIT.noHealthyNorms, summary };
  }
  if (healthy < norms.length || missing) {
    const summary = `${norms.length - healthy} of ${norms.length} norm tensors suspicious${
      missing ? ", some missing" : ""
    }`;
    return { exitCode: EXIT.suspiciousNorms, summary };
  }
  const against = meta ? ", RMS equal to meta.json" : " (no meta.json)";
  return { exitCode: null, summary: `${norms.length} norm tensors healthy${against}` };
}

/** Gate 1 when it could not run (exit 10). */
function failed(message: string, id: string, metaPath: string | null): NormGateResult {
  return { gate: failedGate("norms", EXIT.normInspection, id, message), norms: [], metaPath };
}

/** The `.meta.json` beside a GGUF (`x.gguf` → `x.meta.json`), or null when absent. */
async function findMetaBeside(ggufPath: string): Promise<string | null> {
  const path = companionPaths(ggufPath).meta;
  try {
    return (await Deno.stat(path)).isFile ? path : null;
  } catch {
    return null;
  }
}

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isStrOrNull = (v: unknown) => v === null || typeof v === "string";

/** The tensor table of a meta.json; a malformed row is a FormatError naming the file and the row. */
async function readExportMeta(path: string): Promise<ExportMeta> {
  const json = await readJsonFile(path);
  if (!Array.isArray(json.tensors)) throw new FormatError(`${path}: "tensors" is not an array`);
  const tensors = new Map<string, MetaTensorRow>();
  json.tensors.forEach((row: unknown, i: number) => {
    const r = row as Record<string, unknown>;
    const ok = isJsonObject(r) && typeof r.gguf_name === "string" &&
      isStrOrNull(r.hf_name) && typeof r.gguf_type === "string" && Array.isArray(r.shape) &&
      r.shape.every(isNum) && isStrOrNull(r.source_dtype) && isNum(r.rms) && isNum(r.min) &&
      isNum(r.max) && (typeof r.xxh64 === "string" || typeof r.sha256 === "string");
    if (!ok) {
      throw new FormatError(
        `${path}: tensors[${i}] lacks one of gguf_name, hf_name, gguf_type, shape, source_dtype, rms, min, max, xxh64 (or sha256)`,
      );
    }
    tensors.set(r.gguf_name as string, r as unknown as MetaTensorRow);
  });
  return { path, tensors };
}

/**
 * The hyper-parameters and the family the norm envelopes are chosen by: the
 * hyper-parameters' family, else the architecture name's (for a family the
 * engine does not run). What could not be read is null, with its error.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * readModel(gguf).family; // "bitnet"
 * ```
 */
export function readModel(gguf: GgufFile) {
  let hparams: ModelHparams | null = null, hparamsError: unknown = null;
  try {
    hparams = readHparams(gguf);
  } catch (e) {
    hparamsError = e;
  }
  let architecture: string | null = null, family: Family | null = null, familyError: unknown = null;
  try {
    architecture = gguf.architecture;
    family = hparams?.family ?? archByGgufName(architecture, gguf.path).family;
  } catch (e) {
    familyError = e;
  }
  return { hparams, hparamsError, architecture, family, familyError };
}

/**
 * Gate 1 on an open file: finds the meta.json (unless told), reads it, and
 * inspects the norms.
 *
 * @example
 * ```ts
 * import { readHparams } from "../arch/hparams.ts";
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const r = await runNormGate(gguf, readHparams(gguf), "bitnet", {});
 * ```
 */
export async function runNormGate(
  gguf: GgufFile,
  hparams: ModelHparams | null,
  family: Family | null,
  opts: NormGateOptions,
): Promise<NormGateResult> {
  const started = performance.now();
  const metaPath = opts.metaPath === undefined ? await findMetaBeside(gguf.path) : opts.metaPath;
  let meta: ExportMeta | null = null;
  if (metaPath) {
    try {
      meta = await readExportMeta(metaPath);
    } catch (e) {
      const why = `cannot read the export record: ${(e as Error).message}`;
      return failed(why, "meta_read", metaPath);
    }
  }
  const checks: Check[] = [];
  const expected = expectedNorms(gguf, hparams, checks);
  const input = { gguf, hparams, rules: opts.rules ?? DEFAULT_RULES };
  const envelopes = envelopeFamily(family, hparams);
  const { norms, undecodable } = await judgeNorms(input, envelopes, meta, expected, checks);
  for (const n of norms) checks.push(...n.checks);
  const missing = checks.some((c) => c.id === "norms_present" && c.status === "fail");
  const { exitCode, summary } = normVerdict(norms, undecodable, missing, meta !== null);
  return { gate: gate("norms", { exitCode, summary, checks, started }), norms, metaPath };
}

/**
 * Opens a GGUF and runs gate 1 (for `model-inspect-ln`).
 *
 * @example
 * ```ts
 * const r = await inspectNormsOfFile({ ggufPath: "model.gguf", metaPath: null });
 * ```
 */
export async function inspectNormsOfFile(
  opts: NormGateOptions & { readonly ggufPath: string },
): Promise<NormGateResult> {
  let gguf: GgufFile;
  try {
    gguf = await openGguf(opts.ggufPath);
  } catch (e) {
    return failed(messageAbout(opts.ggufPath, e), "read", null);
  }
  try {
    const { hparams, hparamsError, family } = readModel(gguf);
    // A family we do not know gets the generic envelopes; a malformed header stops the inspection.
    if (hparamsError !== null && !(hparamsError instanceof UnsupportedError)) {
      return failed(messageAbout(gguf.path, hparamsError), "hparams", null);
    }
    return await runNormGate(gguf, hparams, family, opts);
  } finally {
    gguf.close();
  }
}

function order(n: NormFinding): number {
  const layer = n.layer ?? 1e9;
  return layer * 10 + NORM_CLASSES.indexOf(n.normClass);
}

function list(names: readonly string[]): string {
  return names.slice(0, 8).join(", ") + (names.length > 8 ? `, ... (${names.length})` : "");
}
