/**
 * Reads a baseline JSON written by `model-baseline` or `model-check`, with
 * enough structural checks that a wrong file (a validation report, a
 * meta.json, another format version) is refused by name instead of being
 * compared field by field into nonsense.
 *
 * @example
 * ```ts
 * import { readBaseline } from "./read.ts";
 * const earlier = await readBaseline("docs/baselines/tiny.baseline.json");
 * earlier.model.fingerprint; // "sha256-…"
 * ```
 * @module
 */

import { FormatError } from "../errors.ts";
import { readJsonFile } from "../io/json.ts";
import { type Baseline, BASELINE_SCHEMA_ID } from "./types.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks that `value` has the shape of a {@link Baseline}; throws a
 * FormatError naming `source` and the first field that is wrong.
 *
 * @example
 * ```ts
 * const text = await Deno.readTextFile("old.baseline.json");
 * const b = parseBaseline(JSON.parse(text), "old.baseline.json");
 * ```
 */
export function parseBaseline(value: unknown, source: string): Baseline {
  const fail = (what: string): never => {
    throw new FormatError(`${source}: not a baseline (${what})`);
  };
  if (!isObject(value)) return fail("not a JSON object");
  if (value.schema !== BASELINE_SCHEMA_ID) {
    fail(`"schema" is ${JSON.stringify(value.schema)}, expected "${BASELINE_SCHEMA_ID}"`);
  }
  const model = value.model;
  if (!isObject(model) || typeof model.fingerprint !== "string") {
    fail(`"model.fingerprint" missing`);
  }
  if (!/^sha256-[0-9a-f]{64}$/.test((model as Record<string, unknown>).fingerprint as string)) {
    fail(`"model.fingerprint" is not sha256-<64 hex digits>`);
  }
  if (!isObject(value.metadata)) fail(`"metadata" is not an object`);
  for (const key of ["norms", "projections", "otherTensors"]) {
    const list = value[key];
    if (!Array.isArray(list)) fail(`"${key}" is not an array`);
    for (const [i, t] of (list as unknown[]).entries()) {
      if (!isObject(t) || typeof t.name !== "string" || !Array.isArray(t.shape)) {
        fail(`"${key}[${i}]" lacks a name or a shape`);
      }
    }
  }
  for (const key of ["probe", "nll"]) {
    if (value[key] !== null && !isObject(value[key])) {
      fail(`"${key}" is neither null nor an object`);
    }
  }
  const probe = value.probe;
  if (isObject(probe) && (!Array.isArray(probe.promptIds) || !Array.isArray(probe.generatedIds))) {
    fail(`"probe" lacks promptIds or generatedIds`);
  }
  const nll = value.nll;
  if (isObject(nll) && typeof nll.meanNll !== "number") fail(`"nll.meanNll" is not a number`);
  return value as unknown as Baseline;
}

/**
 * Reads and checks a baseline file. Missing or unreadable: InputError (exit
 * 3); not JSON or not a baseline: FormatError (exit 4).
 *
 * @example
 * ```ts
 * const b = await readBaseline("models/clean/clean-f16.baseline.json");
 * ```
 */
export async function readBaseline(path: string): Promise<Baseline> {
  return parseBaseline(await readJsonFile(path), path);
}
