/**
 * `model-baseline`'s command line.
 *
 * @example
 * ```ts
 * import { BASELINE_SPEC } from "./baseline.ts";
 * BASELINE_SPEC.positionals[2].writes.besideOf; // "model"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import { ENGINE_V8_FLAGS, PROBE_OPTIONS } from "./shared.ts";

/** model-baseline. */
export const BASELINE_SPEC = {
  name: "model-baseline",
  script: "tasks/baseline.ts",
  summary: "Write a baseline (Markdown, JSON, SVG chart) of a GGUF.",
  description:
    "Validates a GGUF (as model-validate) and writes its baseline: out_file.md (Markdown),\n" +
    "out_file.json (what model-check --baseline reads) and out_file.svg (norm RMS chart). The exit\n" +
    "code is the validation's: a baseline of a failing model is still written, marked FAILED.\n" +
    "See docs/baselines/README.md.",
  positionals: [
    { name: "model", label: "model.gguf", help: "the GGUF", required: true },
    { name: "tokenizer", label: "tokenizer.json", help: "its tokenizer", required: true },
    {
      name: "out_file",
      label: "out_file.md",
      help:
        "the Markdown file; .json and .svg go beside it\n(default <model stem>.baseline.md beside the GGUF)",
      writes: { kind: "file", besideOf: "model" },
      suffix: ".md",
    },
  ],
  options: {
    prompt: PROBE_OPTIONS.prompt,
    "max-tokens": PROBE_OPTIONS["max-tokens"],
    threads: PROBE_OPTIONS.threads,
    meta: {
      type: "string",
      value: "FILE",
      help: "the export's meta.json (default <stem>.meta.json beside the GGUF)",
    },
  },
  examples: [
    "model-baseline models/clean/clean-f16.gguf fixtures/tiny-bitnet/tokenizer.json",
    "model-baseline /data/gguf/clean-f16.gguf /data/ckpt/tokenizer.json /data/reports/f16.md",
  ],
  exitCodes: [3, 4, 8, 10, 11, 12, 13, 14, 15, 16],
  v8Flags: ENGINE_V8_FLAGS,
  strictMode: true,
} as const satisfies TaskSpec;
