/**
 * `deno task model-export [model_dir] [tokenizer.json] [out_dir]`: a Hugging
 * Face checkpoint becomes `clean-<type>.gguf` with its `.fingerprint` and
 * `.meta.json`. With no arguments it exports the bundled fixture.
 *
 * @module
 */

import { exportCleanGguf } from "../lib/export/export.ts";
import { HUB_FLAGS, HUB_FLAGS_HELP, resolveModelSource } from "../lib/hub/model_source.ts";
import {
  choice,
  logLine,
  parseTaskArgs,
  runTask,
  tensorProgress,
  warnLine,
} from "../lib/cli/run.ts";

const HELP = `Usage: model-export [model_dir] [tokenizer.json] [out_dir] [flags]
       model-export --hf-repo OWNER/NAME [--revision REV] [out_dir] [flags]

Turns a Hugging Face BitNet b1.58 or Llama checkpoint into a clean GGUF.
  model_dir        default fixtures/tiny-bitnet
  tokenizer.json   default <model_dir>/tokenizer.json
  out_dir          default models/clean

Flags:
  --outtype f16|f32|bf16     type of 2-D weights (default f16)
  --norm-type f32|f16        type of norm vectors (default f32; never quantized)
  --arch-name NAME           general.architecture: bitnet-b1.58 (default), bitnet-25, bitnet, llama
  --allow-overflow clamp     clamp BF16 values beyond F16 range to ±65504 instead of refusing
  --name STEM                output file stem (default clean-<outtype>)
${HUB_FLAGS_HELP}
  --timestamp                record the export time in meta.json (breaks byte-identical re-exports)
  --json                     print a machine-readable summary on stdout
  --quiet                    no progress bar or warnings
  -h, --help                 this text
`;

if (import.meta.main) {
  await runTask(async () => {
    const { values: f, positionals } = parseTaskArgs(Deno.args, {
      outtype: { type: "string" },
      "norm-type": { type: "string" },
      "arch-name": { type: "string" },
      "allow-overflow": { type: "string" },
      name: { type: "string" },
      timestamp: { type: "boolean" },
      ...HUB_FLAGS,
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (f.help) {
      console.log(HELP);
      return 0;
    }
    const quiet = f.quiet === true;
    const { modelDir, tokenizerPath, outDir, origin } = await resolveModelSource(f, positionals, {
      quiet,
    });
    const progress = tensorProgress("Exporting", quiet);
    const result = await exportCleanGguf({
      modelDir,
      ...(tokenizerPath ? { tokenizerPath } : {}),
      outDir,
      outType: choice(f.outtype, "outtype", ["f16", "f32", "bf16"] as const, "f16"),
      normType: choice(f["norm-type"], "norm-type", ["f32", "f16"] as const, "f32"),
      ...(typeof f["arch-name"] === "string" ? { archName: f["arch-name"] } : {}),
      allowOverflow: f["allow-overflow"] === undefined
        ? "refuse"
        : choice(f["allow-overflow"], "allow-overflow", ["clamp", "refuse"] as const, "refuse"),
      ...(typeof f.name === "string" ? { name: f.name } : {}),
      timestamp: f.timestamp === true,
      ...(origin ? { origin } : {}),
      onProgress: progress.update,
      onWarning: (m) => quiet || warnLine(m),
    });
    progress.finish();
    if (f.json) {
      console.log(JSON.stringify(
        {
          gguf: result.ggufPath,
          meta: result.metaPath,
          fingerprint_file: result.fingerprintPath,
          manifest: result.manifestPath,
          fingerprint: result.fingerprint,
          size: result.meta.size,
          tensors: result.meta.tensors.length,
          warnings: result.meta.warnings,
        },
        null,
        2,
      ));
    } else {
      if (!quiet) logLine(`exported ${result.meta.tensors.length} tensors`);
      console.log(`${result.ggufPath}\n${result.fingerprint}`);
    }
    return 0;
  });
}
