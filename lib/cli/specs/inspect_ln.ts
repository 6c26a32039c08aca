/**
 * `model-inspect-ln`'s command line.
 *
 * @example
 * ```ts
 * import { INSPECT_LN_SPEC } from "./inspect_ln.ts";
 * INSPECT_LN_SPEC.positionals[0].label; // "model.gguf"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";

/** model-inspect-ln. */
export const INSPECT_LN_SPEC = {
  name: "model-inspect-ln",
  script: "tasks/inspect_ln.ts",
  summary: "Print every norm tensor's statistics as a table.",
  description:
    "Prints every norm tensor's statistics (type, count, RMS, min, max, mean, distinct values,\n" +
    "envelope, RMS recorded in meta.json, verdict): the numbers gate 1 of model-validate judges.",
  positionals: [
    { name: "model", label: "model.gguf", help: "the GGUF to inspect", required: true },
  ],
  options: {
    meta: {
      type: "string",
      value: "FILE",
      help: "the export's meta.json (default <model>.meta.json beside the GGUF)",
    },
    "no-meta": { type: "boolean", help: "do not compare with a meta.json" },
    rules: { type: "string", value: "FILE", help: "JSON rules overriding the built-in envelopes" },
  },
  examples: ["model-inspect-ln models/clean/clean-f16.gguf --json"],
  exitCodes: [10, 11, 12, 16],
  strictMode: true,
} as const satisfies TaskSpec;
