/**
 * Assembles a {@link Baseline} from a validation report and facts about the
 * file. Pure: the statistics, probe and NLL are the ones validateGguf already
 * computed, never recomputed here.
 *
 * @example
 * ```ts
 * import { buildBaseline, type BaselineInput } from "./build.ts";
 * declare const input: BaselineInput;
 * const baseline = buildBaseline(input);
 * baseline.norms.length; // 17 for the tiny fixture
 * ```
 * @module
 */

import { ggufTensorRole } from "../arch/registry.ts";
import { TOOL } from "../provenance/meta.ts";
import { PROBE_PASSAGE } from "../validate/passage.ts";
import type { TensorStatsEntry, ValidationReport } from "../validate/report.ts";
import {
  type Baseline,
  BASELINE_SCHEMA_ID,
  type BaselineNorm,
  type BaselineProjection,
  type BaselineTensorStats,
  type MetadataValue,
} from "./types.ts";

/** One tensor as the file describes it. */
export interface FileTensor {
  readonly name: string;
  readonly type: string;
  /** PyTorch order. */
  readonly shape: readonly number[];
}

/** What {@link buildBaseline} needs besides the report. */
export interface BaselineInput {
  readonly report: ValidationReport;
  readonly file: {
    readonly name: string;
    readonly sizeBytes: number;
    /** `sha256-<hex>`. */
    readonly fingerprint: string;
    readonly ggufVersion: number;
    readonly metadata: Readonly<Record<string, MetadataValue>>;
    /** Every tensor, in file order. */
    readonly tensors: readonly FileTensor[];
  };
  readonly tokenizer: { readonly file: string | null; readonly sha256: string | null };
  /** Extra steps (hashing, export...), in milliseconds. */
  readonly timings: Readonly<Record<string, number>>;
}

function statsOf(t: FileTensor, s: TensorStatsEntry | undefined): BaselineTensorStats {
  return {
    name: t.name,
    type: t.type,
    shape: [...t.shape],
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
      projections.push({
        ...stats,
        kind: role.projection,
        layer: role.layer,
        scale: null,
        trits: null,
      });
    } else {
      otherTensors.push(stats);
    }
  }
  return { norms, projections, otherTensors };
}

/** The probe and the passage NLL, as the report has them. */
function probeOf(report: ValidationReport): Pick<Baseline, "probe" | "nll"> {
  const p = report.probe;
  return {
    probe: p
      ? {
        prompt: p.prompt,
        maxTokens: p.maxTokens,
        promptIds: [...p.promptIds],
        generatedIds: [...p.generatedIds],
        text: p.text,
      }
      : null,
    nll: p?.nll
      ? {
        passage: PROBE_PASSAGE,
        meanNll: p.nll.meanNll,
        tokens: p.nll.tokens,
        logVocab: p.nll.logVocab,
      }
      : null,
  };
}

/**
 * The baseline of one validated file.
 *
 * @example
 * ```ts
 * declare const input: BaselineInput;
 * const b = buildBaseline(input);
 * b.model.fingerprint; // "sha256-…"
 * ```
 */
export function buildBaseline(input: BaselineInput): Baseline {
  const { report, file } = input;
  const timings: Record<string, number> = {};
  for (const [k, v] of Object.entries(report.timings)) timings[`validate.${k}`] = v;
  for (const [k, v] of Object.entries(report.probe?.timings ?? {})) timings[`probe.${k}`] = v;
  Object.assign(timings, input.timings);
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
    tokenizer: { ...input.tokenizer },
    metadata: { ...file.metadata },
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
