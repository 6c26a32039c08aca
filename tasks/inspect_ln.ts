/**
 * `deno task model-inspect-ln <model.gguf>`: prints every norm tensor's
 * statistics (the numbers gate 1 of `model-validate` judges) as a table.
 * Exit 0 when every norm is healthy, else gate 1's code (10, 11 or 12).
 * The command line is lib/cli/specs.ts.
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import { INSPECT_LN_SPEC } from "../lib/cli/specs.ts";
import { inspectNormsOfFile } from "../lib/validate/norms.ts";
import { normTable } from "../lib/validate/report.ts";
import { loadRules } from "../lib/validate/rules.ts";

/** The task: the norm table (or JSON) and gate 1's verdict. */
export const inspectLnTask: TaskBody<typeof INSPECT_LN_SPEC> = async ({ flags: f, args }) => {
  if (f.meta !== undefined && f["no-meta"]) {
    throw new UsageError("model-inspect-ln: --meta and --no-meta exclude each other; see --help");
  }
  const result = await inspectNormsOfFile({
    ggufPath: args.model,
    ...(f["no-meta"] ? { metaPath: null } : f.meta !== undefined ? { metaPath: f.meta } : {}),
    ...(f.rules !== undefined ? { rules: await loadRules(f.rules) } : {}),
  });
  if (f.json) {
    printJson({ gate: result.gate, norms: result.norms });
  } else {
    const s = reportStyle();
    console.log(
      s.bold(`Norm tensors of ${args.model}`) + s.dim(` (meta.json: ${result.metaPath ?? "none"})`),
    );
    if (result.norms.length) console.log(normTable(result.norms, s));
    for (const c of result.gate.checks) {
      if (c.status !== "pass") console.log(`${s.status(c.status)} ${c.id}: ${c.message}`);
    }
    console.log(`${s.status(result.gate.status)} ${result.gate.summary}`);
  }
  return result.gate.exitCode ?? 0;
};

if (import.meta.main) await runTask(INSPECT_LN_SPEC, inspectLnTask);
