/**
 * A baseline's files: where they go, writing all three — Markdown for people,
 * JSON for machines, the SVG chart the Markdown links to — atomically (all
 * three or none), and reading the JSON back with enough structural checks that
 * a wrong file (a validation report, a meta.json, another format version) is
 * refused by name instead of being compared field by field into nonsense.
 *
 * @example
 * ```ts
 * import { baselinePaths, readBaseline, writeBaseline } from "./files.ts";
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * const paths = baselinePaths("models/clean/clean-f16.gguf");
 * // { markdown: "models/clean/clean-f16.baseline.md", json: "….baseline.json", svg: "….baseline.svg" }
 * await writeBaseline(baseline, paths);
 * (await readBaseline(paths.json)).model.fingerprint; // "sha256-…"
 * ```
 * @module
 */

import { basename, dirname } from "node:path";
import { FormatError, UsageError } from "../errors.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { isJsonObject, readJsonFile } from "../io/json.ts";
import { stemOf } from "../provenance/meta.ts";
import { normRmsChart } from "./chart.ts";
import { renderBaselineMarkdown } from "./markdown.ts";
import { type Baseline, BASELINE_SCHEMA_ID } from "./types.ts";

/** Where a baseline's files go; all three in one folder. */
export interface BaselinePaths {
  readonly markdown: string;
  readonly json: string;
  readonly svg: string;
}

/**
 * The three paths: `<out>.md`, `<out>.json`, `<out>.svg`, where `<out>` is
 * `outFile` without its `.md`, by default `<gguf stem>.baseline`.
 *
 * @example
 * ```ts
 * baselinePaths("m/clean-f16.gguf", "docs/baselines/tiny.md").json; // "docs/baselines/tiny.json"
 * ```
 */
export function baselinePaths(ggufPath: string, outFile?: string): BaselinePaths {
  if (outFile !== undefined && !outFile.endsWith(".md")) {
    throw new UsageError(
      `${outFile}: the baseline file must end in .md (the .json and .svg go beside it)`,
    );
  }
  const base = outFile ? outFile.slice(0, -".md".length) : `${stemOf(ggufPath)}.baseline`;
  return { markdown: `${base}.md`, json: `${base}.json`, svg: `${base}.svg` };
}

/**
 * Renders and writes the three files; nothing is left at the final paths
 * when any write fails (OutputError, exit 8). The Markdown layout is
 * markdown.ts's; another layout is rendered from the JSON.
 *
 * @example
 * ```ts
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * await writeBaseline(baseline, baselinePaths("models/clean/clean-f16.gguf"));
 * ```
 */
export async function writeBaseline(baseline: Baseline, paths: BaselinePaths): Promise<void> {
  const dir = dirname(paths.markdown);
  if (dirname(paths.json) !== dir || dirname(paths.svg) !== dir) {
    throw new UsageError(
      `${paths.markdown}: the baseline's .md, .json and .svg must share a folder`,
    );
  }
  const files = { chartFile: basename(paths.svg), jsonFile: basename(paths.json) };
  const markdown = renderBaselineMarkdown(baseline, files);
  const svg = normRmsChart(baseline.norms, { title: baseline.model.file });
  const json = JSON.stringify(baseline, null, 2) + "\n";
  const out = await AtomicOutputs.create(dir);
  try {
    await (await out.file(basename(paths.json))).writeText(json);
    await (await out.file(basename(paths.svg))).writeText(svg);
    await (await out.file(basename(paths.markdown))).writeText(markdown);
    await out.commit();
  } catch (e) {
    await out.abort();
    throw e;
  }
}

/** Checks that `value` has the shape of a {@link Baseline}; a FormatError names the first wrong field. */
function parseBaseline(value: unknown, source: string): Baseline {
  const fail = (what: string): never => {
    throw new FormatError(`${source}: not a baseline (${what})`);
  };
  if (!isJsonObject(value)) return fail("not a JSON object");
  if (value.schema !== BASELINE_SCHEMA_ID) {
    fail(`"schema" is ${JSON.stringify(value.schema)}, expected "${BASELINE_SCHEMA_ID}"`);
  }
  const model = value.model;
  if (!isJsonObject(model) || typeof model.fingerprint !== "string") {
    fail(`"model.fingerprint" missing`);
  }
  if (!/^sha256-[0-9a-f]{64}$/.test((model as Record<string, unknown>).fingerprint as string)) {
    fail(`"model.fingerprint" is not sha256-<64 hex digits>`);
  }
  if (!isJsonObject(value.metadata)) fail(`"metadata" is not an object`);
  for (const key of ["norms", "projections", "otherTensors"]) {
    const list = value[key];
    if (!Array.isArray(list)) fail(`"${key}" is not an array`);
    for (const [i, t] of (list as unknown[]).entries()) {
      if (!isJsonObject(t) || typeof t.name !== "string" || !Array.isArray(t.shape)) {
        fail(`"${key}[${i}]" lacks a name or a shape`);
      }
    }
  }
  for (const key of ["probe", "nll"]) {
    if (value[key] !== null && !isJsonObject(value[key])) {
      fail(`"${key}" is neither null nor an object`);
    }
  }
  const probe = value.probe;
  if (
    isJsonObject(probe) && (!Array.isArray(probe.promptIds) || !Array.isArray(probe.generatedIds))
  ) {
    fail(`"probe" lacks promptIds or generatedIds`);
  }
  const nll = value.nll;
  if (isJsonObject(nll) && typeof nll.meanNll !== "number") fail(`"nll.meanNll" is not a number`);
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
