/**
 * `deno task model-baseline <gguf> <tokenizer.json> [out_file]`: validates a
 * GGUF and writes its baseline — `<out>.md` for people, `<out>.json` for
 * `model-check --baseline`, `<out>.svg` (norm RMS per layer and class) —
 * by default `<gguf stem>.baseline.*`. The exit code is the validation's
 * (0, 10–16): a baseline of a failing model is still written, marked FAILED.
 *
 * @module
 */

import { InputError, UsageError } from "../lib/errors.ts";
import { logLine, parseTaskArgs, positiveInt, runTask } from "../lib/cli/run.ts";
import { createBaseline } from "../lib/baseline/create.ts";
import { baselinePaths, writeBaseline } from "../lib/baseline/write.ts";
import { assertStrictAllows, readBitnetEnv } from "../lib/cli/env.ts";
import { DEFAULT_MAX_TOKENS, DEFAULT_PROMPT } from "../lib/validate/validate.ts";

const HELP = `Usage: model-baseline <model.gguf> <tokenizer.json> [out_file.md] [flags]

Validates a GGUF (as model-validate) and writes its baseline: out_file.md (Markdown),
out_file.json (what model-check --baseline reads) and out_file.svg (norm RMS chart),
by default <gguf stem>.baseline.md/.json/.svg. See docs/baselines/README.md.

Flags:
  --prompt TEXT        probe prompt (default "${DEFAULT_PROMPT}")
  --max-tokens N       tokens to generate (default ${DEFAULT_MAX_TOKENS})
  --threads N          engine threads (default BITNET_THREADS, else all CPUs)
  --meta FILE          the export's meta.json (default: <stem>.meta.json beside the GGUF)
  --template FILE      Markdown template instead of the embedded one
  --json               print the baseline JSON on stdout
  --quiet              no progress on stderr
  -h, --help           this text

Exit codes: as model-validate (0, 10-16); 2 usage, 3 unreadable input, 4 malformed
input or template, 8 output not writable.
`;

/**
 * Runs the task with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(["models/clean/clean-f16.gguf", "fixtures/tiny-bitnet/tokenizer.json"]);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    prompt: { type: "string" },
    "max-tokens": { type: "string" },
    threads: { type: "string" },
    meta: { type: "string" },
    template: { type: "string" },
    json: { type: "boolean" },
    quiet: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const [ggufPath, tokenizerPath, outFile, ...extra] = positionals;
  if (!ggufPath || !tokenizerPath) {
    throw new UsageError("missing <model.gguf> <tokenizer.json> (see --help)");
  }
  if (extra.length) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
  const env = readBitnetEnv();
  // Strict mode refuses correction settings before anything is read or written (exit 16).
  assertStrictAllows(env);
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const paths = baselinePaths(ggufPath, outFile);
  const templatePath = str(f.template);
  let template: { text: string; source: string } | undefined;
  if (templatePath) {
    try {
      template = { text: await Deno.readTextFile(templatePath), source: templatePath };
    } catch (e) {
      throw new InputError(`${templatePath}: cannot read the template (${(e as Error).message})`, {
        cause: e,
      });
    }
  }
  const quiet = f.quiet === true;
  const prompt = str(f.prompt);
  const meta = str(f.meta);
  const { baseline, report } = await createBaseline({
    ggufPath,
    tokenizerPath,
    env,
    ...(prompt !== undefined ? { prompt } : {}),
    maxTokens: positiveInt(f["max-tokens"], "--max-tokens", DEFAULT_MAX_TOKENS),
    ...(f.threads !== undefined ? { threads: positiveInt(f.threads, "--threads", 1) } : {}),
    ...(meta !== undefined ? { metaPath: meta } : {}),
    onProgress: (m) => quiet || logLine(m),
  });
  await writeBaseline(baseline, paths, template);
  if (f.json) console.log(JSON.stringify(baseline, null, 2));
  else {
    console.log(`baseline of ${ggufPath} (${baseline.model.fingerprint})`);
    console.log(`  ${paths.markdown}\n  ${paths.json}\n  ${paths.svg}`);
    console.log(`validation exit ${report.exitCode}: ${report.exitMeaning}`);
  }
  return report.exitCode;
}

if (import.meta.main) await runTask(() => main(Deno.args));
