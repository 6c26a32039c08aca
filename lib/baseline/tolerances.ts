/**
 * The one table of how far each compared quantity may move between a
 * baseline and a new run before `model-check --baseline` fails (exit 18).
 *
 * A value passes when |after − before| ≤ absolute + relative × max(|before|, |after|);
 * both zero means exact. Values that are not numbers (ids, types, shapes,
 * metadata strings) are always compared exactly.
 *
 * @example
 * ```ts
 * import { BASELINE_TOLERANCES, withinTolerance } from "./tolerances.ts";
 * withinTolerance(2.7383, 2.7386, BASELINE_TOLERANCES.nll); // true (|Δ| ≤ 1e-3)
 * ```
 * @module
 */

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
