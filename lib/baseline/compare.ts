/**
 * Compares a new baseline with an earlier one, quantity by quantity, under
 * the one table of how far each quantity may move before `model-check
 * --baseline` fails (exit 18), and lists every difference: name, before,
 * after, tolerance.
 *
 * A value passes when |after − before| ≤ absolute + relative × max(|before|, |after|);
 * both zero means exact. Values that are not numbers (ids, types, shapes,
 * metadata strings) are always compared exactly.
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
import type {
  Baseline,
  BaselineNorm,
  BaselineProjection,
  BaselineTensorStats,
  MetadataValue,
} from "./types.ts";

/** How far one quantity may move. */
export interface Tolerance {
  readonly relative: number;
  readonly absolute: number;
  /** Why this much and no more. */
  readonly why: string;
}

const EXACT = (why: string): Tolerance => ({ relative: 0, absolute: 0, why });

/**
 * Every compared quantity and its tolerance. docs/baselines/README.md
 * explains the same table.
 */
export const BASELINE_TOLERANCES = {
  fingerprint: EXACT("sha256 of the whole file: any changed byte changes it"),
  metadata: EXACT("metadata keys are copied or computed exactly by the exporter"),
  tensorSet: EXACT("the same model has the same tensors"),
  type: EXACT("the storage type of a tensor is an export decision, never rounding"),
  shape: EXACT("shapes come from config.json"),
  count: EXACT("values counted in the statistics"),
  nonFinite: EXACT("a clean file has none; any new one is damage"),
  min: EXACT("extremes are stored values, not sums: equal bytes give equal extremes"),
  max: EXACT("extremes are stored values, not sums: equal bytes give equal extremes"),
  rms: {
    relative: 1e-9,
    absolute: 0,
    why: "float64 sums of the stored values: only a change of summation order " +
      "(~1e-15 relative) is forgiven; one changed F16 element of a 256-value norm moves it ~4e-6",
  },
  mean: {
    relative: 1e-9,
    absolute: 1e-12,
    why: "as rms; the absolute floor covers means that are zero up to rounding",
  },
  distinct: EXACT("number of distinct stored values of a norm"),
  verdict: EXACT("gate 1's verdict on a norm"),
  scale: {
    relative: 1e-9,
    absolute: 0,
    why: "ternary scale s = mean|W| in float64, as rms",
  },
  trits: {
    relative: 0,
    absolute: 1e-9,
    why: "fractions of −s/0/+s: counts divided by the same total",
  },
  probe: EXACT("greedy decoding: prompt, token budget, prompt ids and generated ids"),
  nll: {
    relative: 0,
    absolute: 1e-3,
    why: "mean NLL in nats over the passage: kernels (WASM or TypeScript, any thread count) " +
      "differ by ~1e-7 here; a damaged tensor moves it by far more than 1e-3",
  },
  nllTokens: EXACT("the passage tokenizes to the same ids"),
} as const satisfies Record<string, Tolerance>;

/** A quantity in {@link BASELINE_TOLERANCES}. */
export type ToleranceName = keyof typeof BASELINE_TOLERANCES;

/**
 * Whether two numbers agree within `tol`. NaN never agrees, except that a
 * missing value (null) agrees with another missing value.
 *
 * @example
 * ```ts
 * withinTolerance(1, 1 + 1e-12, BASELINE_TOLERANCES.rms); // true
 * withinTolerance(1, 1.001, BASELINE_TOLERANCES.rms); // false
 * ```
 */
export function withinTolerance(
  before: number | null,
  after: number | null,
  tol: Tolerance,
): boolean {
  if (before === null || after === null) return before === after;
  if (before === after) return true;
  const bound = tol.absolute + tol.relative * Math.max(Math.abs(before), Math.abs(after));
  return Math.abs(after - before) <= bound;
}

/**
 * A tolerance as people read it: "exact", "±1e-9 relative", "±0.001".
 *
 * @example
 * ```ts
 * describeTolerance(BASELINE_TOLERANCES.nll); // "±0.001"
 * ```
 */
export function describeTolerance(tol: Tolerance): string {
  const parts: string[] = [];
  if (tol.absolute > 0) parts.push(`±${tol.absolute}`);
  if (tol.relative > 0) parts.push(`±${tol.relative} relative`);
  return parts.length ? parts.join(" + ") : "exact";
}

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
  // A norm's or a projection's own fields, where either side has them.
  const has = (k: "distinct" | "verdict" | "scale" | "trits") =>
    x[k] !== undefined || y[k] !== undefined;
  if (has("distinct")) {
    d.exact(`${n} distinct values`, "distinct", x.distinct ?? null, y.distinct ?? null);
  }
  if (has("verdict")) d.exact(`${n} verdict`, "verdict", x.verdict ?? null, y.verdict ?? null);
  if (has("scale")) d.close(`${n} ternary scale`, "scale", x.scale ?? null, y.scale ?? null);
  for (const k of has("trits") ? (["neg", "zero", "pos"] as const) : []) {
    d.close(`${n} share of ${k} trits`, "trits", x.trits?.[k] ?? null, y.trits?.[k] ?? null);
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
  const lines = differences.map((x) =>
    `  - ${x.name}: ${show(x.before)} → ${show(x.after)} (tolerance ${x.tolerance})`
  );
  return new BaselineMismatchError(
    `${modelFile} departs from the baseline ${baselinePath} in ${differences.length} ` +
      `quantit${differences.length === 1 ? "y" : "ies"}:\n${lines.join("\n")}`,
  );
}
