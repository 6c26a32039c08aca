/**
 * `deno task model-check <model_dir> <tokenizer.json>`: export, validate and
 * baseline in one command; with `--baseline FILE` also compare with an
 * earlier baseline JSON. Exit code of the first failure: strict mode (16),
 * the export (2–9), the validation (10–15), then a departure from the
 * baseline (18), listing each difference.
 *
 * @module
 */

import { modelCheck } from "../lib/baseline/check.ts";
import { baselineMismatchError } from "../lib/baseline/compare.ts";
import { EXIT, UsageError } from "../lib/errors.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { choice, logLine, parseTaskArgs, positiveInt, runTask, warnLine } from "../lib/cli/run.ts";
import { renderReport } from "../lib/validate/report.ts";

const HELP = `Usage: model-check <model_dir> <tokenizer.json> [flags]

Exports the checkpoint (model-export), validates the GGUF (model-validate) and writes
its baseline (model-baseline) beside it: <out_dir>/clean-<type>.baseline.md/.json/.svg.

Flags:
  --out-dir DIR        where the GGUF and its baseline go (default models/clean)
  --baseline FILE      compare with this earlier baseline JSON; exit 18 on any difference
                       beyond the tolerances (docs/baselines/README.md). If FILE is the
                       baseline this run would write and they differ, FILE is kept.
  --outtype f16|f32|bf16  type of 2-D weights (default f16)
  --prompt TEXT        probe prompt (default: the earlier baseline's, else "The capital of France is")
  --max-tokens N       tokens to generate (default: the earlier baseline's, else 8)
  --threads N          engine threads (default BITNET_THREADS, else all CPUs)
  --quiet              no progress or warnings on stderr
  -h, --help           this text

Exit codes: as model-export (2-9), then as model-validate (10-16), then 18 when the model
departs from the baseline.
`;

/**
 * Runs the task with `args`; returns the exit code (or throws BaselineMismatchError, exit 18).
 *
 * @example
 * ```ts
 * const code = await main(["fixtures/tiny-bitnet", "fixtures/tiny-bitnet/tokenizer.json", "--baseline", "old.json"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    "out-dir": { type: "string" },
    baseline: { type: "string" },
    outtype: { type: "string" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    threads: { type: "string" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const [modelDir, tokenizerPath, ...extra] = positionals;
  if (!modelDir || !tokenizerPath) {
    throw new UsageError("missing <model_dir> <tokenizer.json> (see --help)");
  }
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const quiet = f.quiet === true;
  const baselinePath = str(f.baseline);
  const prompt = str(f.prompt);
  const r = await modelCheck({
    modelDir,
    tokenizerPath,
    outDir: str(f["out-dir"]) ?? "models/clean",
    ...(baselinePath ? { baselinePath } : {}),
    outType: choice(f.outtype, "outtype", ["f16", "f32", "bf16"] as const, "f16"),
    ...(prompt !== undefined ? { prompt } : {}),
    ...(f["max-tokens"] !== undefined
      ? { maxTokens: positiveInt(f["max-tokens"], "--max-tokens", 8) }
      : {}),
    ...(f.threads !== undefined ? { threads: positiveInt(f.threads, "--threads", 1) } : {}),
    onProgress: (m) => quiet || logLine(m),
    onWarning: (m) => quiet || warnLine(m),
  });
  console.log(renderReport(r.report, reportStyle()));
  console.log("");
  if (r.written) console.log(`baseline: ${r.paths.markdown} (${r.paths.json}, ${r.paths.svg})`);
  else console.log(`baseline: ${r.paths.json} kept as the reference (this run departs from it)`);
  if (baselinePath && r.differences.length === 0) {
    console.log(`matches the baseline ${baselinePath}`);
  }
  if (baselinePath && r.differences.length > 0) {
    const mismatch = baselineMismatchError(r.differences, baselinePath, r.exported.ggufPath);
    if (r.exitCode === EXIT.baselineMismatch) throw mismatch;
    // A failed validation came first and keeps its code; the differences are still listed.
    console.log(mismatch.message);
  }
  return r.exitCode;
}

if (import.meta.main) await runTask(() => main(Deno.args));
