/**
 * `deno task model-probe <model.gguf> [tokenizer.json] [prompt] [max_tokens]`:
 * runs a GGUF on the CPU and continues a prompt (greedy by default). Text on
 * stdout (or JSON with `--json`), timings on stderr.
 *
 * @module
 */

import { UsageError } from "../lib/errors.ts";
import { choice, logLine, parseTaskArgs, positiveInt, runTask } from "../lib/cli/run.ts";
import { BACKEND_NAMES, DEFAULT_BACKEND } from "../lib/inference/backend.ts";
import { DEFAULT_PROMPT, runProbe } from "../lib/inference/probe.ts";
import type { SamplingOptions } from "../lib/inference/sampler.ts";

const HELP = `Usage: model-probe <model.gguf> [tokenizer.json] [prompt] [max_tokens] [flags]

Runs a BitNet b1.58 or Llama GGUF on the CPU and prints the continuation of the prompt.
  model.gguf       the model
  tokenizer.json   optional (recognised by its .json ending); default the GGUF's own tokenizer
  prompt           default "${DEFAULT_PROMPT}"
  max_tokens       default 8

Flags:
  --ids 1,2,3            prompt token ids instead of text (no tokenizer needed; then the
                         positionals are <model.gguf> [tokenizer.json] [max_tokens])
  --json                 print {prompt, prompt_ids, generated_ids, text, top_logits, ...} as JSON
  --top-logits K         top logits at the last prompt position in --json (default 10)
  --temperature T        0 = greedy (default); > 0 samples
  --top-k K              sample among the K likeliest tokens
  --top-p P              sample within the nucleus of probability P
  --seed N               sampling seed (default BITNET_SEED, else 42)
  --ignore-eos           keep going past the end-of-text token
  --threads N            worker threads (default BITNET_THREADS, else all CPUs)
  --backend wasm|reference   compute kernels (default ${DEFAULT_BACKEND})
  --max-context N        KV cache positions (default the model's context length)
  -h, --help             this text
`;

/** A finite number flag. */
function numberFlag(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${flag} must be a number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Comma- or space-separated non-negative integers. */
function idList(value: unknown): number[] | undefined {
  if (value === undefined) return undefined;
  const ids = String(value).split(/[\s,]+/).filter((s) => s !== "").map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 0)) {
    throw new UsageError(
      `--ids must be a list of token ids like 1,2,3, got ${JSON.stringify(value)}`,
    );
  }
  return ids;
}

if (import.meta.main) {
  await runTask(async () => {
    const { values: f, positionals } = parseTaskArgs(Deno.args, {
      ids: { type: "string" },
      json: { type: "boolean" },
      "top-logits": { type: "string" },
      temperature: { type: "string" },
      "top-k": { type: "string" },
      "top-p": { type: "string" },
      seed: { type: "string" },
      "ignore-eos": { type: "boolean" },
      threads: { type: "string" },
      backend: { type: "string" },
      "max-context": { type: "string" },
      help: { type: "boolean", short: "h" },
    });
    if (f.help) {
      console.log(HELP);
      return 0;
    }
    const [modelPath, ...rest] = positionals;
    if (!modelPath) throw new UsageError(`missing <model.gguf>\n\n${HELP}`);
    const tokenizerPath = rest[0]?.toLowerCase().endsWith(".json") ? rest.shift() : undefined;
    const ids = idList(f.ids);
    // With --ids there is no prompt text: the next positional is max_tokens.
    const [prompt, maxTokens, ...extra] = ids === undefined ? rest : [undefined, ...rest];
    if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(" ")}`);

    const sampling: SamplingOptions = {};
    const temperature = numberFlag(f.temperature, "temperature");
    const topP = numberFlag(f["top-p"], "top-p");
    const seed = numberFlag(f.seed, "seed");
    if (temperature !== undefined) sampling.temperature = temperature;
    if (f["top-k"] !== undefined) sampling.topK = positiveInt(f["top-k"], "--top-k", 0);
    if (topP !== undefined) sampling.topP = topP;
    if (seed !== undefined) sampling.seed = seed;
    const threads = f.threads === undefined ? undefined : positiveInt(f.threads, "--threads", 1);
    const maxContext = f["max-context"] === undefined
      ? undefined
      : positiveInt(f["max-context"], "--max-context", 1);

    const r = await runProbe({
      modelPath,
      ...(tokenizerPath !== undefined ? { tokenizerPath } : {}),
      ...(prompt !== undefined ? { prompt } : {}),
      ...(ids !== undefined ? { ids } : {}),
      maxTokens: positiveInt(maxTokens, "max_tokens", 8),
      sampling,
      topLogits: positiveInt(f["top-logits"], "--top-logits", 10),
      ignoreEos: f["ignore-eos"] === true,
      ...(threads !== undefined ? { threads } : {}),
      backend: choice(f.backend, "backend", BACKEND_NAMES, DEFAULT_BACKEND),
      ...(maxContext !== undefined ? { maxContext } : {}),
    });
    const t = r.timings;
    logLine(
      `backend ${r.backend}, ${r.threads} thread(s); load ${r.load_ms.toFixed(0)} ms; ` +
        `prompt ${r.prompt_ids.length} tokens in ${t.promptMs.toFixed(1)} ms ` +
        `(${
          t.promptTokensPerSec.toFixed(1)
        } tok/s); generated ${r.generated_ids.length} tokens in ` +
        `${t.genMs.toFixed(1)} ms (${t.genTokensPerSec.toFixed(1)} tok/s); stop: ${r.stop_reason}`,
    );
    if (f.json) console.log(JSON.stringify(r, null, 2));
    else if (r.text !== null) console.log((r.prompt ?? "") + r.text);
    else console.log(r.generated_ids.join(" "));
    return 0;
  });
}
