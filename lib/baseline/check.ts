/**
 * `model-check` as a library call: export a checkpoint, validate the GGUF,
 * take its baseline and, when an earlier baseline is given, compare the two.
 * The exit code is the first failure's: strict mode (16) and the export
 * (2–9) throw before anything else; then a failed validation (10–15); then a
 * departure from the earlier baseline (18).
 *
 * @example
 * ```ts
 * import { modelCheck } from "./check.ts";
 * const r = await modelCheck({
 *   modelDir: "fixtures/tiny-bitnet",
 *   tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
 *   outDir: "models/clean",
 *   baselinePath: "docs/baselines/tiny-bitnet.json",
 * });
 * r.exitCode; // 0, 10–15 or 18
 * r.differences.length; // 0 when the model matches its baseline
 * ```
 * @module
 */

import { resolve } from "node:path";
import { assertStrictAllows, defaultBitnetEnv } from "../cli/env.ts";
import { EXIT } from "../errors.ts";
import { exportCleanGguf, type ExportResult } from "../export/export.ts";
import type { ValidationReport } from "../validate/report.ts";
import { validateGguf, type ValidateOptions } from "../validate/validate.ts";
import { type BaselineDifference, compareBaselines } from "./compare.ts";
import { createBaseline } from "./create.ts";
import type { Baseline } from "./types.ts";
import { type BaselinePaths, baselinePaths, readBaseline, writeBaseline } from "./files.ts";

/**
 * Options of {@link modelCheck}: the export's, an earlier baseline, and validateGguf's probe
 * settings (the prompt and token count default to the earlier baseline's).
 */
export interface ModelCheckOptions
  extends Pick<ValidateOptions, "prompt" | "maxTokens" | "threads" | "env" | "onProgress"> {
  readonly modelDir: string;
  readonly tokenizerPath: string;
  readonly outDir: string;
  /** An earlier baseline JSON to compare with. */
  readonly baselinePath?: string;
  readonly outType?: "f16" | "f32" | "bf16";
  readonly onWarning?: (message: string) => void;
}

/** What {@link modelCheck} did. */
export interface ModelCheckResult {
  readonly exported: ExportResult;
  readonly report: ValidationReport;
  readonly baseline: Baseline;
  readonly paths: BaselinePaths;
  /**
   * False when the new baseline would have overwritten the earlier one it
   * departs from: the reference is kept and nothing is written.
   */
  readonly written: boolean;
  readonly earlier: Baseline | null;
  readonly differences: readonly BaselineDifference[];
  /** 0, the validation's code (10–15), or 18 (EXIT.baselineMismatch). */
  readonly exitCode: number;
}

/** A baseline JSON and the .md and .svg written with it. */
function baselineFilesOf(jsonPath: string): string[] {
  const base = jsonPath.replace(/\.json$/, "");
  return [jsonPath, `${base}.md`, `${base}.svg`];
}

/**
 * Runs export, validation, baseline and comparison.
 *
 * @example
 * ```ts
 * const r = await modelCheck({
 *   modelDir: "fixtures/tiny-bitnet",
 *   tokenizerPath: "fixtures/tiny-bitnet/tokenizer.json",
 *   outDir: "models/clean",
 * });
 * console.log(r.paths.markdown);
 * ```
 */
export async function modelCheck(opts: ModelCheckOptions): Promise<ModelCheckResult> {
  const env = opts.env ?? defaultBitnetEnv();
  // Refuse before writing anything, and read the earlier baseline before the export, so that a
  // wrong --baseline file fails in a second, not after a long export.
  assertStrictAllows(env);
  const earlier = opts.baselinePath ? await readBaseline(opts.baselinePath) : null;
  const prompt = opts.prompt ?? earlier?.probe?.prompt;
  const maxTokens = opts.maxTokens ?? earlier?.probe?.maxTokens;

  const t0 = performance.now();
  const exported = await exportCleanGguf({
    modelDir: opts.modelDir,
    tokenizerPath: opts.tokenizerPath,
    outDir: opts.outDir,
    ...(opts.outType ? { outType: opts.outType } : {}),
    ...(opts.onWarning ? { onWarning: opts.onWarning } : {}),
    quiet: true,
    // The earlier baseline may sit beside the GGUF: it stays, even though it describes other bytes.
    keep: opts.baselinePath ? baselineFilesOf(opts.baselinePath) : [],
  });
  const exportMs = performance.now() - t0;
  opts.onProgress?.(`exported ${exported.ggufPath} (${exported.fingerprint})`);

  const report = await validateGguf({
    ggufPath: exported.ggufPath,
    tokenizerPath: opts.tokenizerPath,
    metaPath: exported.metaPath,
    ...(prompt !== undefined ? { prompt } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    env,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const { baseline } = await createBaseline({
    ggufPath: exported.ggufPath,
    tokenizerPath: opts.tokenizerPath,
    report,
    fingerprint: exported.fingerprint,
    timings: { exportMs },
  });

  const differences = earlier ? compareBaselines(earlier, baseline) : [];
  const paths = baselinePaths(exported.ggufPath);
  const keepReference = differences.length > 0 && opts.baselinePath !== undefined &&
    resolve(opts.baselinePath) === resolve(paths.json);
  if (!keepReference) await writeBaseline(baseline, paths);

  const exitCode = report.exitCode !== EXIT.ok
    ? report.exitCode
    : differences.length > 0
    ? EXIT.baselineMismatch
    : EXIT.ok;
  const written = !keepReference;
  return { exported, report, baseline, paths, written, earlier, differences, exitCode };
}
