/**
 * Writes a baseline's three files — Markdown for people, JSON for machines,
 * the SVG chart the Markdown links to — atomically (all three or none).
 *
 * @example
 * ```ts
 * import { baselinePaths, writeBaseline } from "./write.ts";
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * const paths = baselinePaths("models/clean/clean-f16.gguf");
 * // { markdown: "models/clean/clean-f16.baseline.md", json: "….baseline.json", svg: "….baseline.svg" }
 * await writeBaseline(baseline, paths);
 * ```
 * @module
 */

import { basename, dirname } from "node:path";
import { UsageError } from "../errors.ts";
import { AtomicOutputs } from "../io/atomic.ts";
import { stemOf } from "../provenance/meta.ts";
import { normRmsChart } from "./chart.ts";
import { renderBaselineMarkdown } from "./markdown.ts";
import type { Baseline } from "./types.ts";

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
 * The JSON text of a baseline (stable: 2-space indent, trailing newline).
 *
 * @example
 * ```ts
 * import type { Baseline } from "./types.ts";
 * declare const baseline: Baseline;
 * JSON.parse(serializeBaseline(baseline)).schema; // "clean-gguf/baseline/1"
 * ```
 */
export function serializeBaseline(baseline: Baseline): string {
  return JSON.stringify(baseline, null, 2) + "\n";
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
export async function writeBaseline(
  baseline: Baseline,
  paths: BaselinePaths,
): Promise<void> {
  const dir = dirname(paths.markdown);
  if (dirname(paths.json) !== dir || dirname(paths.svg) !== dir) {
    throw new UsageError(
      `${paths.markdown}: the baseline's .md, .json and .svg must share a folder`,
    );
  }
  const files = { chartFile: basename(paths.svg), jsonFile: basename(paths.json) };
  const markdown = renderBaselineMarkdown(baseline, files);
  const svg = normRmsChart(baseline.norms, { title: baseline.model.file });
  const json = serializeBaseline(baseline);
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
