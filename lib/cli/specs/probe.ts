/**
 * `model-probe`'s command line. The tokenizer is a flag (`--tokenizer FILE`),
 * never guessed from a positional: a prompt may end in ".json".
 *
 * @example
 * ```ts
 * import { PROBE_SPEC } from "./probe.ts";
 * PROBE_SPEC.options.tokenizer.value; // "FILE"
 * ```
 * @module
 */

import type { TaskSpec } from "../spec.ts";
import { DEFAULT_MAX_TOKENS_TEXT, DEFAULT_PROMPT_TEXT, ENGINE_V8_FLAGS } from "./shared.ts";

/** The compute kernels the probe can run (lib/inference/backend.ts, BACKEND_NAMES). */
export const PROBE_BACKENDS = ["wasm", "reference"] as const;

const MODEL = {
  name: "model",
  label: "model.gguf",
  help: "the model",
  required: true,
} as const;
const MAX_TOKENS = {
  name: "max_tokens",
  label: "max_tokens",
  help: "tokens to generate",
  default: { text: DEFAULT_MAX_TOKENS_TEXT },
} as const;

/** model-probe. */
export const PROBE_SPEC = {
  name: "model-probe",
  script: "tasks/probe.ts",
  summary: "Run a GGUF on the CPU and continue a prompt (greedy by default).",
  description:
    "Runs a BitNet b1.58 or Llama GGUF on the CPU and prints the prompt and its continuation\n" +
    "(timings on stderr). The tokenizer is the GGUF's own unless --tokenizer names a tokenizer.json.",
  positionals: [
    MODEL,
    {
      name: "prompt",
      label: "prompt",
      help: "prompt text",
      default: { text: DEFAULT_PROMPT_TEXT },
    },
    MAX_TOKENS,
  ],
  modes: [{ when: "ids", positionals: [MODEL, MAX_TOKENS] }],
  options: {
    tokenizer: {
      type: "string",
      value: "FILE",
      help: "tokenizer.json (checked against the GGUF's vocabulary)",
    },
    ids: {
      type: "string",
      value: "1,2,3",
      help:
        "prompt token ids instead of text (then the positionals are\n<model.gguf> [max_tokens])",
    },
    "top-logits": {
      type: "string",
      value: "K",
      help: "top logits at the last prompt position in --json",
      default: { text: "10" },
    },
    temperature: { type: "string", value: "T", help: "0 = greedy (default); > 0 samples" },
    "top-k": { type: "string", value: "K", help: "sample among the K likeliest tokens" },
    "top-p": { type: "string", value: "P", help: "sample within the nucleus of probability P" },
    seed: { type: "string", value: "N", help: "sampling seed (default BITNET_SEED, else 42)" },
    "ignore-eos": { type: "boolean", help: "keep going past the end-of-text token" },
    threads: {
      type: "string",
      value: "N",
      help: "worker threads (default BITNET_THREADS, else all CPUs)",
    },
    backend: {
      type: "string",
      help: "compute kernels",
      choices: PROBE_BACKENDS,
      default: { text: "wasm" },
    },
    "max-context": {
      type: "string",
      value: "N",
      help: "KV cache positions (default prompt + max_tokens, at most the context length)",
    },
    "f16-head": {
      type: "boolean",
      help:
        "keep the F16 output matrix in memory instead of the exact int8 head\n(same ids and logits; more memory, slower greedy tokens;\nthe default when sampling with a temperature)",
    },
  },
  examples: [
    'model-probe models/clean/clean-f16.gguf "The capital of France is" 8',
    "model-probe models/clean/clean-i2_s.gguf --tokenizer fixtures/tiny-bitnet/tokenizer.json",
    "model-probe models/clean/clean-f16.gguf --ids 1,2,3 4 --json",
  ],
  exitCodes: [3, 4, 5, 6, 9, 16],
  v8Flags: ENGINE_V8_FLAGS,
  strictMode: true,
} as const satisfies TaskSpec;
