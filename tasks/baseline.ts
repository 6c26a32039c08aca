/**
 * `deno task model-baseline <gguf> <tokenizer.json> [out_file.md]`: validates
 * a GGUF and writes its baseline — `<out>.md` for people, `<out>.json` for
 * `model-check --baseline`, `<out>.svg` (norm RMS per layer and class) —
 * by default `<gguf stem>.baseline.*`. The exit code is the validation's
 * (0, 10–16): a baseline of a failing model is still written, marked FAILED.
 * The command line is lib/cli/specs.ts.
 *
 * @module
 */

import { printJson, probeSettings, runTask, type TaskBody } from "../lib/cli/run.ts";
import { BASELINE_SPEC } from "../lib/cli/specs.ts";
import { createBaseline } from "../lib/baseline/create.ts";
import { baselinePaths, writeBaseline } from "../lib/baseline/files.ts";

/** The task: validate, write the three files, print where they are (or the baseline JSON). */
export const baselineTask: TaskBody<typeof BASELINE_SPEC> = async ({ flags: f, args }, ctx) => {
  const paths = baselinePaths(args.model, args.out_file);
  const { baseline, report } = await createBaseline({
    ggufPath: args.model,
    tokenizerPath: args.tokenizer,
    env: ctx.env,
    ...probeSettings(f),
    ...(f.meta !== undefined ? { metaPath: f.meta } : {}),
    onProgress: ctx.log,
  });
  await writeBaseline(baseline, paths);
  if (f.json) printJson(baseline);
  else {
    console.log(`baseline of ${args.model} (${baseline.model.fingerprint})`);
    console.log(`  ${paths.markdown}\n  ${paths.json}\n  ${paths.svg}`);
    console.log(`validation exit ${report.exitCode}: ${report.exitMeaning}`);
  }
  return report.exitCode;
};

if (import.meta.main) await runTask(BASELINE_SPEC, baselineTask);
