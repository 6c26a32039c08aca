/**
 * `deno task model-clean [model_dir] [tokenizer.json] [out_dir]`: export, then
 * validate, in one command, with the export's flags. The exit code is the
 * first failure's: a refused strict-mode setting (16) before anything is
 * written, then the export's code, then the validation's (0 or 10–15). With
 * no arguments it runs on the bundled fixture. The command line is
 * lib/cli/specs/clean.ts.
 *
 * @module
 */

import { readHubToken } from "../lib/cli/env.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import {
  optionalPositiveInt,
  positiveInt,
  printJson,
  runTask,
  type TaskBody,
  writeJsonFile,
} from "../lib/cli/run.ts";
import { CLEAN_SPEC } from "../lib/cli/specs/clean.ts";
import { exportCleanGguf } from "../lib/export/export.ts";
import { resolveModelSource } from "../lib/hub/model_source.ts";
import { renderReport } from "../lib/validate/report.ts";
import { validateGguf } from "../lib/validate/validate.ts";

/** The task: export, validate, print the report; the exit code is the first failure's. */
export const cleanTask: TaskBody<typeof CLEAN_SPEC> = async ({ flags: f, args }, ctx) => {
  const source = await resolveModelSource({
    modelDir: args.model_dir,
    tokenizer: f.tokenizer ?? args.tokenizer,
    outDir: args.out_dir,
    hfRepo: f["hf-repo"],
    revision: f.revision,
    cacheDir: f["cache-dir"],
    hubUrl: f["hub-url"],
    token: f["hf-repo"] !== undefined ? readHubToken() : undefined,
    quiet: f.quiet,
  });
  const progress = ctx.progress("Exporting");
  const exported = await exportCleanGguf({
    modelDir: source.modelDir,
    ...(source.tokenizerPath ? { tokenizerPath: source.tokenizerPath } : {}),
    outDir: source.outDir,
    outType: f.outtype,
    normType: f["norm-type"],
    ...(f["arch-name"] !== undefined ? { archName: f["arch-name"] } : {}),
    allowOverflow: f["allow-overflow"],
    ...(f.name !== undefined ? { name: f.name } : {}),
    timestamp: f.timestamp,
    ...(source.origin ? { origin: source.origin } : {}),
    onProgress: progress.update,
    onWarning: ctx.warn,
  });
  progress.finish();
  ctx.log(`exported ${exported.ggufPath} (${exported.fingerprint})`);
  const threads = optionalPositiveInt(f.threads, "--threads");
  const report = await validateGguf({
    ggufPath: exported.ggufPath,
    tokenizerPath: source.tokenizerPath ?? null,
    metaPath: exported.metaPath,
    prompt: f.prompt,
    maxTokens: positiveInt(f["max-tokens"], "--max-tokens", 8),
    expect: f.expect ?? null,
    env: ctx.env,
    ...(threads !== undefined ? { threads } : {}),
    onProgress: (m) => {
      if (!f.json && Deno.stderr.isTerminal()) ctx.log(m);
    },
  });
  if (f.report !== undefined) await writeJsonFile(f.report, report, "report");
  if (f.json) {
    printJson({
      export: {
        gguf: exported.ggufPath,
        fingerprint: exported.fingerprint,
        meta: exported.metaPath,
        removed: exported.removed,
      },
      validation: report,
    });
  } else {
    console.log(renderReport(report, reportStyle()));
  }
  return report.exitCode;
};

if (import.meta.main) await runTask(CLEAN_SPEC, cleanTask);
