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
import { type Backend, backendFor, type BackendName, resolveThreads } from "./backend.ts";
import { forward, type Model, outputLayer } from "./forward.ts";
import { int8HeadCopyBytes, int8HeadFits } from "./int8_head.ts";
import { StreamedHead, streamedHeadBytes } from "./output_head.ts";
import { type ModelHparams, readHparams } from "../arch/hparams.ts";
import type { Kernels } from "./kernels/api.ts";
import { RopeTable } from "./rope.ts";
import { Sampler, type SamplingOptions, topKIds } from "./sampler.ts";
import { RunState, runStateBytes } from "./state.ts";
import {
  loadWeights,
  type LoadWeightsOptions,
  type ModelWeights,
  type PlannedTensor,
  planTensors,
  weightBytes,
} from "./weights.ts";

export type { SamplingOptions } from "./sampler.ts";

/** Options of {@link InferenceEngine.load}. */
export interface EngineOptions {
  /** Worker threads; default BITNET_THREADS, else the number of logical CPUs. */
  threads?: number;
  /** Compute backend; default wasm (SIMD + worker threads); "reference" is plain TypeScript. */
  backend?: BackendName;
  /**
   * A native kernel library (kernels/native.ts; the tasks pass BITNET_NATIVE_KERNELS) for
   * the ternary products, the int8 head's screening and the F16 products: the same results; wasm
   * backend only, and the process needs `--allow-ffi` for that file.
   */
  nativeKernels?: string;
  /** KV cache positions; default the model's context length. */
  maxContext?: number;
  /** Prompt tokens per forward batch (matrix × matrix); default 64. */
  batchSize?: number;
  /** In-memory corrections (triage only): called with each norm tensor's f32 values after load. */
  transformNorm?: (name: string, values: Float32Array) => void;
  /** Sees the payload bytes of each weight matrix as they are loaded (see `LoadWeightsOptions`). */
  observe?: LoadWeightsOptions["observe"];
  /**
   * The exact int8 output head (default true; F16 output layers whose width is a multiple of
   * 16): greedy generation and {@link InferenceEngine.forwardTop} get exactly the F16 head's
   * ids and logits at a fraction of the cost, the F16 matrix stays in its file and every
   * other logit streams it per call (output_head.ts); false keeps the F16 matrix in memory.
   */
  int8Head?: boolean;
  /**
   * Keep the F16 output matrix in its file even without the int8 head (default: as
   * `int8Head`): every logit is then streamed from the file per call, nothing is built or
   * held at load. For runs that score only a few positions (a one-token probe), where
   * streaming the matrix once costs less than building the int8 copy or loading the matrix.
   */
  streamOutput?: boolean;
}

/** Options of {@link InferenceEngine.generate}. */
export interface GenerateOptions {
  maxTokens: number;
  /** Default greedy. */
  sampling?: SamplingOptions;
  /** Generation stops before emitting any of these ids. */
  stopIds?: readonly number[];
  /**
   * With greedy sampling, only the best `promptTop` prompt logits are needed: with the
   * int8 head, `promptLogits` then holds exactly those (the F16 head's) and −Infinity
   * elsewhere, which spares streaming every row of the output matrix. Default: every logit.
   */
  promptTop?: number;
}

/** Options of {@link InferenceEngine.nll}. */
export interface NllOptions {
  /**
   * Keep what a following `generate` needs to continue from the prefix `ids[0..promptLength)`
   * without running it again: the KV cache, and the output-normed hidden states of positions
   * `promptLength − 1` … `promptLength + maxTokens − 2` (those inside `ids`). That `generate`,
   * if its prompt is exactly this prefix, then runs only the output layer for its prompt, and
   * for each id it chooses that is also the next id of `ids` (a real model's continuation of a
   * passage's first words is often the passage). Same results: a position's hidden state is
   * the same bits whatever batch computed it, and the output layer runs as without.
   */
  keep?: { promptLength: number; maxTokens: number };
}

/** What an `nll` run with `keep` left for `generate` (see {@link NllOptions}). */
interface KeptRun {
  /** The ids whose keys and values are in the cache, from position 0. */
  readonly ids: readonly number[];
  /** Output-normed hidden states (nEmbd floats) by position. */
  readonly normed: ReadonlyMap<number, Float32Array>;
}

/** Wall-clock timings of one generation. */
export interface GenerateTimings {
  promptMs: number;
  genMs: number;
  promptTokensPerSec: number;
  /**
   * Ids fed back during generation per second (run through the model, or taken from a kept
   * `nll` run: see {@link NllOptions}).
   */
  genTokensPerSec: number;
}

/** Why generation ended. */
export type StopReason = "max_tokens" | "stop_id" | "context_full";

/** What {@link InferenceEngine.generate} returns. */
export interface GenerateResult {
  /** Generated ids (prompt and stop id excluded). */
  ids: number[];
  /** Logits at the last prompt position (only the best `promptTop`, if asked so). */
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
  /** How the output layer runs: the int8 head, the F16 matrix resident, or streamed. */
  readonly outputHead: "int8" | "f16" | "f16-streamed";
  #model: Model;
  #state: RunState;
  /** The streamed output layer with its int8 head; null when the F16 matrix is resident. */
  #head: StreamedHead | null;
  /** Left by `nll` with `keep` for the next `generate`; any other run drops it. */
  #kept: KeptRun | null = null;
  #closed = false;

  private constructor(model: Model, state: RunState, head: StreamedHead | null) {
    this.#model = model;
    this.#state = state;
    this.#head = head;
    this.outputHead = head?.int8 ? "int8" : head ? "f16-streamed" : "f16";
    this.hparams = model.hparams;
    this.backendName = model.kernels.name;
    this.threads = model.kernels.threads;
    this.maxContext = state.maxContext;
    this.ternarizedAtLoad = model.weights.ternarizedAtLoad;
  }

  /** Whether greedy generation and `forwardTop` use the exact int8 head. */
  get int8Head(): boolean {
    return this.outputHead === "int8";
  }

  /**
   * Checks every tensor's presence, shape and type (ModelShapeError,
   * UnsupportedError), sizes kernel memory once for weights, KV cache and
   * scratch, then loads the weights.
   */
  static async load(gguf: GgufFile, opts: EngineOptions = {}): Promise<InferenceEngine> {
    const hparams = readHparams(gguf);
    const plan = planTensors(gguf, hparams);
    const backend = backendFor(opts.backend);
    checkWidths(hparams, backend, gguf.path);
    const threads = resolveThreads(opts.threads);
    const maxContext = positiveInt(opts.maxContext ?? hparams.contextLength, "maxContext");
    const batch = Math.min(positiveInt(opts.batchSize ?? DEFAULT_BATCH, "batchSize"), maxContext);
    const size = { maxContext, batch };
    const int8 = opts.int8Head ?? true;
    const streamed = streamedOutput(plan, hparams, opts.streamOutput ?? int8);
    const resident = streamed ? plan.filter((t) => t !== streamed) : plan;
    const weightsSize = weightBytes(resident, backend.ternaryBytes);
    const stateSize = runStateBytes(hparams, size);
    const headSize = streamed
      ? streamedHeadBytes(hparams.vocabSize, hparams.nEmbd, batch, int8)
      : 0;
    const bytes = backend.reservedBytes + weightsSize + stateSize + headSize;
    if (bytes > backend.maxBytes) {
      const gib = (n: number) => `${(n / 2 ** 30).toFixed(2)} GiB`;
      throw new UnsupportedError(
        `${gguf.path}: needs ${gib(bytes)} of kernel memory (weights ${gib(weightsSize)}, ` +
          `KV cache and scratch for ${maxContext} positions ${gib(stateSize)}), more than the ` +
          `${backend.name} backend's ${gib(backend.maxBytes)}: lower maxContext (--max-context)`,
      );
    }
    const kernels: Kernels = await backend.create(bytes, threads, opts.nativeKernels);
    let head: StreamedHead | null = null;
    try {
      const { transformNorm, observe } = opts, notResident = streamed?.name;
      // The int8 copy is built while the other weights load: its kernel work fills the
      // loader's waits for the file and the other way round.
      const [loaded, built] = await Promise.allSettled([
        loadWeights(gguf, hparams, plan, kernels, { transformNorm, observe, notResident }),
        streamed
          ? StreamedHead.load(kernels, gguf, streamed.info, {
            batch,
            int8,
            sink: opts.observe?.(streamed.info),
          })
          : null,
      ]);
      if (built.status === "fulfilled") head = built.value;
      if (loaded.status === "rejected") throw loaded.reason;
      if (built.status === "rejected") throw built.reason;
      let weights: ModelWeights = loaded.value;
      if (head && hparams.tied) weights = { ...weights, tokenEmbdRows: head.file };
      const state = new RunState(kernels, hparams, size);
      const rope = new RopeTable({
        dim: hparams.ropeDim,
        base: hparams.ropeTheta,
        maxPositions: maxContext,
        mode: hparams.family === "bitnet" ? "neox" : "normal",
      });
      return new InferenceEngine({ hparams, weights, kernels, rope }, state, head);
    } catch (e) {
      head?.close();
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
    this.#kept = null;
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
  nll(ids: readonly number[], opts: NllOptions = {}): { meanNll: number; tokens: number } {
    if (ids.length < 2) throw new UsageError(`nll needs at least 2 tokens, got ${ids.length}`);
    const keep = opts.keep;
    if (keep) {
      positiveInt(keep.promptLength, "keep.promptLength");
      nonNegativeInt(keep.maxTokens, "keep.maxTokens");
    }
    const from = keep ? keep.promptLength - 1 : ids.length;
    const to = keep ? Math.min(ids.length, from + Math.max(1, keep.maxTokens)) : ids.length;
    const normed = new Map<number, Float32Array>();
    const width = this.hparams.nEmbd, { xb } = this.#state;
    let sum = 0;
    this.reset();
    // Smaller batches than the prompt's: every row of a batch writes a full row of logits
    // (0.5 MB at a 128k vocabulary), and only their sums are kept.
    const rows = Math.min(this.#state.batch, NLL_BATCH);
    const { kernels } = this.#model, { logits: all, logSumExps } = this.#state;
    const lse = new Float64Array(kernels.buffer, logSumExps, rows);
    // Each batch's log Σ exp over the threads, row by row as logSumExp computes it alone.
    const onBatch = (n: number) =>
      kernels.logSumExpRows(all, logSumExps, n, this.hparams.vocabSize);
    this.#forwardChunks(
      ids,
      (row, logits, r) => {
        if (row >= from && row < to) {
          normed.set(row, kernels.f32(xb + r * width * 4, width).slice());
        }
        if (row + 1 < ids.length) sum += lse[r]! - logits[ids[row + 1]!]!;
      },
      rows,
      onBatch,
    );
    if (normed.size > 0) this.#kept = { ids: [...ids], normed };
    return { meanNll: sum / (ids.length - 1), tokens: ids.length - 1 };
  }

  /**
   * From an empty cache: runs the prompt, then chooses up to `maxTokens` ids
   * (greedy unless `sampling` says otherwise), feeding each back one at a time.
   * Right after an `nll` run with `keep` whose prefix is this prompt, continues
   * from that run instead (same results, see {@link NllOptions}).
   */
  generate(promptIds: readonly number[], opts: GenerateOptions): GenerateResult {
    nonNegativeInt(opts.maxTokens, "maxTokens");
    const sampler = new Sampler(opts.sampling);
    const stop = new Set(opts.stopIds ?? []);
    let kept = this.#continuing(promptIds);
    if (!kept) this.reset();
    const t0 = performance.now();
    if (opts.promptTop !== undefined) positiveInt(opts.promptTop, "promptTop");
    const promptTop = sampler.greedy ? opts.promptTop : undefined;
    let logits = kept
      ? this.#outputRow(kept.normed.get(promptIds.length - 1)!, promptTop)
      : this.#forwardLast(promptIds, promptTop);
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
      // The kept run already holds this position when it fed the same id there.
      const pos = this.#state.pos, row = kept?.ids[pos] === next ? kept.normed.get(pos) : undefined;
      if (row) {
        this.#state.pos = pos + 1;
        logits = this.#outputRow(row, sampler.greedy ? 1 : undefined);
      } else {
        kept = null;
        logits = this.#forwardLast([next], sampler.greedy ? 1 : undefined);
      }
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
    this.#head?.close();
    this.#model.kernels.close();
  }

  /**
   * Runs `ids` in batches; returns a view of the last position's logits (valid until the
   * next run). With `top` and the int8 head, only the rows that may be among the best
   * `top` hold logits (exactly the F16 head's), the others −Infinity.
   */
  #forwardLast(ids: readonly number[], top?: number): Float32Array {
    this.#check(ids);
    const { batch } = this.#state;
    for (let start = 0; start < ids.length; start += batch) {
      const end = Math.min(start + batch, ids.length);
      forward(
        this.#model,
        this.#state,
        ids.slice(start, end),
        end === ids.length ? "normed" : "none",
      );
    }
    return this.#outputRow(undefined, top);
  }

  /**
   * The output layer for one output-normed hidden state: `row`, or the one `forward` left
   * in `xb`. With `top` and the int8 head, only the rows that may be among the best `top`.
   */
  #outputRow(row?: Float32Array, top?: number): Float32Array {
    const { xb, logits } = this.#state, head = this.#head;
    if (row) this.#model.kernels.f32(xb, row.length).set(row);
    if (!head) outputLayer(this.#model, this.#state, 1);
    // Without the int8 head's answer (every logit asked for, or non-finite input): all rows.
    else if (top === undefined || !head.top(xb, top, logits)) head.all(xb, logits, 1);
    return this.#logitRow(0);
  }

  /** The `nll` run left for this prompt (then the cache is set at its end), or null. */
  #continuing(promptIds: readonly number[]): KeptRun | null {
    const kept = this.#kept, n = promptIds.length;
    this.#kept = null;
    if (this.#closed || !kept || n === 0 || n > kept.ids.length || !kept.normed.has(n - 1)) {
      return null;
    }
    for (let i = 0; i < n; i++) if (kept.ids[i] !== promptIds[i]) return null;
    this.#state.pos = n;
    return kept;
  }

  /**
   * Runs `ids` in batches, handing each position's logits (a view) to `onRow`, with its
   * row `r` in the batch (its output-normed hidden state is row r of `xb`); `onBatch` sees
   * each batch's logits first (rows 0..n of `logits`).
   */
  #forwardChunks(
    ids: readonly number[],
    onRow: (row: number, logits: Float32Array, r: number) => void,
    batch = this.#state.batch,
    onBatch?: (rows: number) => void,
  ): void {
    this.#check(ids);
    const head = this.#head, { xb, logits } = this.#state;
    for (let start = 0; start < ids.length; start += batch) {
      const end = Math.min(start + batch, ids.length);
      forward(this.#model, this.#state, ids.slice(start, end), head ? "normedAll" : "all");
      head?.all(xb, logits, end - start);
      onBatch?.(end - start);
      for (let r = 0; r < end - start; r++) onRow(start + r, this.#logitRow(r), r);
    }
  }

  #logitRow(r: number): Float32Array {
    const vocab = this.hparams.vocabSize;
    return this.#model.kernels.f32(this.#state.logits + r * vocab * 4, vocab);
  }

  /** Token ids in range and room in the cache, before anything is computed. */
  #check(ids: readonly number[]): void {
    if (this.#closed) throw new UsageError("the inference engine is closed");
    this.#kept = null;
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

/**
 * Bytes of kernel memory an engine loaded with these output-head options keeps for the
 * weights: every planned tensor in the backend's layout, except an output matrix streamed
 * from its file, plus that matrix's int8 copy and per-row norms when the int8 head is built
 * (the scratch of the head and of the run is not counted). Issue 11's memory target
 * divides peak RSS by this.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { readHparams } from "../arch/hparams.ts";
 * import { planTensors } from "./weights.ts";
 * import { wasmTernaryBytes } from "./kernels/wasm.ts";
 * const g = await openGguf("models/clean/clean-i2_s.gguf");
 * const hp = readHparams(g), plan = planTensors(g, hp);
 * keptWeightBytes(plan, hp, { int8Head: false }, wasmTernaryBytes); // the F16 head resident
 * keptWeightBytes(plan, hp, { int8Head: false, streamOutput: true }, wasmTernaryBytes); // streamed
 * g.close();
 * ```
 */
export function keptWeightBytes(
  plan: readonly PlannedTensor[],
  hp: ModelHparams,
  head: { readonly int8Head?: boolean; readonly streamOutput?: boolean },
  ternaryBytes: (rows: number, cols: number) => number,
): number {
  const int8 = head.int8Head ?? true;
  const streamed = streamedOutput(plan, hp, head.streamOutput ?? int8);
  const resident = weightBytes(plan.filter((t) => t !== streamed), ternaryBytes);
  if (!streamed || !int8) return resident;
  const [rows = 1, cols = 1] = streamed.shape;
  return resident + int8HeadCopyBytes(rows, cols) + rows * 24;
}

/**
 * The planned output matrix to stream behind the int8 head (`token_embd` when tied), or
 * null when the head is off or cannot be exact for that matrix (then the F16 head stays).
 */
function streamedOutput(
  plan: readonly PlannedTensor[],
  hp: ModelHparams,
  stream: boolean,
): PlannedTensor | null {
  if (!stream) return null;
  const name = hp.tied ? "token_embd.weight" : "output.weight";
  const t = plan.find((p) => p.name === name);
  return t && t.storage === "float" && int8HeadFits({ type: t.info.type, cols: hp.nEmbd })
    ? t
    : null;
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

function nonNegativeInt(v: number, what: string): number {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new UsageError(`${what} must be a non-negative integer, got ${v}`);
  }
  return v;
}
