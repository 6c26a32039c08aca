/**
 * `model-quantize-i2s`'s command line.
 *
 * @example
 * ```ts
 * import { QUANTIZE_SPEC } from "./quantize.ts";
 * QUANTIZE_SPEC.options.type.choices; // ["i2_s", "tq2_0", "tq1_0"]
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import { MANIFEST_OPTION } from "./shared.ts";

/** model-quantize-i2s. */
export const QUANTIZE_SPEC = {
  name: "model-quantize-i2s",
  script: "tasks/quantize_i2s_clean.ts",
  summary: "Quantize a clean F16 GGUF to I2_S (or --type tq2_0|tq1_0).",
  description:
    "Quantizes the BitLinear projections (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up,\n" +
    "ffn_down) of a clean float GGUF to a ternary type, writing <out_dir>/clean-<type>.gguf with its\n" +
    "companions. Norms, token_embd and output are copied byte for byte. I2_S runs in bitnet.cpp;\n" +
    "TQ2_0 and TQ1_0 run in upstream llama.cpp, which loads general.architecture bitnet (export\n" +
    "with --arch-name bitnet) or llama: for any other architecture the quantizer warns.",
  positionals: [
    {
      name: "input",
      label: "clean-f16.gguf",
      help: "the export (F32, F16 or BF16 projections)",
      required: true,
    },
    {
      name: "out_dir",
      label: "out_dir",
      help: "where the quantized GGUF goes (default: the input's folder)",
      writes: { kind: "dir", besideOf: "input" },
    },
  ],
  options: {
    type: {
      type: "string",
      help: "ternary type (any case)",
      choices: ["i2_s", "tq2_0", "tq1_0"],
      default: { text: "i2_s" },
    },
    ternarize: {
      type: "boolean",
      help:
        "ternarize non-ternary projections with absmean (otherwise refused with\nexit 17); changes the model",
    },
    name: { type: "string", value: "STEM", help: "output file stem (default clean-<type>)" },
    "no-hash": { type: "boolean", help: "do not write <stem>.gguf-hash" },
    manifest: MANIFEST_OPTION,
    timestamp: {
      type: "boolean",
      help: "record the time in meta.json (breaks byte-identical reruns)",
    },
  },
  examples: [
    "model-quantize-i2s models/clean/clean-f16.gguf",
    "model-quantize-i2s /data/gguf/clean-f16.gguf /data/tq --type TQ2_0",
  ],
  exitCodes: [3, 4, 5, 8, 9, 17],
} as const satisfies TaskSpec;
