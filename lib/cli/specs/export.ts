/**
 * `model-export`'s command line.
 *
 * @example
 * ```ts
 * import { EXPORT_SPEC } from "./export.ts";
 * EXPORT_SPEC.script; // "tasks/export_clean_gguf.ts"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import {
  CHECKPOINT_POSITIONALS,
  EXPORT_OPTIONS,
  HUB_MODE,
  HUB_NETWORK,
  HUB_OPTIONS,
} from "./shared.ts";

/** model-export. */
export const EXPORT_SPEC = {
  name: "model-export",
  script: "tasks/export_clean_gguf.ts",
  summary:
    "Export a HF checkpoint to a clean GGUF (+ .fingerprint, .meta.json, .gguf-hash). Default: the bundled fixture into models/clean.",
  description:
    "Turns a Hugging Face BitNet b1.58 or Llama checkpoint into a clean GGUF: <out_dir>/clean-<outtype>.gguf\n" +
    "with its .fingerprint, .meta.json and .gguf-hash. A .sig or .baseline.* left by an earlier export\n" +
    "that no longer matches is removed. Relative paths are taken from the current folder.",
  positionals: CHECKPOINT_POSITIONALS,
  modes: [HUB_MODE],
  options: { ...EXPORT_OPTIONS, ...HUB_OPTIONS },
  examples: [
    "model-export",
    "model-export ~/ckpt/bitnet-2b ~/ckpt/bitnet-2b/tokenizer.json /data/gguf",
    "model-export --hf-repo microsoft/bitnet-b1.58-2B-4T-bf16 /data/gguf --arch-name bitnet",
  ],
  exitCodes: [3, 4, 5, 6, 7, 8, 9, 20],
  network: HUB_NETWORK,
} as const satisfies TaskSpec;
