/**
 * `deno task model-quantize-i2s <clean-f16.gguf> [out_dir]`: a clean float
 * GGUF becomes `clean-i2_s.gguf` (or `clean-tq2_0.gguf`, `clean-tq1_0.gguf`
 * with `--type`, any case) with its `.fingerprint`, `.meta.json` and
 * `.gguf-hash`. Only the seven BitLinear projections are quantized; norms,
 * token_embd and output are copied byte for byte. The command line is
 * lib/cli/specs.ts.
 *
 * @example
 * ```sh
 * deno task model-quantize-i2s models/clean/clean-f16.gguf
 * deno task model-quantize-i2s models/clean/clean-f16.gguf models/tq --type TQ2_0
 * ```
 * @module
 */

import { printJson, runTask, type TaskBody, writtenSummary } from "../lib/cli/run.ts";
import { QUANTIZE_SPEC } from "../lib/cli/specs.ts";
import { quantizeGguf } from "../lib/quantize/quantize.ts";
import { parseGgufHashAlgos } from "../lib/provenance/gguf_hash.ts";

/** The task: quantize, then print the GGUF's path and fingerprint (or a JSON summary). */
export const quantizeTask: TaskBody<typeof QUANTIZE_SPEC> = async ({ flags: f, args }, ctx) => {
  const progress = ctx.progress("Quantizing");
  const result = await quantizeGguf({
    input: args.input,
    ...(args.out_dir !== undefined ? { outDir: args.out_dir } : {}),
    type: f.type,
    ternarize: f.ternarize,
    ...(f.name !== undefined ? { name: f.name } : {}),
    hashManifest: !f["no-hash"],
    ...(f.manifest !== undefined ? { manifest: parseGgufHashAlgos(f.manifest) } : {}),
    timestamp: f.timestamp,
    onProgress: progress.update,
    onWarning: ctx.warn,
  });
  progress.finish();
  const quantized = result.meta.tensors.filter((t) => t.action.startsWith("quantized:")).length;
  if (f.json) {
    printJson({ ...writtenSummary(result), type: result.meta.precision, quantized });
  } else {
    ctx.log(
      `quantized ${quantized} projections to ${result.meta.precision}, copied ${
        result.meta.tensors.length - quantized
      } tensors unchanged`,
    );
    console.log(`${result.ggufPath}\n${result.fingerprint}`);
  }
  return 0;
};

if (import.meta.main) await runTask(QUANTIZE_SPEC, quantizeTask);
