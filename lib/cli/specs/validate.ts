/**
 * `model-validate`'s command line.
 *
 * @example
 * ```ts
 * import { VALIDATE_SPEC } from "./validate.ts";
 * VALIDATE_SPEC.options.report.writes.kind; // "file"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import { ENGINE_V8_FLAGS, PROBE_OPTIONS } from "./shared.ts";

/** model-validate. */
export const VALIDATE_SPEC = {
  name: "model-validate",
  script: "tasks/validate_gguf.ts",
  summary: "Validate a GGUF: norm, projection and linguistic gates; exit codes 0/10-16.",
  description:
    "Checks a GGUF without changing it: norm tensors (gate 1), projections and model loading\n" +
    "(gate 2), a greedy linguistic probe (gate 3). BITNET_STRICT_MODE=1 refuses the correction\n" +
    "variables (exit 16); BITNET_DETERMINISTIC, BITNET_SEED and BITNET_THREADS are recorded.",
  positionals: [
    { name: "model", label: "model.gguf", help: "the GGUF to check", required: true },
    {
      name: "tokenizer",
      label: "tokenizer.json",
      help: "tokenizer (default: the GGUF's own tokenizer metadata)",
    },
  ],
  options: {
    report: {
      type: "string",
      value: "FILE",
      help: "also write the JSON report to FILE",
      writes: { kind: "file" },
    },
    meta: {
      type: "string",
      value: "FILE",
      help: "the export's meta.json (default <model>.meta.json beside the GGUF)",
    },
    "no-meta": { type: "boolean", help: "do not compare norms with a meta.json" },
    rules: {
      type: "string",
      value: "FILE",
      help: "JSON rules overriding the built-in envelopes and thresholds",
    },
    ...PROBE_OPTIONS,
    against: {
      type: "string",
      value: "REF.gguf",
      help: "also compare the outputs with a reference model (the float source of a\n" +
        "quantized file): top-1 agreement, mean KL, passage NLL (exit 13 or 15)",
    },
    "no-probe": { type: "boolean", help: "skip gate 3 (no inference)" },
  },
  examples: [
    "model-validate models/clean/clean-f16.gguf",
    "model-validate /data/gguf/clean-i2_s.gguf --against /data/gguf/clean-f16.gguf --report r.json",
  ],
  exitCodes: [3, 8, 10, 11, 12, 13, 14, 15, 16],
  v8Flags: ENGINE_V8_FLAGS,
  // No up-front refusal: the report itself records strict mode's refusal (gate "strict", exit 16).
} as const satisfies TaskSpec;
