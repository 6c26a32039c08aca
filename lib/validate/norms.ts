/**
 * Gate 1: the norm tensors. Every norm the hyperparameters imply
 * (attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm, output_norm) must be
 * present, stored as F32/F16/BF16 (never quantized), finite, with its RMS inside
 * the envelope of its class, show no trace of quantization (≤ 3 distinct values,
 * or every block on a low-bit grid), and, when the export's meta.json is
 * known, have the RMS recorded at export.
 *
 * Exit codes: 10 when a norm cannot be decoded; 12 when the model has no norm
 * tensor that can act as one (none at all, or all zero, non-finite or
 * misshapen); 11 for any other failure.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../inference/hparams.ts";
 * import { DEFAULT_RULES } from "./rules.ts";
 * import { inspectNorms } from "./norms.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const { gate, norms } = await inspectNorms({ gguf, hparams: readHparams(gguf), rules: DEFAULT_RULES, meta: null });
 * console.log(gate.status, norms.length);
 * ```
 * @module
 */

import { ggufTensorRole, type NormClass } from "../arch/registry.ts";
import { EXIT } from "../errors.ts";
import { sha256Hex } from "../io/hash.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { codecOf, typesWith } from "../codecs/table.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import { expectedTensors } from "../inference/tensor_plan.ts";
import { countDistinct, lowBitGrid } from "../stats/grid.ts";
import { summarize } from "../stats/summary.ts";
import { elementCount } from "../stats/tensor_values.ts";
import type { Check, GateResult, NormFinding, TensorStatsEntry } from "./report.ts";
import { envelopeFor, NORM_CLASSES, type ValidationRules } from "./rules.ts";
import type { ExportMeta } from "./source_meta.ts";

/** Norm storage types: norms are never quantized. */
const FLOAT_NORM_TYPES: readonly number[] = typesWith("float");

/** Inputs of gate 1. */
export interface NormGateInput {
  readonly gguf: GgufFile;
  /** Null when the hyperparameters cannot be read: the found norms are still inspected. */
  readonly hparams: ModelHparams | null;
  /** Family for the envelopes; defaults to the hyperparameters' family. */
  readonly family?: "bitnet" | "llama" | null;
  readonly rules: ValidationRules;
  readonly meta: ExportMeta | null;
}

/** Gate 1's outcome. */
export interface NormGateResult {
  readonly gate: GateResult;
  readonly norms: NormFinding[];
}

/** True when `name` is a norm tensor (by the architecture table's naming). */
export function isNormTensor(name: string): boolean {
  return ggufTensorRole(name)?.role === "norm";
}

function statsEntry(t: GgufTensorInfo, values: Float32Array): TensorStatsEntry {
  return { name: t.name, type: codecOf(t.type).name, shape: [...t.shape], ...summarize(values) };
}

/** A vector may be written with dims [n, 1]: compare element counts and the squeezed shape. */
function sameShape(actual: readonly number[], expected: readonly number[]): boolean {
  const a = [...actual];
  while (a.length > expected.length && a[0] === 1) a.shift();
  return a.length === expected.length && a.every((d, i) => d === expected[i]);
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

/**
 * Judges one norm tensor's values against the rules (and meta.json).
 *
 * @example
 * ```ts
 * const f = judgeNorm({ tensor, values, payload, normClass: "attn_norm", layer: 0, expectedShape: [256] },
 *   "bitnet", DEFAULT_RULES, null);
 * f.verdict; // "healthy"
 * ```
 */
export function judgeNorm(
  sample: NormSample,
  family: "bitnet" | "llama" | null,
  rules: ValidationRules,
  meta: ExportMeta | null,
): NormFinding {
  const { tensor: t, values, payload, normClass, layer, expectedShape } = sample;
  const typeName = codecOf(t.type).name;
  const stats = statsEntry(t, values);
  const envelope = envelopeFor(rules, family, normClass);
  const q = rules.quantization;
  const distinct = countDistinct(values);
  const grid = lowBitGrid(values, {
    blockSize: q.gridBlockSize,
    maxLevel: q.gridMaxLevel,
    tolerance: q.gridTolerance,
  });
  const checks: Check[] = [];
  let unusable = false;
  let suspicious = false;
  const check = (id: string, ok: boolean, message: string, severity: "unusable" | "suspicious") => {
    checks.push({ id, status: ok ? "pass" : "fail", message, tensor: t.name });
    if (!ok && severity === "unusable") unusable = true;
    if (!ok && severity === "suspicious") suspicious = true;
  };

  check(
    "storage",
    FLOAT_NORM_TYPES.includes(t.type),
    FLOAT_NORM_TYPES.includes(t.type)
      ? `${t.name} stored as ${typeName}`
      : `${t.name} stored as ${typeName}: norm weights must stay F32/F16/BF16, never quantized`,
    "suspicious",
  );
  if (expectedShape) {
    const ok = sameShape(t.shape, expectedShape);
    check(
      "shape",
      ok,
      ok
        ? `${t.name} shape [${t.shape.join(", ")}]`
        : `${t.name} has shape [${t.shape.join(", ")}], expected [${expectedShape.join(", ")}]`,
      "unusable",
    );
  }
  check(
    "finite",
    stats.nonFinite === 0,
    stats.nonFinite === 0
      ? `${t.name} values are finite`
      : `${t.name} has ${stats.nonFinite} NaN/inf values of ${elementCount(t)}`,
    "unusable",
  );
  check(
    "nonzero",
    stats.rms > 0,
    stats.rms > 0 ? `${t.name} is not all zero` : `${t.name} is all zero: it would erase its input`,
    "unusable",
  );
  const inEnvelope = stats.rms >= envelope.rmsMin && stats.rms <= envelope.rmsMax;
  check(
    "envelope",
    inEnvelope,
    `${t.name} RMS ${fmt(stats.rms)} ${inEnvelope ? "inside" : "outside"} the ${
      family ?? "generic"
    } ${normClass} envelope [${envelope.rmsMin}, ${envelope.rmsMax}] (${envelope.reason})`,
    "suspicious",
  );
  check(
    "distinct",
    distinct > q.maxDistinct,
    distinct > q.maxDistinct
      ? `${t.name} holds ${distinct >= 4096 ? "4096+" : distinct} distinct values`
      : `${t.name} holds only ${distinct} distinct value(s): quantized (at most ${q.maxDistinct} is suspicious)`,
    "suspicious",
  );
  check(
    "grid",
    !grid.onGrid,
    grid.onGrid
      ? `${t.name}: every ${q.gridBlockSize}-value block sits on a ${
        grid.levels === 1 ? "ternary" : `${grid.levels}-level`
      } grid k*d: quantization damage`
      : `${t.name} is not on a low-bit grid`,
    "suspicious",
  );

  let metaFinding: NormFinding["meta"] = null;
  if (meta) {
    const row = meta.tensors.get(t.name);
    if (!row) {
      check(
        "meta_rms",
        false,
        `${t.name} is not in ${meta.path}: not the export it claims to be`,
        "suspicious",
      );
    } else {
      const tol = rules.meta.relTolerance[typeName] ?? rules.meta.relTolerance.F16 ?? 2 ** -10;
      const relDiff = row.rms === 0
        ? (stats.rms === 0 ? 0 : Infinity)
        : Math.abs(stats.rms - row.rms) / Math.abs(row.rms);
      const sha256Match = sha256Hex(payload) === row.sha256;
      metaFinding = {
        rms: row.rms,
        min: row.min,
        max: row.max,
        relDiff,
        tolerance: tol,
        sha256Match,
      };
      check(
        "meta_rms",
        relDiff <= tol,
        `${t.name} RMS ${fmt(stats.rms)} vs ${
          fmt(row.rms)
        } recorded at export (relative difference ${relDiff.toExponential(2)}, tolerance ${
          tol.toExponential(2)
        } for ${typeName})`,
        "suspicious",
      );
      if (!sha256Match) {
        checks.push({
          id: "meta_sha256",
          status: "warn",
          message: `${t.name} payload sha256 differs from ${meta.path}: rewritten since export`,
          tensor: t.name,
        });
      }
    }
  }
  return {
    name: t.name,
    normClass,
    layer,
    type: typeName,
    shape: [...t.shape],
    stats,
    distinct,
    gridLevels: grid.onGrid ? grid.levels : null,
    envelope: { rmsMin: envelope.rmsMin, rmsMax: envelope.rmsMax, reason: envelope.reason },
    meta: metaFinding,
    verdict: unusable ? "unusable" : suspicious ? "suspicious" : "healthy",
    checks,
  };
}

/**
 * Runs gate 1 over every norm tensor of the file.
 *
 * @example
 * ```ts
 * const { gate } = await inspectNorms({ gguf, hparams, rules: DEFAULT_RULES, meta });
 * gate.exitCode; // null when passed, else 10, 11 or 12
 * ```
 */
export async function inspectNorms(input: NormGateInput): Promise<NormGateResult> {
  const started = performance.now();
  const { gguf, hparams, rules, meta } = input;
  const family = input.family !== undefined ? input.family : hparams?.family ?? null;
  const checks: Check[] = [];
  const norms: NormFinding[] = [];

  const expected = new Map<string, readonly number[]>();
  if (hparams) {
    for (const spec of expectedTensors(hparams)) {
      if (spec.role === "norm") expected.set(spec.name, spec.shape);
    }
    const missing = [...expected.keys()].filter((n) => !gguf.hasTensor(n));
    checks.push({
      id: "norms_present",
      status: missing.length === 0 ? "pass" : "fail",
      message: missing.length === 0
        ? `all ${expected.size} norm tensors of ${hparams.arch} with ${hparams.nLayer} layers are present`
        : `${missing.length} of ${expected.size} norm tensors missing: ${list(missing)}`,
    });
  } else {
    checks.push({
      id: "norms_present",
      status: "skip",
      message:
        "hyperparameters unreadable: the expected norm set is unknown; inspecting the norms found",
    });
  }

  let undecodable: string | null = null;
  for (const t of gguf.tensors) {
    const role = ggufTensorRole(t.name);
    if (role?.role !== "norm" || !role.normClass) continue;
    if (hparams && !expected.has(t.name)) {
      checks.push({
        id: "unexpected_norm",
        status: "warn",
        message:
          `${t.name} is not a norm of ${hparams.arch} with ${hparams.nLayer} layers; inspected anyway`,
        tensor: t.name,
      });
    }
    let payload: Uint8Array;
    let values: Float32Array;
    try {
      payload = await gguf.readTensor(t);
      const where = `${gguf.path}: tensor ${t.name}`;
      values = codecOf(t.type, where).decode(payload, elementCount(t), where);
    } catch (e) {
      undecodable ??= `${t.name}: ${(e as Error).message}`;
      checks.push({ id: "decode", status: "fail", message: (e as Error).message, tensor: t.name });
      continue;
    }
    norms.push(
      judgeNorm(
        {
          tensor: t,
          values,
          payload,
          normClass: role.normClass,
          layer: role.layer,
          expectedShape: expected.get(t.name) ?? null,
        },
        family,
        rules,
        meta,
      ),
    );
  }
  norms.sort((a, b) => order(a) - order(b));

  for (const n of norms) checks.push(...n.checks);
  const healthy = norms.filter((n) => n.verdict === "healthy").length;
  const usable = norms.filter((n) => n.verdict !== "unusable").length;
  const failedPresent = checks.some((c) => c.id === "norms_present" && c.status === "fail");
  let exitCode: number | null = null;
  let summary: string;
  if (undecodable !== null) {
    exitCode = EXIT.normInspection;
    summary = `the norm inspection could not run: ${undecodable}`;
  } else if (norms.length === 0) {
    exitCode = EXIT.noHealthyNorms;
    summary = "no norm tensors found";
  } else if (usable === 0) {
    exitCode = EXIT.noHealthyNorms;
    summary =
      `none of the ${norms.length} norm tensors can act as a norm (zero, non-finite or misshapen)`;
  } else if (healthy < norms.length || failedPresent) {
    exitCode = EXIT.suspiciousNorms;
    summary = `${norms.length - healthy} of ${norms.length} norm tensors suspicious${
      failedPresent ? ", some missing" : ""
    }`;
  } else {
    summary = `${norms.length} norm tensors healthy${
      meta ? ", RMS equal to meta.json" : " (no meta.json)"
    }`;
  }
  return {
    gate: {
      id: "norms",
      title: "Gate 1: norm tensors",
      status: exitCode === null ? "pass" : "fail",
      exitCode,
      summary,
      durationMs: performance.now() - started,
      checks,
    },
    norms,
  };
}

function order(n: NormFinding): number {
  const layer = n.layer ?? 1e9;
  return layer * 10 + NORM_CLASSES.indexOf(n.normClass);
}

function list(names: readonly string[]): string {
  return names.slice(0, 8).join(", ") + (names.length > 8 ? `, ... (${names.length})` : "");
}
