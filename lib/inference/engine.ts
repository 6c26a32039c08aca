/**
 * The CPU inference engine: loads a BitNet b1.58 or Llama GGUF into kernel
 * memory once (every tensor checked before anything is computed), then runs
 * prompts in batches and generates one token at a time over an f32 KV cache.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { InferenceEngine, topK } from "./engine.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const engine = await InferenceEngine.load(gguf);
 * const { ids, timings } = engine.generate([2046, 463, 275, 272, 941, 264], { maxTokens: 8 });
 * console.log(ids, timings.genTokensPerSec, topK(engine.forward([46]), 5));
 * engine.close();
 * gguf.close();
 * ```
 * @module
 */

import { UnsupportedError, UsageError } from "../errors.ts";
import type { GgufFile } from "../gguf/reader.ts";
import {
  type Backend,
  backendFor,
  type BackendName,
  DEFAULT_BACKEND,
  resolveThreads,
} from "./backend.ts";
import { forward, type LogitRows, type Model } from "./forward.ts";
import {
  buildInt8Head,
  exactTopLogits,
  type Int8Head,
  int8HeadBytes,
  int8HeadFits,
} from "./int8_head.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import type { Kernels } from "./kernels/api.ts";
import { RopeTable } from "./rope.ts";
import { logSumExp } from "./softmax.ts";
import { Sampler, type SamplingOptions, topKIds } from "./sampler.ts";
import { RunState, runStateBytes } from "./state.ts";
import { planTensors } from "./tensor_plan.ts";
import { loadWeights, type LoadWeightsOptions, weightBytes } from "./weights.ts";

export type { SamplingOptions } from "./sampler.ts";

/** Options of {@link InferenceEngine.load}. */
export interface EngineOptions {
  /** Worker threads; default BITNET_THREADS, else the number of logical CPUs. */
  threads?: number;
  /** Compute backend; default wasm (SIMD + worker threads); "reference" is plain TypeScript. */
  backend?: BackendName;
  /** KV cache positions; default the model's context length. */
  maxContext?: number;
  /** Prompt tokens per forward batch (matrix × matrix); default 64. */
  batchSize?: number;
  /** In-memory corrections (triage only): called with each norm tensor's f32 values after load. */
  transformNorm?: (name: string, values: Float32Array) => void;
  /** Sees the payload bytes of each weight matrix as they are loaded (see `LoadWeightsOptions`). */
  observe?: LoadWeightsOptions["observe"];
  /**
   * Also keep an int8 copy of an F16 output layer (vocab × hidden bytes: 328 MB on
   * 2B-4T) so that greedy generation and {@link InferenceEngine.forwardTop} score
   * it exactly at a fraction of the F16 cost (see int8_head.ts); default false.
   * Ignored when the output layer is not F16.
   */
  int8Head?: boolean;
}

/** Options of {@link InferenceEngine.generate}. */
export interface GenerateOptions {
  maxTokens: number;
  /** Default greedy. */
  sampling?: SamplingOptions;
  /** Generation stops before emitting any of these ids. */
  stopIds?: readonly number[];
}

/** Wall-clock timings of one generation. */
export interface GenerateTimings {
  promptMs: number;
  genMs: number;
  promptTokensPerSec: number;
  /** Tokens run through the model during generation, per second. */
  genTokensPerSec: number;
}

/** Why generation ended. */
export type StopReason = "max_tokens" | "stop_id" | "context_full";

/** What {@link InferenceEngine.generate} returns. */
export interface GenerateResult {
  /** Generated ids (prompt and stop id excluded). */
  ids: number[];
  /** Logits at the last prompt position. */
  promptLogits: Float32Array<ArrayBuffer>;
  timings: GenerateTimings;
  stopReason: StopReason;
}

const DEFAULT_BATCH = 64;
/** Positions per forward batch of {@link InferenceEngine.nll}: bounds the logit rows in memory. */
const NLL_BATCH = 32;

/**
 * A loaded model ready to run.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const engine = await InferenceEngine.load(gguf, { backend: "wasm", threads: 2 });
 * const logits = engine.forward([2046, 463, 275]);
 * engine.close();
 * ```
 */
export class InferenceEngine {
  readonly hparams: ModelHparams;
  /** The kernels' name ("reference", "wasm-simd", ...). */
  readonly backendName: string;
  readonly threads: number;
  /** KV cache positions. */
  readonly maxContext: number;
  /** Projections that held float master weights and were ternarized with absmean at load. */
  readonly ternarizedAtLoad: readonly string[];
  /** Whether greedy generation and `forwardTop` use the exact int8 head. */
  readonly int8Head: boolean;
  #model: Model;
  #state: RunState;
  #head: Int8Head | null;
  #closed = false;

  private constructor(model: Model, state: RunState, head: Int8Head | null) {
    this.#model = model;
    this.#state = state;
    this.#head = head;
    this.int8Head = head !== null;
    this.hparams = model.hparams;
    this.backendName = model.kernels.name;
    this.threads = model.kernels.threads;
    this.maxContext = state.maxContext;
    this.ternarizedAtLoad = model.weights.ternarizedAtLoad;
  }

  /**
   * Checks every tensor's presence, shape and type (ModelShapeError,
   * UnsupportedError), sizes kernel memory once for weights, KV cache and
   * scratch, then loads the weights.
   */
  static async load(gguf: GgufFile, opts: EngineOptions = {}): Promise<InferenceEngine> {
    const hparams = readHparams(gguf);
    const plan = planTensors(gguf, hparams);
    const backend = backendFor(opts.backend ?? DEFAULT_BACKEND);
    checkWidths(hparams, backend, gguf.path);
    const threads = resolveThreads(opts.threads);
    const maxContext = positiveInt(opts.maxContext ?? hparams.contextLength, "maxContext");
    const batch = Math.min(positiveInt(opts.batchSize ?? DEFAULT_BATCH, "batchSize"), maxContext);
    const size = { maxContext, batch };
    const weightsSize = weightBytes(plan, backend.ternaryBytes);
    const stateSize = runStateBytes(hparams, size);
    const headSize = opts.int8Head ? int8HeadBytes(hparams.vocabSize, hparams.nEmbd) : 0;
    const bytes = backend.reservedBytes + weightsSize + stateSize + headSize;
    if (bytes > backend.maxBytes) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
      throw new UnsupportedError(
        `${gguf.path}: needs ${gib(bytes)} of kernel memory (weights ${gib(weightsSize)}, ` +
          `KV cache and scratch for ${maxContext} positions ${gib(stateSize)}), more than the ` +
          `${backend.name} backend's ${gib(backend.maxBytes)}: lower maxContext (--max-context)`,
      );
    }
    const kernels: Kernels = await backend.create(bytes, threads);
    try {
      const loadOpts: LoadWeightsOptions = {
        ...(opts.transformNorm ? { transformNorm: opts.transformNorm } : {}),
        ...(opts.observe ? { observe: opts.observe } : {}),
      };
      const weights = await loadWeights(gguf, hparams, plan, kernels, loadOpts);
      const state = new RunState(kernels, hparams, size);
      const rope = new RopeTable({
        dim: hparams.ropeDim,
        base: hparams.ropeTheta,
        maxPositions: maxContext,
        mode: hparams.family === "bitnet" ? "neox" : "normal",
      });
      const head = opts.int8Head && int8HeadFits(weights.output)
        ? buildInt8Head(kernels, weights.output)
        : null;
      return new InferenceEngine({ hparams, weights, kernels, rope }, state, head);
    } catch (e) {
      kernels.close();
      throw e;
    }
  }

  /** Tokens currently in the KV cache. */
  get position(): number {
    return this.#state.pos;
  }

  /** Clears the KV cache. */
  reset(): void {
    this.#state.pos = 0;
  }

  /**
   * Appends `ids` at the current position (in batches) and returns the logits
   * of the last one (a copy).
   */
  forward(ids: readonly number[]): Float32Array<ArrayBuffer> {
    return new Float32Array(this.#forwardLast(ids));
  }

  /**
   * Like `forward`, but only the logits that may be among the best `k` are
   * computed (the others are −Infinity): `topK(forwardTop(ids, k), k)` equals
   * `topK(forward(ids), k)` exactly. Faster with the int8 head (`int8Head`
   * option); without it, the same as `forward`.
   */
  forwardTop(ids: readonly number[], k: number): Float32Array<ArrayBuffer> {
    return new Float32Array(this.#forwardLast(ids, k));
  }

  /** From an empty cache, the logits at every position, `[ids.length × vocab]` row-major. */
  forwardAll(ids: readonly number[]): Float32Array<ArrayBuffer> {
    const vocab = this.hparams.vocabSize;
    const out = new Float32Array(ids.length * vocab);
    this.reset();
    this.#forwardChunks(ids, (row, logits) => out.set(logits, row * vocab));
    return out;
  }

  /**
   * Mean negative log-likelihood of `ids[i+1]` given `ids[0..i]`, teacher
   * forced from an empty cache, in nats per token.
   */
  nll(ids: readonly number[]): { meanNll: number; tokens: number } {
    if (ids.length < 2) throw new UsageError(`nll needs at least 2 tokens, got ${ids.length}`);
    let sum = 0;
    this.reset();
    // Smaller batches than the prompt's: every row of a batch writes a full row of logits
    // (0.5 MB at a 128k vocabulary), and only their sums are kept.
    const rows = Math.min(this.#state.batch, NLL_BATCH);
    this.#forwardChunks(ids, (row, logits) => {
      if (row + 1 < ids.length) sum += logSumExp(logits) - logits[ids[row + 1]!]!;
    }, rows);
    return { meanNll: sum / (ids.length - 1), tokens: ids.length - 1 };
  }

  /**
   * From an empty cache: runs the prompt, then chooses up to `maxTokens` ids
   * (greedy unless `sampling` says otherwise), feeding each back one at a time.
   */
  generate(promptIds: readonly number[], opts: GenerateOptions): GenerateResult {
    if (!Number.isSafeInteger(opts.maxTokens) || opts.maxTokens < 0) {
      throw new UsageError(`maxTokens must be a non-negative integer, got ${opts.maxTokens}`);
    }
    const sampler = new Sampler(opts.sampling);
    const stop = new Set(opts.stopIds ?? []);
    this.reset();
    const t0 = performance.now();
    let logits = this.#forwardLast(promptIds);
    const promptLogits = new Float32Array(logits);
    const t1 = performance.now();
    const ids: number[] = [];
    let stopReason: StopReason = "max_tokens";
    let fed = 0;
    while (ids.length < opts.maxTokens) {
      const next = sampler.sample(logits);
      if (stop.has(next)) {
        stopReason = "stop_id";
        break;
      }
      ids.push(next);
      if (ids.length === opts.maxTokens) break;
      if (this.#state.pos >= this.maxContext) {
        stopReason = "context_full";
        break;
      }
      logits = this.#forwardLast([next], sampler.greedy ? 1 : undefined);
      fed++;
    }
    const t2 = performance.now();
    const promptMs = t1 - t0, genMs = t2 - t1;
    return {
      ids,
      promptLogits,
      stopReason,
      timings: {
        promptMs,
        genMs,
        promptTokensPerSec: promptMs > 0 ? (promptIds.length * 1000) / promptMs : 0,
        genTokensPerSec: genMs > 0 && fed > 0 ? (fed * 1000) / genMs : 0,
      },
    };
  }

  /** Frees the kernels (and stops their worker threads). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#model.kernels.close();
  }

  /**
   * Runs `ids` in batches; returns a view of the last position's logits (valid until the
   * next run). With `top` and the int8 head, only the rows that may be among the best
   * `top` hold logits (exactly the F16 head's), the others −Infinity.
   */
  #forwardLast(ids: readonly number[], top?: number): Float32Array {
    this.#check(ids);
    const { batch } = this.#state, head = top === undefined ? null : this.#head;
    for (let start = 0; start < ids.length; start += batch) {
      const end = Math.min(start + batch, ids.length);
      const last: LogitRows = head ? "normed" : "last";
      forward(this.#model, this.#state, ids.slice(start, end), end === ids.length ? last : "none");
    }
    if (
      head && !exactTopLogits(this.#model.kernels, head, this.#state.xb, top!, this.#state.logits)
    ) {
      const k = this.#model.kernels, w = this.#model.weights.output; // non-finite input: full head
      k.matmulF16(w.ptr, this.#state.xb, this.#state.logits, w.rows, w.cols, 1);
    }
    return this.#logitRow(0);
  }

  /** Runs `ids` in batches, handing each position's logits (a view) to `onRow`. */
  #forwardChunks(
    ids: readonly number[],
    onRow: (row: number, logits: Float32Array) => void,
    batch = this.#state.batch,
  ): void {
    this.#check(ids);
    for (let start = 0; start < ids.length; start += batch) {
      const end = Math.min(start + batch, ids.length);
      forward(this.#model, this.#state, ids.slice(start, end), "all");
      for (let r = 0; r < end - start; r++) onRow(start + r, this.#logitRow(r));
    }
  }

  #logitRow(r: number): Float32Array {
    const vocab = this.hparams.vocabSize;
    return this.#model.kernels.f32(this.#state.logits + r * vocab * 4, vocab);
  }

  /** Token ids in range and room in the cache, before anything is computed. */
  #check(ids: readonly number[]): void {
    if (this.#closed) throw new UsageError("the inference engine is closed");
    if (ids.length === 0) throw new UsageError("no token ids to run");
    const vocab = this.hparams.vocabSize;
    for (const [i, id] of ids.entries()) {
      if (!Number.isSafeInteger(id) || id < 0 || id >= vocab) {
        throw new UsageError(
          `token id ${id} at index ${i} is outside the vocabulary [0, ${vocab})`,
        );
      }
    }
    if (this.#state.pos + ids.length > this.maxContext) {
      throw new UsageError(
        `context full: ${this.#state.pos} cached + ${ids.length} new tokens > ${this.maxContext} positions`,
      );
    }
  }
}

/**
 * The `k` largest logits as [id, logit] pairs, largest first (lower id first on ties).
 *
 * @example
 * ```ts
 * topK(new Float32Array([0.5, 2, 1]), 2); // [[1, 2], [2, 1]]
 * ```
 */
export function topK(logits: Float32Array, k: number): Array<[number, number]> {
  return topKIds(logits, k).map((id) => [id, logits[id]!]);
}

/** Every matrix width must suit the backend's kernels (BitNet/Llama widths are multiples of 256). */
function checkWidths(hp: ModelHparams, backend: Backend, path: string): void {
  const { float, ternary } = backend.colsMultiple;
  const multiple = hp.bitlinear.length > 0 ? Math.max(float, ternary) : float;
  const widths = {
    embedding_length: hp.nEmbd,
    "head_count·head_dim": hp.nHead * hp.headDim,
    feed_forward_length: hp.nFf,
  };
  for (const [name, width] of Object.entries(widths)) {
    if (width % multiple !== 0) {
      throw new UnsupportedError(
        `${path}: ${name} ${width} is not a multiple of ${multiple}, which the ${backend.name} backend needs (try backend "reference")`,
      );
    }
  }
}

function positiveInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new UsageError(`${what} must be a positive integer, got ${v}`);
  }
  return v;
}
