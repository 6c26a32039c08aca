/**
 * `deno task model-check <model_dir> <tokenizer.json>`: export, validate and
 * baseline in one command; with `--baseline FILE` also compare with an
 * earlier baseline JSON. Exit code of the first failure: strict mode (16),
 * the export (2–9), the validation (10–15), then a departure from the
 * baseline (18), listing each difference. The command line is
 * lib/cli/specs.ts.
 *
 * @module
 */

import { modelCheck } from "../lib/baseline/check.ts";
import { baselineMismatchError } from "../lib/baseline/compare.ts";
import { EXIT } from "../lib/errors.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import { CHECK_SPEC } from "../lib/cli/specs.ts";
import { renderReport } from "../lib/validate/report.ts";

/** The task: the validation report, where the baseline went, and the comparison. */
export const checkTask: TaskBody<typeof CHECK_SPEC> = async ({ flags: f, args }, ctx) => {
  const baselinePath = f.baseline;
  const { threads, "max-tokens": maxTokens } = f;
  const r = await modelCheck({
    modelDir: args.model_dir,
    tokenizerPath: args.tokenizer,
    outDir: f["out-dir"],
    ...(baselinePath !== undefined ? { baselinePath } : {}),
    outType: f.outtype,
    ...(f.prompt !== undefined ? { prompt: f.prompt } : {}),
    ...(maxTokens !== undefined ? { maxTokens } : {}),
    ...(threads !== undefined ? { threads } : {}),
    env: ctx.env,
    onProgress: ctx.log,
    onWarning: ctx.warn,
  });
  const mismatch = baselinePath && r.differences.length > 0
    ? baselineMismatchError(r.differences, baselinePath, r.exported.ggufPath)
    : undefined;
  if (f.json) {
    printJson({
      export: { gguf: r.exported.ggufPath, fingerprint: r.exported.fingerprint },
      validation: r.report,
      baseline: { ...r.paths, written: r.written },
      compared_with: baselinePath ?? null,
      differences: r.differences,
      exitCode: r.exitCode,
    });
    return r.exitCode;
  }
  console.log(renderReport(r.report, reportStyle()));
  console.log("");
  if (r.written) console.log(`baseline: ${r.paths.markdown} (${r.paths.json}, ${r.paths.svg})`);
  else console.log(`baseline: ${r.paths.json} kept as the reference (this run departs from it)`);
  if (baselinePath && !mismatch) console.log(`matches the baseline ${baselinePath}`);
  if (mismatch) {
    if (r.exitCode === EXIT.baselineMismatch) throw mismatch;
    // A failed validation came first and keeps its code; the differences are still listed.
    console.log(mismatch.message);
  }
  return r.exitCode;
};

if (import.meta.main) await runTask(CHECK_SPEC, checkTask);
