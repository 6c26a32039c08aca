/**
 * `deno task model-clean [model_dir] [tokenizer.json] [out_dir]`: export, then
 * validate, in one command, with the export's flags. The exit code is the
 * first failure's: a refused strict-mode setting (16) before anything is
 * written, then the export's code, then the validation's (0 or 10–15). With
 * no arguments it runs on the bundled fixture. The command line is
 * lib/cli/specs.ts.
 *
 * @module
 */

import { reportStyle } from "../lib/cli/report_style.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import { CLEAN_SPEC } from "../lib/cli/specs.ts";
import { renderReport } from "../lib/validate/report.ts";
import { exportFromCommandLine } from "./export_clean_gguf.ts";
import { validateFromCommandLine } from "./validate_gguf.ts";

/** The task: export, validate, print the report; the exit code is the first failure's. */
export const cleanTask: TaskBody<typeof CLEAN_SPEC> = async (parsed, ctx) => {
  const f = parsed.flags;
  const { result: exported, tokenizerPath } = await exportFromCommandLine(parsed, ctx);
  ctx.log(`exported ${exported.ggufPath} (${exported.fingerprint})`);
  const report = await validateFromCommandLine(f, ctx, {
    ggufPath: exported.ggufPath,
    tokenizerPath: tokenizerPath ?? null,
    metaPath: exported.metaPath,
  });
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
