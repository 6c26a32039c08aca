/**
 * `deno task model-validate <model.gguf> [tokenizer.json]`: checks a GGUF
 * without correcting anything. Exit 0 when every gate passed; 10 the norm
 * inspection could not run; 11 suspicious norm weights; 12 no healthy norm
 * layers; 13 model loading failed; 14 the inference probe failed to run; 15
 * the output is gibberish (or lacks the --expect text); 16 strict mode
 * refused a runtime correction setting. The command line is
 * lib/cli/specs.ts.
 *
 * @module
 */

import { reportStyle } from "../lib/cli/report_style.ts";
import {
  printJson,
  type ProbeFlags,
  probeSettings,
  runTask,
  type TaskBody,
  type TaskContext,
  terminalLog,
  writeJsonFile,
} from "../lib/cli/run.ts";
import { VALIDATE_SPEC } from "../lib/cli/specs.ts";
import { renderReport, type ValidationReport } from "../lib/validate/report.ts";
import { loadRules } from "../lib/validate/rules.ts";
import { UsageError } from "../lib/errors.ts";
import { validateGguf, type ValidateOptions } from "../lib/validate/validate.ts";

/** The flags model-validate and model-clean share. */
export interface ValidationFlags extends ProbeFlags {
  readonly expect?: string | undefined;
  readonly report?: string | undefined;
  readonly json: boolean;
}

/**
 * Validates with the shared flags (probe settings, `--expect`, the BITNET_*
 * settings, a step log on a terminal) and writes `--report FILE`.
 *
 * @example
 * ```ts
 * import { executeTask } from "../lib/cli/run.ts";
 * import { VALIDATE_SPEC } from "../lib/cli/specs.ts";
 * await executeTask(VALIDATE_SPEC, async ({ flags, args }, ctx) => {
 *   const report = await validateFromCommandLine(flags, ctx, { ggufPath: args.model });
 *   return report.exitCode;
 * }, ["models/clean/clean-f16.gguf"]);
 * ```
 */
export async function validateFromCommandLine(
  f: ValidationFlags,
  ctx: TaskContext,
  opts: ValidateOptions,
): Promise<ValidationReport> {
  const report = await validateGguf({
    ...opts,
    ...probeSettings(f),
    expect: f.expect ?? null,
    env: ctx.env,
    onProgress: terminalLog(f.json, ctx.log),
  });
  if (f.report !== undefined) await writeJsonFile(f.report, report, "report");
  return report;
}

/** The task: validate, print the report (text or JSON), write it with --report. */
export const validateTask: TaskBody<typeof VALIDATE_SPEC> = async ({ flags: f, args }, ctx) => {
  if (f.meta !== undefined && f["no-meta"]) {
    throw new UsageError("model-validate: --meta and --no-meta exclude each other; see --help");
  }
  const report = await validateFromCommandLine(f, ctx, {
    ggufPath: args.model,
    tokenizerPath: args.tokenizer ?? null,
    ...(f["no-meta"] ? { metaPath: null } : f.meta !== undefined ? { metaPath: f.meta } : {}),
    ...(f.rules !== undefined ? { rules: await loadRules(f.rules) } : {}),
    skipProbe: f["no-probe"],
    ...(f.against !== undefined ? { against: f.against } : {}),
  });
  if (f.json) printJson(report);
  else console.log(renderReport(report, reportStyle()));
  return report.exitCode;
};

if (import.meta.main) await runTask(VALIDATE_SPEC, validateTask);
