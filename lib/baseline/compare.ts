/**
 * Compares a new baseline with an earlier one, quantity by quantity, under
 * the one tolerance table (./tolerances.ts), and lists every difference:
 * name, before, after, tolerance.
 *
 * @example
 * ```ts
 * import { compareBaselines, baselineMismatchError } from "./compare.ts";
 * import type { Baseline } from "./types.ts";
 * declare const earlier: Baseline, current: Baseline;
 * const differences = compareBaselines(earlier, current);
 * if (differences.length) throw baselineMismatchError(differences, "old.baseline.json", "clean-f16.gguf");
 * ```
 * @module
 */

import { BaselineMismatchError } from "../errors.ts";
import {
  BASELINE_TOLERANCES,
  describeTolerance,
  type ToleranceName,
  withinTolerance,
} from "./tolerances.ts";
import type {
  Baseline,
  BaselineNorm,
  BaselineProjection,
  BaselineTensorStats,
  MetadataValue,
} from "./types.ts";

/** A JSON value as recorded in a baseline. */
export type RecordedValue = MetadataValue | null | readonly number[] | readonly string[];

/** One quantity that departs from the baseline. */
export interface BaselineDifference {
  /** What differs, e.g. "tensor blk.1.ffn_norm.weight rms". */
  readonly name: string;
  readonly before: RecordedValue;
  readonly after: RecordedValue;
  /** The row of the tolerance table that decided. */
  readonly quantity: ToleranceName;
  /** The tolerance as people read it ("exact", "±1e-9 relative"...). */
  readonly tolerance: string;
}

type AnyTensor = BaselineTensorStats & Partial<BaselineNorm> & Partial<BaselineProjection>;

class DifferenceList {
  readonly items: BaselineDifference[] = [];

  #push(name: string, quantity: ToleranceName, before: RecordedValue, after: RecordedValue) {
    const tolerance = describeTolerance(BASELINE_TOLERANCES[quantity]);
    this.items.push({ name, before, after, quantity, tolerance });
  }

  /** Exact comparison of any recorded value (arrays element by element). */
  exact(name: string, quantity: ToleranceName, before: RecordedValue, after: RecordedValue) {
    if (JSON.stringify(before) !== JSON.stringify(after)) this.#push(name, quantity, before, after);
  }

  /** Numeric comparison under the quantity's tolerance. */
  close(name: string, quantity: ToleranceName, before: number | null, after: number | null) {
    if (!withinTolerance(before, after, BASELINE_TOLERANCES[quantity])) {
      this.#push(name, quantity, before, after);
    }
  }
}

function allTensors(b: Baseline): Map<string, AnyTensor> {
  const out = new Map<string, AnyTensor>();
  for (const t of [...b.norms, ...b.projections, ...b.otherTensors]) out.set(t.name, t);
  return out;
}

function compareTensor(d: DifferenceList, name: string, x: AnyTensor, y: AnyTensor): void {
  const n = `tensor ${name}`;
  d.exact(`${n} type`, "type", x.type, y.type);
  d.exact(`${n} shape`, "shape", x.shape, y.shape);
  d.exact(`${n} count`, "count", x.count, y.count);
  d.exact(`${n} non-finite values`, "nonFinite", x.nonFinite, y.nonFinite);
  d.close(`${n} rms`, "rms", x.rms, y.rms);
  d.close(`${n} mean`, "mean", x.mean, y.mean);
  d.exact(`${n} min`, "min", x.min, y.min);
  d.exact(`${n} max`, "max", x.max, y.max);
  if (x.distinct !== undefined || y.distinct !== undefined) {
    d.exact(`${n} distinct values`, "distinct", x.distinct ?? null, y.distinct ?? null);
  }
  if (x.verdict !== undefined || y.verdict !== undefined) {
    d.exact(`${n} verdict`, "verdict", x.verdict ?? null, y.verdict ?? null);
  }
  if (x.scale !== undefined || y.scale !== undefined) {
    d.close(`${n} ternary scale`, "scale", x.scale ?? null, y.scale ?? null);
  }
  if (x.trits !== undefined || y.trits !== undefined) {
    for (const k of ["neg", "zero", "pos"] as const) {
      d.close(`${n} share of ${k} trits`, "trits", x.trits?.[k] ?? null, y.trits?.[k] ?? null);
    }
  }
}

/**
 * Every difference between `before` and `after` beyond the declared
 * tolerances, in a stable order: fingerprint, metadata, tensors (in
 * `before`'s order, then new ones), probe, NLL. Timings, the tool version
 * and the environment are recorded but never compared.
 *
 * @example
 * ```ts
 * import type { Baseline } from "./types.ts";
 * declare const b: Baseline;
 * compareBaselines(b, b); // []
 * ```
 */
export function compareBaselines(before: Baseline, after: Baseline): BaselineDifference[] {
  const d = new DifferenceList();
  d.exact("fingerprint", "fingerprint", before.model.fingerprint, after.model.fingerprint);

  const keys = new Set([...Object.keys(before.metadata), ...Object.keys(after.metadata)]);
  for (const k of keys) {
    d.exact(`metadata ${k}`, "metadata", before.metadata[k] ?? null, after.metadata[k] ?? null);
  }

  const xs = allTensors(before), ys = allTensors(after);
  for (const name of new Set([...xs.keys(), ...ys.keys()])) {
    const x = xs.get(name), y = ys.get(name);
    if (x && y) compareTensor(d, name, x, y);
    else d.exact(`tensor ${name}`, "tensorSet", x ? "present" : "absent", y ? "present" : "absent");
  }

  const p = before.probe, q = after.probe;
  if (p && q) {
    d.exact("probe prompt", "probe", p.prompt, q.prompt);
    d.exact("probe max tokens", "probe", p.maxTokens, q.maxTokens);
    d.exact("probe prompt ids", "probe", p.promptIds, q.promptIds);
    d.exact("probe generated ids", "probe", p.generatedIds, q.generatedIds);
  } else {
    d.exact("probe", "probe", p ? "ran" : "did not run", q ? "ran" : "did not run");
  }

  const a = before.nll, b = after.nll;
  if (a && b) {
    d.exact("NLL passage", "nllTokens", a.passage, b.passage);
    d.exact("NLL tokens", "nllTokens", a.tokens, b.tokens);
    d.close("NLL mean", "nll", a.meanNll, b.meanNll);
  } else {
    d.exact("NLL", "nll", a ? "measured" : "not measured", b ? "measured" : "not measured");
  }
  return d.items;
}

function show(v: RecordedValue): string {
  if (v === null) return "none";
  if (typeof v === "number") return String(v);
  return JSON.stringify(v);
}

/**
 * One difference as a line: `name: before → after (tolerance …)`.
 *
 * @example
 * ```ts
 * formatDifference({ name: "NLL mean", before: 2.7, after: 3.1, quantity: "nll", tolerance: "±0.001" });
 * // "NLL mean: 2.7 → 3.1 (tolerance ±0.001)"
 * ```
 */
export function formatDifference(d: BaselineDifference): string {
  return `${d.name}: ${show(d.before)} → ${show(d.after)} (tolerance ${d.tolerance})`;
}

/**
 * The error (exit 18) that lists every difference.
 *
 * @example
 * ```ts
 * declare const differences: BaselineDifference[];
 * throw baselineMismatchError(differences, "docs/baselines/x.baseline.json", "clean-f16.gguf");
 * ```
 */
export function baselineMismatchError(
  differences: readonly BaselineDifference[],
  baselinePath: string,
  modelFile: string,
): BaselineMismatchError {
  const lines = differences.map((x) => `  - ${formatDifference(x)}`);
  return new BaselineMismatchError(
    `${modelFile} departs from the baseline ${baselinePath} in ${differences.length} ` +
      `quantit${differences.length === 1 ? "y" : "ies"}:\n${lines.join("\n")}`,
  );
}
