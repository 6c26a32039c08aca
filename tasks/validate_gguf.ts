/**
 * `deno task model-validate <model.gguf> [tokenizer.json]`: checks a GGUF
 * without correcting anything. Exit 0 when every gate passed; 10 the norm
 * inspection could not run; 11 suspicious norm weights; 12 no healthy norm
 * layers; 13 model loading failed; 14 the inference probe failed to run; 15
 * the output is gibberish; 16 strict mode refused a runtime correction
 * setting.
 *
 * @module
 */

import { readBitnetEnv } from "../lib/cli/env.ts";
import { OutputError, UsageError } from "../lib/errors.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { logLine, parseTaskArgs, positiveInt, runTask } from "../lib/cli/run.ts";
import { renderReport } from "../lib/validate/report.ts";
import { loadRules } from "../lib/validate/rules.ts";
import { DEFAULT_MAX_TOKENS, DEFAULT_PROMPT, validateGguf } from "../lib/validate/validate.ts";

const HELP = `Usage: model-validate <model.gguf> [tokenizer.json] [flags]

Checks a GGUF without changing it: norm tensors (gate 1), projections and model
loading (gate 2), a greedy linguistic probe (gate 3).

Flags:
  --json               print the machine-readable report (JSON) instead of the text report
  --report FILE        also write the JSON report to FILE
  --meta FILE          the export's meta.json (default: <model>.meta.json beside the GGUF)
  --no-meta            do not compare norms with a meta.json
  --rules FILE         JSON rules overriding the built-in envelopes and thresholds
  --prompt TEXT        probe prompt (default "${DEFAULT_PROMPT}")
  --max-tokens N       tokens to generate (default ${DEFAULT_MAX_TOKENS})
  --expect TEXT        the generated text must contain TEXT
  --threads N          engine threads (default BITNET_THREADS, else all CPUs)
  --against REF.gguf   also compare the outputs with a reference model (the float source of a
                       quantized file): top-1 agreement, mean KL, passage NLL (exit 13 or 15)
  --no-probe           skip gate 3 (no inference)
  -h, --help           this text

Environment: BITNET_STRICT_MODE=1 refuses BITNET_CORRECTION_POLICY,
BITNET_ALLOW_RUNTIME_CORRECTIONS and BITNET_FIX_LN_SCALE (exit 16);
BITNET_DETERMINISTIC, BITNET_SEED (default 42), BITNET_THREADS are recorded in the report.

Exit codes: 0 passed; 10 norm inspection could not run; 11 suspicious norm weights;
12 no healthy norm layers; 13 model loading failed; 14 probe failed to run;
15 gibberish output; 16 strict mode refused a correction setting.
`;

/**
 * Runs the task with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["models/clean/clean-f16.gguf", "--json"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    json: { type: "boolean" },
    report: { type: "string" },
    meta: { type: "string" },
    "no-meta": { type: "boolean" },
    rules: { type: "string" },
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    expect: { type: "string" },
    threads: { type: "string" },
    "no-probe": { type: "boolean" },
    against: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const [ggufPath, tokenizerPath, ...extra] = positionals;
  if (!ggufPath) throw new UsageError("missing <model.gguf> (see --help)");
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  if (f.meta !== undefined && f["no-meta"]) {
    throw new UsageError("--meta and --no-meta exclude each other");
  }
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const env = readBitnetEnv();
  const rulesPath = str(f.rules);
  const prompt = str(f.prompt);
  const expect = str(f.expect);
  const threads = f.threads === undefined ? undefined : positiveInt(f.threads, "--threads", 1);
  const report = await validateGguf({
    ggufPath,
    tokenizerPath: tokenizerPath ?? null,
    ...(f["no-meta"] ? { metaPath: null } : str(f.meta) ? { metaPath: str(f.meta)! } : {}),
    ...(rulesPath ? { rules: await loadRules(rulesPath) } : {}),
    ...(prompt !== undefined ? { prompt } : {}),
    maxTokens: positiveInt(f["max-tokens"], "--max-tokens", DEFAULT_MAX_TOKENS),
    expect: expect ?? null,
    env,
    ...(threads !== undefined ? { threads } : {}),
    skipProbe: f["no-probe"] === true,
    ...(str(f.against) ? { against: str(f.against)! } : {}),
    onProgress: (m) => {
      if (!f.json && Deno.stderr.isTerminal()) logLine(m);
    },
  });
  const json = JSON.stringify(report, null, 2) + "\n";
  const reportPath = str(f.report);
  if (reportPath) {
    try {
      await Deno.writeTextFile(reportPath, json);
    } catch (e) {
      throw new OutputError(`${reportPath}: cannot write the report (${(e as Error).message})`, {
        cause: e,
      });
    }
  }
  if (f.json) await Deno.stdout.write(new TextEncoder().encode(json));
  else console.log(renderReport(report, reportStyle()));
  return report.exitCode;
}

if (import.meta.main) await runTask(() => main(Deno.args));
