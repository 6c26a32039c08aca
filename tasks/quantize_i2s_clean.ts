/**
 * `deno task model-quantize-i2s <clean-f16.gguf> [out_dir]`: a clean float
 * GGUF becomes `clean-i2_s.gguf` (or `clean-tq2_0.gguf`, `clean-tq1_0.gguf`
 * with `--type`) with its `.fingerprint`, `.meta.json` and `.gguf-hash`.
 * Only the seven BitLinear projections are quantized; norms, token_embd and
 * output are copied byte for byte.
 *
 * @example
 * ```sh
 * deno task model-quantize-i2s models/clean/clean-f16.gguf
 * deno task model-quantize-i2s models/clean/clean-f16.gguf models/tq --type tq2_0
 * ```
 * @module
 */

import { QUANT_TYPE_NAMES } from "../lib/quantize/formats.ts";
import { quantizeGguf } from "../lib/quantize/quantize.ts";
import {
  choice,
  logLine,
  parseTaskArgs,
  runTask,
  tensorProgress,
  warnLine,
} from "../lib/cli/run.ts";
import { UsageError } from "../lib/errors.ts";

const HELP = `Usage: model-quantize-i2s <clean-f16.gguf> [out_dir] [flags]

Quantizes the BitLinear projections (attn_q, attn_k, attn_v, attn_output,
ffn_gate, ffn_up, ffn_down) of a clean float GGUF to a ternary type. Norms,
token_embd and output are never quantized: they are copied byte for byte.
  clean-f16.gguf   the export (F32, F16 or BF16 projections)
  out_dir          default: the input's folder

Flags:
  --type i2_s|tq2_0|tq1_0   I2_S (default) runs in bitnet.cpp only;
                            TQ2_0 / TQ1_0 run in upstream llama.cpp
  --ternarize               ternarize non-ternary projections with absmean
                            (otherwise refused with exit 17); changes the model
  --name STEM               output file stem (default clean-<type>)
  --no-hash                 do not write <stem>.gguf-hash
  --timestamp               record the time in meta.json (breaks byte-identical reruns)
  --json                    print a machine-readable summary on stdout
  --quiet                   no progress bar or warnings
  -h, --help                this text

Exit codes: 0 ok, 2 usage, 3 input missing, 4 malformed GGUF, 5 unsupported
tensor type, 8 output not writable, 9 misshapen projection, 17 a projection
is not ternary (see --ternarize) or its rows do not fit the format's blocks.
`;

if (import.meta.main) {
  await runTask(async () => {
    const { values: f, positionals } = parseTaskArgs(Deno.args, {
      type: { type: "string" },
      ternarize: { type: "boolean" },
      name: { type: "string" },
      "no-hash": { type: "boolean" },
      timestamp: { type: "boolean" },
      json: { type: "boolean" },
      quiet: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    });
    if (f.help) {
      console.log(HELP);
      return 0;
    }
    const [input, outDir, ...extra] = positionals;
    if (input === undefined) throw new UsageError("missing <clean-f16.gguf> (see --help)");
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);
    const quiet = f.quiet === true;
    const progress = tensorProgress("Quantizing", quiet);
    const result = await quantizeGguf({
      input,
      ...(outDir !== undefined ? { outDir } : {}),
      type: choice(f.type, "type", QUANT_TYPE_NAMES, "i2_s"),
      ternarize: f.ternarize === true,
      ...(typeof f.name === "string" ? { name: f.name } : {}),
      hashManifest: f["no-hash"] !== true,
      timestamp: f.timestamp === true,
      onProgress: progress.update,
      onWarning: (m) => quiet || warnLine(m),
    });
    progress.finish();
    const quantized = result.meta.tensors.filter((t) => t.action.startsWith("quantized:")).length;
    if (f.json) {
      console.log(JSON.stringify(
        {
          gguf: result.ggufPath,
          meta: result.metaPath,
          fingerprint_file: result.fingerprintPath,
          manifest: result.manifestPath,
          fingerprint: result.fingerprint,
          type: result.meta.precision,
          size: result.meta.size,
          tensors: result.meta.tensors.length,
          quantized,
          warnings: result.meta.warnings,
        },
        null,
        2,
      ));
    } else {
      if (!quiet) {
        logLine(
          `quantized ${quantized} projections to ${result.meta.precision}, copied ${
            result.meta.tensors.length - quantized
          } tensors unchanged`,
        );
      }
      console.log(`${result.ggufPath}\n${result.fingerprint}`);
    }
    return 0;
  });
}
