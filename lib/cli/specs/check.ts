/**
 * `model-check`'s command line.
 *
 * @example
 * ```ts
 * import { CHECK_SPEC } from "./check.ts";
 * CHECK_SPEC.options["out-dir"].writes.kind; // "dir"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import {
  DEFAULT_MAX_TOKENS_TEXT,
  DEFAULT_PROMPT_TEXT,
  ENGINE_V8_FLAGS,
  EXPORT_OPTIONS,
  PROBE_OPTIONS,
} from "./shared.ts";

/** model-check. */
export const CHECK_SPEC = {
  name: "model-check",
  script: "tasks/check.ts",
  summary:
    "Export, validate and baseline; with --baseline FILE compare against an earlier baseline.",
  description:
    "Exports the checkpoint (model-export), validates the GGUF (model-validate) and writes its\n" +
    "baseline (model-baseline) beside it: <out_dir>/clean-<type>.baseline.md/.json/.svg. The exit\n" +
    "code is the first failure's: strict mode (16), the export (3-9), the validation (10-15), then\n" +
    "18 when the model departs from the earlier baseline (each difference is listed).",
  positionals: [
    {
      name: "model_dir",
      label: "model_dir",
      help: "Hugging Face checkpoint folder",
      required: true,
    },
    { name: "tokenizer", label: "tokenizer.json", help: "its tokenizer", required: true },
  ],
  options: {
    "out-dir": {
      type: "string",
      value: "DIR",
      help: "where the GGUF and its baseline go",
      default: { output: "models/clean" },
      writes: { kind: "dir" },
    },
    baseline: {
      type: "string",
      value: "FILE",
      help: "compare with this earlier baseline JSON; exit 18 on any difference beyond\n" +
        "the tolerances (docs/baselines/README.md). If FILE is the baseline this run\n" +
        "would write and they differ, FILE is kept.",
    },
    outtype: EXPORT_OPTIONS.outtype,
    prompt: {
      type: "string",
      value: "TEXT",
      help: `probe prompt (default: the earlier baseline's, else "${DEFAULT_PROMPT_TEXT}")`,
    },
    "max-tokens": {
      type: "string",
      value: "N",
      help: `tokens to generate (default: the earlier baseline's, else ${DEFAULT_MAX_TOKENS_TEXT})`,
    },
    threads: PROBE_OPTIONS.threads,
  },
  examples: [
    "model-check fixtures/tiny-bitnet fixtures/tiny-bitnet/tokenizer.json",
    "model-check ~/ckpt ~/ckpt/tokenizer.json --out-dir /data/gguf --baseline /data/ref.json",
  ],
  exitCodes: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18],
  v8Flags: ENGINE_V8_FLAGS,
  strictMode: true,
} as const satisfies TaskSpec;
