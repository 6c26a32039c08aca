/**
 * `deno task model-inspect-ln <model.gguf>`: prints every norm tensor's
 * statistics (the numbers gate 1 of `model-validate` judges) as a table.
 * Exit 0 when every norm is healthy, else gate 1's code (10, 11 or 12).
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { parseTaskArgs, runTask } from "../lib/cli/run.ts";
import { inspectNormsOfFile } from "../lib/validate/inspect.ts";
import { normTable } from "../lib/validate/report.ts";
import { loadRules } from "../lib/validate/rules.ts";

const HELP = `Usage: model-inspect-ln <model.gguf> [flags]

Prints every norm tensor's statistics (type, count, RMS, min, max, mean, distinct
values, envelope, RMS recorded in meta.json, verdict).

Flags:
  --meta FILE    the export's meta.json (default: <model>.meta.json beside the GGUF)
  --no-meta      do not compare with a meta.json
  --rules FILE   JSON rules overriding the built-in envelopes
  --json         print the findings as JSON
  -h, --help     this text

Exit codes: 0 all norms healthy; 10 inspection could not run; 11 suspicious norms;
12 no healthy norm layers.
`;

/**
 * Runs the task with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * await main(["models/clean/clean-f16.gguf"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    meta: { type: "string" },
    "no-meta": { type: "boolean" },
    rules: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const [ggufPath, ...extra] = positionals;
  if (!ggufPath) throw new UsageError("missing <model.gguf> (see --help)");
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  if (f.meta !== undefined && f["no-meta"]) {
    throw new UsageError("--meta and --no-meta exclude each other");
  }
  const result = await inspectNormsOfFile({
    ggufPath,
    ...(f["no-meta"] ? { metaPath: null } : typeof f.meta === "string" ? { metaPath: f.meta } : {}),
    ...(typeof f.rules === "string" ? { rules: await loadRules(f.rules) } : {}),
  });
  if (f.json) {
    console.log(JSON.stringify({ gate: result.gate, norms: result.norms }, null, 2));
  } else {
    const s = reportStyle();
    console.log(
      s.bold(`Norm tensors of ${ggufPath}`) + s.dim(` (meta.json: ${result.metaPath ?? "none"})`),
    );
    if (result.norms.length) console.log(normTable(result.norms, s));
    for (const c of result.gate.checks) {
      if (c.status !== "pass") console.log(`${s.status(c.status)} ${c.id}: ${c.message}`);
    }
    console.log(`${s.status(result.gate.status)} ${result.gate.summary}`);
  }
  return result.gate.exitCode ?? 0;
}

if (import.meta.main) await runTask(() => main(Deno.args));
