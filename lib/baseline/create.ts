/**
 * Takes a baseline of a GGUF: reads its metadata and tensor list, hashes it
 * (unless the caller already knows the fingerprint, e.g. from the export),
 * validates it (unless the caller already has the report) and assembles the
 * {@link Baseline}. The statistics, probe and NLL are the ones validateGguf
 * computed, never recomputed here.
 *
 * Metadata is recorded as a flat, comparable summary: every key, scalars as
 * they are, arrays and long strings reduced to their type, length and a short
 * sha256 (so that a changed vocabulary or chat template still shows up as a
 * changed value, without copying 2 MB of tokens into the baseline).
 *
 * @example
 * ```ts
 * import { createBaseline } from "./create.ts";
 * const { baseline, report } = await createBaseline({
 *   ggufPath: "models/clean/clean-f16.gguf",
 *   tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
 * });
 * console.log(baseline.model.fingerprint, report.exitCode);
 * ```
 * @module
 */

import { basename } from "node:path";
import { ggufTensorRole } from "../arch/registry.ts";
import { typeNames } from "../codecs/table.ts";
import { type GgufKv, type GgufScalar, openGguf } from "../gguf/reader.ts";
import { GgufValueType } from "../gguf/types.ts";
import { sha256File, sha256Hex } from "../io/hash.ts";
import { TOOL } from "../provenance/meta.ts";
import { PROBE_PASSAGE } from "../validate/linguistic.ts";
import type { TensorStatsEntry, ValidationReport } from "../validate/report.ts";
import { validateGguf, type ValidateOptions } from "../validate/validate.ts";
import {
  type Baseline,
  BASELINE_SCHEMA_ID,
  type BaselineNorm,
  type BaselineProjection,
  type BaselineTensorStats,
  type MetadataValue,
} from "./types.ts";

/** Options of {@link createBaseline}: those of validateGguf, plus what the caller already knows. */
export interface CreateBaselineOptions extends ValidateOptions {
  readonly tokenizerPath: string | null;
  /** The report of an earlier validateGguf run on the same file (it is not validated again). */
  readonly report?: ValidationReport;
  /** `sha256-<hex>` of the file when already known (it is not hashed again). */
  readonly fingerprint?: string;
  /** Steps timed by the caller (e.g. `exportMs`), recorded as they are. */
  readonly timings?: Readonly<Record<string, number>>;
}

/** Strings longer than this are summarized rather than copied. */
const MAX_STRING_CHARS = 120;

const TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(GgufValueType).map(([name, id]) => [id, name]),
);

const shortHash = (text: string) => sha256Hex(new TextEncoder().encode(text)).slice(0, 16);

/** One metadata entry as recorded: u64/i64 beyond 2^53 as decimal strings, arrays summarized. */
function summarizeKv(kv: GgufKv): MetadataValue {
  if (kv.type === GgufValueType.ARRAY) {
    const values = kv.value as GgufScalar[];
    const text = JSON.stringify(values.map((v) => (typeof v === "bigint" ? v.toString() : v)));
    const type = TYPE_NAMES[kv.arrayType ?? -1] ?? `type${kv.arrayType}`;
    return `${type}[${values.length}] sha256:${shortHash(text)}`;
  }
  const v = kv.value as GgufScalar;
  if (typeof v === "bigint") {
    const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
    return safe ? Number(v) : v.toString();
  }
  if (typeof v === "string" && v.length > MAX_STRING_CHARS) {
    return `string of ${v.length} chars, sha256:${shortHash(v)}`;
  }
  return v;
}

/** One tensor as the file describes it (type by name, shape in PyTorch order). */
type FileTensor = Pick<BaselineTensorStats, "name" | "type" | "shape">;

/** What the file itself tells: read before validating, so that a file that does not open throws. */
async function readFileFacts(path: string) {
  const gguf = await openGguf(path);
  try {
    const metadata: Record<string, MetadataValue> = {};
    for (const kv of gguf.metadata.values()) metadata[kv.key] = summarizeKv(kv);
    const tensors: FileTensor[] = gguf.tensors.map((t) => ({
      name: t.name,
      type: typeNames([t.type]),
      shape: [...t.shape],
    }));
    return { sizeBytes: gguf.fileSize, ggufVersion: gguf.version, metadata, tensors };
  } finally {
    gguf.close();
  }
}

function statsOf(t: FileTensor, s: TensorStatsEntry | undefined): BaselineTensorStats {
  return {
    name: t.name,
    type: t.type,
    shape: t.shape,
    count: s?.count ?? null,
    rms: s?.rms ?? null,
    mean: s?.mean ?? null,
    min: s?.min ?? null,
    max: s?.max ?? null,
    nonFinite: s?.nonFinite ?? null,
  };
}

/** The file's tensors sorted into norms, projections and the rest, with gate 1 and 2's findings. */
function tensorsOf(report: ValidationReport, tensors: readonly FileTensor[]) {
  const statsByName = new Map(report.tensors.map((t) => [t.name, t]));
  const normByName = new Map(report.norms.map((n) => [n.name, n]));
  const projByName = new Map(report.projections.map((p) => [p.name, p]));
  const norms: BaselineNorm[] = [];
  const projections: BaselineProjection[] = [];
  const otherTensors: BaselineTensorStats[] = [];
  for (const t of tensors) {
    const norm = normByName.get(t.name), proj = projByName.get(t.name);
    const stats = statsOf(t, statsByName.get(t.name) ?? norm?.stats ?? undefined);
    const role = ggufTensorRole(t.name);
    if (norm) {
      const { normClass, layer, distinct, verdict } = norm;
      norms.push({ ...stats, normClass, layer, distinct, verdict });
    } else if (proj) {
      const { kind, layer, scale, trits } = proj;
      projections.push({ ...stats, rms: stats.rms ?? proj.rms, kind, layer, scale, trits });
    } else if (role?.role === "projection" && role.layer !== null && role.projection) {
      // Gate 2 stops early on some broken files; the tensor is still recorded.
      const { projection: kind, layer } = role;
      projections.push({ ...stats, kind, layer, scale: null, trits: null });
    } else {
      otherTensors.push(stats);
    }
  }
  return { norms, projections, otherTensors };
}

/** The probe and the passage NLL, as the report has them. */
function probeOf(report: ValidationReport): Pick<Baseline, "probe" | "nll"> {
  const p = report.probe;
  if (!p) return { probe: null, nll: null };
  const { prompt, maxTokens, promptIds, generatedIds, text, nll } = p;
  return {
    probe: { prompt, maxTokens, promptIds: [...promptIds], generatedIds: [...generatedIds], text },
    nll: nll
      ? { passage: PROBE_PASSAGE, meanNll: nll.meanNll, tokens: nll.tokens, logVocab: nll.logVocab }
      : null,
  };
}

/** The baseline of one validated file, from the report and the file's facts. */
function buildBaseline(
  report: ValidationReport,
  file: Awaited<ReturnType<typeof readFileFacts>> & { name: string; fingerprint: string },
  tokenizer: Baseline["tokenizer"],
  extraTimings: Readonly<Record<string, number>>,
): Baseline {
  const timings: Record<string, number> = {};
  for (const [k, v] of Object.entries(report.timings)) timings[`validate.${k}`] = v;
  for (const [k, v] of Object.entries(report.probe?.timings ?? {})) timings[`probe.${k}`] = v;
  Object.assign(timings, extraTimings);
  const tensorTypes: Record<string, number> = {};
  for (const t of file.tensors) tensorTypes[t.type] = (tensorTypes[t.type] ?? 0) + 1;
  return {
    schema: BASELINE_SCHEMA_ID,
    tool: { name: TOOL.name, version: TOOL.version },
    model: {
      file: file.name,
      sizeBytes: file.sizeBytes,
      fingerprint: file.fingerprint,
      architecture: report.model.architecture,
      family: report.model.family,
      ggufVersion: file.ggufVersion,
      tensorCount: file.tensors.length,
      tensorTypes,
    },
    tokenizer,
    metadata: file.metadata,
    validation: {
      exitCode: report.exitCode,
      exitMeaning: report.exitMeaning,
      gates: report.gates.map((g) => ({ id: g.id, status: g.status })),
      corrections: report.corrections.map((c) => `${c.tensor}: ${c.kind} (${c.reason})`),
      warnings: [...report.warnings],
    },
    ...tensorsOf(report, file.tensors),
    ...probeOf(report),
    timings,
    // validateGguf read the BITNET_* settings with readBitnetEnv; the same record serves here.
    environment: { ...report.environment, variables: { ...report.environment.variables } },
  };
}

/**
 * Validates (or reuses a report) and returns the baseline with the report.
 * An unreadable or malformed file throws (InputError, FormatError) before
 * anything is validated: a baseline needs a file that opens.
 *
 * @example
 * ```ts
 * import { validateGguf } from "../validate/validate.ts";
 * const p = "models/clean/clean-f16.gguf";
 * const report = await validateGguf({ ggufPath: p });
 * const { baseline } = await createBaseline({ ggufPath: p, tokenizerPath: null, report });
 * ```
 */
export async function createBaseline(
  opts: CreateBaselineOptions,
): Promise<{ baseline: Baseline; report: ValidationReport }> {
  const facts = await readFileFacts(opts.ggufPath);
  // A missing tokenizer is an input error (exit 3) before any work, not a gate failure later.
  const tokenizerSha = opts.tokenizerPath ? await sha256File(opts.tokenizerPath) : null;
  const report = opts.report ?? await validateGguf(opts);
  const timings: Record<string, number> = { ...opts.timings };
  let fingerprint = opts.fingerprint;
  if (fingerprint === undefined) {
    const t0 = performance.now();
    fingerprint = `sha256-${await sha256File(opts.ggufPath)}`;
    timings.hashMs = performance.now() - t0;
  }
  const file = { ...facts, name: basename(opts.ggufPath), fingerprint };
  const tokenizerFile = opts.tokenizerPath ? basename(opts.tokenizerPath) : null;
  const tokenizer = { file: tokenizerFile, sha256: tokenizerSha };
  return { baseline: buildBaseline(report, file, tokenizer, timings), report };
}
