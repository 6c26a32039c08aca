/**
 * `model-clean`'s command line: the export's, plus the validation's.
 *
 * @example
 * ```ts
 * import { CLEAN_SPEC } from "./clean.ts";
 * "outtype" in CLEAN_SPEC.options; // true
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import {
  CHECKPOINT_POSITIONALS,
  ENGINE_V8_FLAGS,
  EXPORT_OPTIONS,
  HUB_MODE,
  HUB_NETWORK,
  HUB_OPTIONS,
  PROBE_OPTIONS,
} from "./shared.ts";

/** model-clean. */
export const CLEAN_SPEC = {
  name: "model-clean",
  script: "tasks/clean.ts",
  summary:
    "Export then validate in one command; exit code of the first failure. Default: the bundled fixture.",
  description:
    "Exports a Hugging Face checkpoint to a clean GGUF (as model-export, with the same flags), then\n" +
    "validates it (as model-validate). The exit code is the first failure's: strict mode (16) before\n" +
    "anything is written, then the export's (3-9), then the validation's (0, 10-15).",
  positionals: CHECKPOINT_POSITIONALS,
  modes: [HUB_MODE],
  options: {
    ...EXPORT_OPTIONS,
    ...HUB_OPTIONS,
    ...PROBE_OPTIONS,
    report: {
      type: "string",
      value: "FILE",
      help: "also write the validation report (JSON) to FILE",
      writes: { kind: "file" },
    },
  },
  examples: [
    "model-clean",
    'model-clean ~/ckpt/bitnet-2b "" /data/gguf --report /data/gguf/report.json --arch-name bitnet',
  ],
  exitCodes: [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20],
  v8Flags: ENGINE_V8_FLAGS,
  strictMode: true,
  network: HUB_NETWORK,
} as const satisfies TaskSpec;
