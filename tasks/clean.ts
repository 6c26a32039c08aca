/**
 * `deno task model-clean [model_dir] [tokenizer.json] [out_dir]`: export, then
 * validate, in one command. The exit code is the first failure's: a refused
 * strict-mode setting (16) before anything is written, then the export's
 * code, then the validation's (0 or 10–15). With no arguments it runs on the
 * bundled fixture.
 *
 * @module
 */

import { assertStrictAllows, readBitnetEnv } from "../lib/cli/env.ts";
import { reportStyle } from "../lib/cli/report_style.ts";
import { choice, logLine, parseTaskArgs, positiveInt, runTask, warnLine } from "../lib/cli/run.ts";
import { exportCleanGguf } from "../lib/export/export.ts";
import { HUB_FLAGS, HUB_FLAGS_HELP, resolveModelSource } from "../lib/hub/model_source.ts";
import { renderReport } from "../lib/validate/report.ts";
import { validateGguf } from "../lib/validate/validate.ts";

const HELP = `Usage: model-clean [model_dir] [tokenizer.json] [out_dir] [flags]
       model-clean --hf-repo OWNER/NAME [--revision REV] [out_dir] [flags]

Exports a Hugging Face checkpoint to a clean GGUF (model-export), then validates it
(model-validate). Defaults: fixtures/tiny-bitnet, its tokenizer.json, models/clean.

Flags:
  --outtype f16|f32|bf16   type of 2-D weights (default f16)
  --arch-name NAME         general.architecture (default bitnet-b1.58 for BitNet)
  --allow-overflow clamp   clamp BF16 values beyond F16 range instead of refusing
${HUB_FLAGS_HELP}
  --json                   print {export, validation} as JSON on stdout
  --report FILE            also write the validation report (JSON) to FILE
  --prompt TEXT            probe prompt (default "The capital of France is")
  --expect TEXT            the generated text must contain TEXT
  --threads N              inference threads (default BITNET_THREADS, else all CPUs)
  --quiet                  no progress or warnings on stderr
  -h, --help               this text

Exit codes: as model-export (2-9), then as model-validate (0, 10-16).
`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values: f, positionals } = parseTaskArgs(args, {
    outtype: { type: "string" },
    "arch-name": { type: "string" },
    "allow-overflow": { type: "string" },
    json: { type: "boolean" },
    report: { type: "string" },
    prompt: { type: "string" },
    expect: { type: "string" },
    threads: { type: "string" },
    quiet: { type: "boolean" },
    ...HUB_FLAGS,
    help: { type: "boolean", short: "h" },
  });
  if (f.help) {
    console.log(HELP);
    return 0;
  }
  const env = readBitnetEnv();
  // Refuse before writing anything: a strict run must not even produce an export.
  assertStrictAllows(env);
  const quiet = f.quiet === true;
  const { modelDir, tokenizerPath, outDir, origin } = await resolveModelSource(f, positionals, {
    quiet,
  });
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const exported = await exportCleanGguf({
    modelDir,
    ...(tokenizerPath ? { tokenizerPath } : {}),
    outDir,
    outType: choice(f.outtype, "outtype", ["f16", "f32", "bf16"] as const, "f16"),
    ...(str(f["arch-name"]) ? { archName: str(f["arch-name"])! } : {}),
    allowOverflow: choice(
      f["allow-overflow"],
      "allow-overflow",
      ["clamp", "refuse"] as const,
      "refuse",
    ),
    ...(origin ? { origin } : {}),
    onWarning: (m) => quiet || warnLine(m),
  });
  if (!quiet) logLine(`exported ${exported.ggufPath} (${exported.fingerprint})`);
  const threads = f.threads === undefined ? undefined : positiveInt(f.threads, "--threads", 1);
  const report = await validateGguf({
    ggufPath: exported.ggufPath,
    tokenizerPath: tokenizerPath ?? null,
    metaPath: exported.metaPath,
    ...(str(f.prompt) !== undefined ? { prompt: str(f.prompt)! } : {}),
    expect: str(f.expect) ?? null,
    env,
    ...(threads !== undefined ? { threads } : {}),
    onProgress: (m) => {
      if (!quiet && !f.json && Deno.stderr.isTerminal()) logLine(m);
    },
  });
  const reportPath = str(f.report);
  if (reportPath) await Deno.writeTextFile(reportPath, JSON.stringify(report, null, 2) + "\n");
  if (f.json) {
    console.log(
      JSON.stringify(
        {
          export: {
            gguf: exported.ggufPath,
            fingerprint: exported.fingerprint,
            meta: exported.metaPath,
          },
          validation: report,
        },
        null,
        2,
      ),
    );
  } else {
    console.log(renderReport(report, reportStyle()));
  }
  return report.exitCode;
}

if (import.meta.main) await runTask(() => main(Deno.args));
