/**
 * Our engine timed the way `llama-bench` times a model, in a process of its
 * own (bench/peers_bench.ts starts one per round so that each side loads,
 * runs and exits alone): load once, a warm-up, then `--reps` repetitions of
 * - pp: from an empty cache, one forward pass over `--prompt` ids (logits of
 *   the last position only), tokens ÷ wall time;
 * - tg: from an empty cache, `--gen` forward passes of one id each,
 *   tokens ÷ wall time (no sampling: llama-bench samples nothing either).
 * Prints one JSON object on stdout.
 *
 *   deno run -A bench/engine_speed.ts FILE.gguf [--threads 2] [--prompt 64] [--gen 32] [--reps 2] [--head f16|int8]
 *
 * `--head int8` loads the exact int8 output head (`int8Head`, the engine's default: the F16
 * matrix stays in the file) and times tg with
 * `forwardTop(id, 1)` (pp with `forwardTop(ids, 1)`), what greedy generation runs (same
 * ids as the F16 head). With BITNET_NATIVE_KERNELS set, the engine loads that native kernel
 * library (lib/inference/kernels/native.ts), as the tasks do.
 *
 * @example
 * ```ts
 * import { measureEngineSpeed } from "./engine_speed.ts";
 * const r = await measureEngineSpeed("/work/models/bitnet-2b4t-synthetic-i2_s.gguf", {
 *   threads: 2, prompt: 64, gen: 32, reps: 1,
 * });
 * console.log(r.ppTps, r.tgTps);
 * ```
 * @module
 */

import { parseArgs } from "node:util";
import { openGguf } from "../lib/gguf/reader.ts";
import { InferenceEngine } from "../lib/inference/engine.ts";

/** What one process measures. */
export interface EngineSpeed {
  file: string;
  threads: number;
  backend: string;
  loadS: number;
  /** Prompt tokens/s, one per repetition. */
  ppTps: number[];
  /** Generation tokens/s, one per repetition. */
  tgTps: number[];
}

/** Options of {@link measureEngineSpeed}. */
export interface EngineSpeedOptions {
  threads: number;
  prompt: number;
  gen: number;
  reps: number;
  /** Output head of tg: "f16" (every logit, the default) or "int8" (exact greedy, int8 head). */
  head?: "f16" | "int8";
  /** A native kernel library (EngineOptions.nativeKernels). */
  native?: string;
}

/** Loads `file` and times pp and tg `reps` times each (after one short warm-up of each). */
export async function measureEngineSpeed(
  file: string,
  o: EngineSpeedOptions,
): Promise<EngineSpeed> {
  const g = await openGguf(file);
  try {
    const t0 = performance.now();
    const engine = await InferenceEngine.load(g, {
      threads: o.threads,
      maxContext: Math.max(o.prompt, o.gen) + 1,
      int8Head: o.head === "int8",
      ...(o.native ? { nativeKernels: o.native } : {}),
    });
    // With the int8 head, the greedy path (forwardTop): `forward` would stream every F16 row.
    const last = (ids: number[]) =>
      o.head === "int8" ? engine.forwardTop(ids, 1) : engine.forward(ids);
    const next = (id: number) => last([id]);
    const loadS = (performance.now() - t0) / 1000;
    try {
      const vocab = engine.hparams.vocabSize;
      const ids = Array.from(
        { length: Math.max(o.prompt, o.gen) },
        (_, i) => (i * 7919 + 13) % vocab,
      );
      const pp = () => {
        engine.reset();
        const t = performance.now();
        last(ids.slice(0, o.prompt));
        return (o.prompt * 1000) / (performance.now() - t);
      };
      const tg = () => {
        engine.reset();
        const t = performance.now();
        for (let i = 0; i < o.gen; i++) next(ids[i]!);
        return (o.gen * 1000) / (performance.now() - t);
      };
      // Warm-up (JIT, workers, first touch of every weight page), like llama-bench's.
      engine.reset();
      last(ids.slice(0, Math.min(8, o.prompt)));
      next(ids[0]!);
      const ppTps: number[] = [], tgTps: number[] = [];
      for (let r = 0; r < o.reps; r++) ppTps.push(pp());
      for (let r = 0; r < o.reps; r++) tgTps.push(tg());
      const backend = engine.backendName + (engine.int8Head ? "+int8-head" : "");
      return { file, threads: engine.threads, backend, loadS, ppTps, tgTps };
    } finally {
      engine.close();
    }
  } finally {
    g.close();
  }
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      threads: { type: "string" },
      prompt: { type: "string" },
      gen: { type: "string" },
      reps: { type: "string" },
      head: { type: "string" },
    },
    allowPositionals: true,
  });
  const file = positionals[0];
  if (!file) {
    console.error("usage: deno run -A bench/engine_speed.ts FILE.gguf [--threads N] ...");
    Deno.exit(2);
  }
  const r = await measureEngineSpeed(file, {
    threads: Number(values.threads ?? 2),
    prompt: Number(values.prompt ?? 64),
    gen: Number(values.gen ?? 32),
    reps: Number(values.reps ?? 2),
    head: values.head === "int8" ? "int8" : "f16",
    ...(Deno.env.get("BITNET_NATIVE_KERNELS")
      ? { native: Deno.env.get("BITNET_NATIVE_KERNELS")! }
      : {}),
  });
  console.log(JSON.stringify(r));
}
