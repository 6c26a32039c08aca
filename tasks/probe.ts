/**
 * `deno task model-probe <model.gguf> [prompt] [max_tokens]`: runs a GGUF on
 * the CPU and continues a prompt (greedy by default). Text on stdout (or
 * JSON with `--json`), timings on stderr. The tokenizer is the GGUF's own
 * unless `--tokenizer FILE` names one: a prompt that ends in ".json" is a
 * prompt. The command line is lib/cli/specs.ts.
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";
import { printJson, runTask, type TaskBody } from "../lib/cli/run.ts";
import type { ParsedArgs } from "../lib/cli/spec.ts";
import { PROBE_SPEC } from "../lib/cli/specs.ts";
import { runProbe } from "../lib/inference/probe.ts";
import type { SamplingOptions } from "../lib/inference/sampler.ts";

/** A finite number option. */
function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${flag} must be a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Comma- or space-separated non-negative integers. */
function idList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const ids = value.split(/[\s,]+/).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new UsageError(
      `--ids must be a list of token ids like 1,2,3, got ${JSON.stringify(value)}`,
    );
  }
  return ids;
}

/** Sampling settings from the options; the seed defaults to BITNET_SEED. */
function samplingOf(f: ParsedArgs<typeof PROBE_SPEC>["flags"], envSeed: number): SamplingOptions {
  const sampling: SamplingOptions = { seed: envSeed };
  const temperature = numberFlag(f.temperature, "temperature");
  const topP = numberFlag(f["top-p"], "top-p");
  const seed = numberFlag(f.seed, "seed");
  if (temperature !== undefined) sampling.temperature = temperature;
  if (f["top-k"] !== undefined) sampling.topK = f["top-k"];
  if (topP !== undefined) sampling.topP = topP;
  if (seed !== undefined) sampling.seed = seed;
  return sampling;
}

/** The task: generate, print the text (or JSON) on stdout and the timings on stderr. */
export const probeTask: TaskBody<typeof PROBE_SPEC> = async ({ flags: f, args }, ctx) => {
  const ids = idList(f.ids);
  const threads = f.threads ?? ctx.env.threads ?? undefined;
  const maxContext = f["max-context"];
  const r = await runProbe({
    modelPath: args.model,
    ...(f.tokenizer !== undefined ? { tokenizerPath: f.tokenizer } : {}),
    ...(ids !== undefined ? { ids } : { prompt: args.prompt ?? "" }),
    maxTokens: args.max_tokens,
    sampling: samplingOf(f, ctx.env.seed),
    topLogits: f["top-logits"],
    ignoreEos: f["ignore-eos"],
    ...(threads !== undefined ? { threads } : {}),
    ...(ctx.env.nativeKernels !== null ? { nativeKernels: ctx.env.nativeKernels } : {}),
    backend: f.backend,
    ...(maxContext !== undefined ? { maxContext } : {}),
    ...(f["f16-head"] ? { int8Head: false } : {}),
  });
  const t = r.timings;
  ctx.log(
    `backend ${r.backend}, ${r.threads} thread(s); load ${r.load_ms.toFixed(0)} ms; ` +
      `prompt ${r.prompt_ids.length} tokens in ${t.promptMs.toFixed(1)} ms ` +
      `(${t.promptTokensPerSec.toFixed(1)} tok/s); generated ${r.generated_ids.length} tokens ` +
      `in ${t.genMs.toFixed(1)} ms (${t.genTokensPerSec.toFixed(1)} tok/s); stop: ${r.stop_reason}`,
  );
  if (f.json) printJson(r);
  else if (r.text !== null) console.log((r.prompt ?? "") + r.text);
  else console.log(r.generated_ids.join(" "));
  return 0;
};

if (import.meta.main) await runTask(PROBE_SPEC, probeTask);
