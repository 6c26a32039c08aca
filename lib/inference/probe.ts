/**
 * The model probe behind `deno task model-probe`: open a GGUF, tokenize a
 * prompt (or take ids), generate, and report the continuation, the top
 * logits at the last prompt position and the timings.
 *
 * @example
 * ```ts
 * import { runProbe } from "./probe.ts";
 * const r = await runProbe({ modelPath: "models/clean/clean-f16.gguf", prompt: "The capital of France is", maxTokens: 8 });
 * console.log(r.text); // " Paris. The capital of ..."
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { readHparams } from "../arch/hparams.ts";
import { runContext } from "../arch/limits.ts";
import { type GgufFile, openGguf } from "../gguf/reader.ts";
import { Keys } from "../gguf/keys.ts";
import { TextTokenizer } from "../tokenizer/tokenizer.ts";
import type { BackendName } from "./backend.ts";
import { type GenerateTimings, InferenceEngine, type StopReason, topK } from "./engine.ts";
import { Sampler, type SamplingOptions } from "./sampler.ts";

/** What to probe and how. */
export interface ProbeOptions {
  modelPath: string;
  /** tokenizer.json; without it the GGUF's own tokenizer metadata is used. */
  tokenizerPath?: string;
  /** Prompt text (a BOS is prepended when the tokenizer says so). */
  prompt?: string;
  /** Prompt token ids instead of text (no tokenizer needed). */
  ids?: readonly number[];
  /** Default 8. */
  maxTokens?: number;
  sampling?: SamplingOptions;
  /** How many top logits to report (default 10). */
  topLogits?: number;
  /** Keep generating past the end-of-text token. */
  ignoreEos?: boolean;
  threads?: number;
  backend?: BackendName;
  /** A native kernel library for the engine (EngineOptions.nativeKernels). */
  nativeKernels?: string;
  /**
   * The exact int8 output head; false keeps the F16 matrix in memory. Default: on for greedy
   * runs of more than a few tokens (see `outputHeadFor`).
   */
  int8Head?: boolean;
  /** KV cache positions; default what the run needs (prompt + maxTokens), at most the context length. */
  maxContext?: number;
}

/** One entry of the top logits. */
export interface TopLogit {
  id: number;
  logit: number;
  /** The vocabulary string, when a tokenizer is available. */
  token: string | null;
}

/** What the probe found (snake_case: it is printed as JSON as is). */
export interface ProbeResult {
  prompt: string | null;
  prompt_ids: number[];
  generated_ids: number[];
  /** The decoded continuation (null without a tokenizer). */
  text: string | null;
  /** Top logits at the last prompt position. */
  top_logits: TopLogit[];
  stop_reason: StopReason;
  /**
   * How the output layer ran: "int8" (the exact int8 head), "f16" (the F16 matrix in memory)
   * or "f16-streamed" (the F16 matrix streamed from the file per token).
   */
  output_head: "int8" | "f16" | "f16-streamed";
  backend: string;
  threads: number;
  load_ms: number;
  timings: GenerateTimings;
}

/**
 * Runs this short stream the output matrix from the file once per token rather than build
 * the int8 copy (on 2B-4T the build costs about as much as ten such passes).
 */
const STREAMED_HEAD_MAX_TOKENS = 8;

/**
 * How the probe's engine keeps the output layer, unless the caller chose: sampling with a
 * temperature needs every logit at every step (the F16 matrix resident); a greedy run of a
 * few tokens streams the matrix from the file; a longer greedy run builds the int8 head.
 *
 * @example
 * ```ts
 * probeOutputHead({}, 1); // { int8Head: false, streamOutput: true }
 * probeOutputHead({}, 64); // { int8Head: true }
 * ```
 */
export function probeOutputHead(
  opts: Pick<ProbeOptions, "int8Head" | "sampling">,
  maxTokens: number,
): { int8Head: boolean; streamOutput?: boolean } {
  if (opts.int8Head !== undefined) return { int8Head: opts.int8Head };
  if (!new Sampler(opts.sampling).greedy) return { int8Head: false };
  if (maxTokens <= STREAMED_HEAD_MAX_TOKENS) return { int8Head: false, streamOutput: true };
  return { int8Head: true };
}

/** The default prompt: the fixture answers it with " Paris". */
export const DEFAULT_PROMPT = "The capital of France is";

/**
 * Runs the probe; every failure is one of lib/errors.ts's classes.
 *
 * @example
 * ```ts
 * const r = await runProbe({ modelPath: "model.gguf", ids: [2046, 463], maxTokens: 4 });
 * r.generated_ids.length; // 4 (fewer at end of text)
 * ```
 */
export async function runProbe(opts: ProbeOptions): Promise<ProbeResult> {
  const gguf = await openGguf(opts.modelPath);
  try {
    const tokenizer = await loadTokenizer(gguf, opts);
    const { prompt, promptIds } = promptOf(opts, tokenizer);
    const maxTokens = opts.maxTokens ?? 8;
    const t0 = performance.now();
    const engineOpts = {
      ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(opts.nativeKernels !== undefined ? { nativeKernels: opts.nativeKernels } : {}),
      ...probeOutputHead(opts, maxTokens),
      // The KV cache is sized for this run, never for the declared context length alone.
      maxContext: opts.maxContext ??
        runContext(readHparams(gguf).contextLength, promptIds.length + maxTokens),
    };
    const engine = await InferenceEngine.load(gguf, engineOpts);
    const loadMs = performance.now() - t0;
    try {
      const eos = tokenizer?.eosId ?? null;
      const out = engine.generate(promptIds, {
        maxTokens,
        ...(opts.sampling ? { sampling: opts.sampling } : {}),
        stopIds: eos !== null && !opts.ignoreEos ? [eos] : [],
        // Only the reported top logits: with the int8 head, no pass over every row.
        promptTop: Math.max(1, opts.topLogits ?? 10),
      });
      return {
        prompt,
        prompt_ids: [...promptIds],
        generated_ids: out.ids,
        text: tokenizer ? tokenizer.decode(out.ids) : null,
        top_logits: topK(out.promptLogits, opts.topLogits ?? 10).map(([id, logit]) => ({
          id,
          logit,
          token: tokenizer ? tokenizer.tokenString(id) : null,
        })),
        stop_reason: out.stopReason,
        output_head: engine.outputHead,
        backend: engine.backendName,
        threads: engine.threads,
        load_ms: loadMs,
        timings: out.timings,
      };
    } finally {
      engine.close();
    }
  } finally {
    gguf.close();
  }
}

/** The tokenizer from tokenizer.json or the GGUF; none when only ids are given and the GGUF has none. */
async function loadTokenizer(gguf: GgufFile, opts: ProbeOptions): Promise<TextTokenizer | null> {
  const hasOwn = gguf.kv(Keys.tokenizer.tokens) !== undefined;
  if (opts.tokenizerPath !== undefined) {
    // With both, the tokenizer checks that tokenizer.json and the GGUF agree.
    return await TextTokenizer.load({
      tokenizerJsonPath: opts.tokenizerPath,
      ...(hasOwn ? { gguf } : {}),
    });
  }
  if (hasOwn) return await TextTokenizer.load({ gguf });
  if (opts.ids !== undefined) return null;
  throw new UsageError(
    `${gguf.path} has no tokenizer metadata: give a tokenizer.json or prompt token ids (--ids)`,
  );
}

function promptOf(
  opts: ProbeOptions,
  tokenizer: TextTokenizer | null,
): { prompt: string | null; promptIds: readonly number[] } {
  if (opts.ids !== undefined) {
    if (opts.prompt !== undefined) throw new UsageError("give a prompt or --ids, not both");
    return { prompt: null, promptIds: opts.ids };
  }
  const prompt = opts.prompt ?? DEFAULT_PROMPT;
  const promptIds = tokenizer!.encode(prompt);
  if (promptIds.length === 0) throw new UsageError("the prompt is empty");
  return { prompt, promptIds };
}
