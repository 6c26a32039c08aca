/**
 * The run state in kernel memory: the f32 KV cache and the scratch buffers of
 * one forward batch. Everything is allocated once at load; a forward pass only
 * writes into these buffers.
 *
 * @example
 * ```ts
 * import { RunState, runStateBytes } from "./state.ts";
 * import type { ModelHparams } from "../arch/hparams.ts";
 * import type { Kernels } from "./kernels/api.ts";
 * declare const hp: ModelHparams, kernels: Kernels;
 * const bytes = runStateBytes(hp, { maxContext: 256, batch: 32 });
 * const state = new RunState(kernels, hp, { maxContext: 256, batch: 32 });
 * ```
 * @module
 */

import type { Kernels, Ptr } from "./kernels/api.ts";
import type { ModelHparams } from "../arch/hparams.ts";
import type { QuantizedRows } from "./linear.ts";

/** How big the state is: cache positions and rows per forward batch. */
export interface StateSize {
  readonly maxContext: number;
  readonly batch: number;
}

/** Alignment of every buffer (cache lines, SIMD). */
export const BUFFER_ALIGN = 64;

/** The buffers and their sizes in bytes, in allocation order. */
function layout(hp: ModelHparams, size: StateSize) {
  const { batch: b, maxContext } = size;
  const qDim = hp.nHead * hp.headDim, kvDim = hp.nHeadKv * hp.headDim;
  const widest = Math.max(hp.nEmbd, qDim, hp.nFf);
  return {
    x: b * hp.nEmbd * 4,
    xb: b * Math.max(hp.nEmbd, qDim) * 4,
    q: b * qDim * 4,
    att: b * qDim * 4,
    gate: b * hp.nFf * 4,
    up: b * hp.nFf * 4,
    xq: b * widest,
    xqScale: b * 4,
    xqSum: b * 4,
    logits: b * hp.vocabSize * 4,
    logSumExps: b * 8,
    keyCache: hp.nLayer * maxContext * kvDim * 4,
    valueCache: hp.nLayer * maxContext * kvDim * 4,
  };
}

/**
 * Bytes of kernel memory the state needs, alignment padding included.
 *
 * @example
 * ```ts
 * import type { ModelHparams } from "../arch/hparams.ts";
 * declare const hp: ModelHparams;
 * runStateBytes(hp, { maxContext: 4096, batch: 64 }); // ≈ 0.67 GB for 2B-4T, mostly KV cache
 * ```
 */
export function runStateBytes(hp: ModelHparams, size: StateSize): number {
  return Object.values(layout(hp, size)).reduce((sum, n) => sum + alignUp(n, BUFFER_ALIGN), 0);
}

/**
 * Rounds `n` up to a multiple of `a`.
 *
 * @example
 * ```ts
 * alignUp(100, 64); // 128
 * ```
 */
export function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/**
 * KV cache and scratch buffers (pointers into kernel memory).
 *
 * @example
 * ```ts
 * import type { ModelHparams } from "../arch/hparams.ts";
 * import type { Kernels } from "./kernels/api.ts";
 * declare const hp: ModelHparams, kernels: Kernels;
 * const s = new RunState(kernels, hp, { maxContext: 256, batch: 32 });
 * s.keyRows(0, s.pos); // where layer 0 writes the next keys
 * ```
 */
export class RunState {
  readonly maxContext: number;
  readonly batch: number;
  /** Residual stream h, `[batch, nEmbd]`. */
  readonly x: Ptr;
  /** Normed input of a projection, `[batch, max(nEmbd, qDim)]`. */
  readonly xb: Ptr;
  readonly q: Ptr;
  /** Attention output, `[batch, qDim]`. */
  readonly att: Ptr;
  readonly gate: Ptr;
  readonly up: Ptr;
  /** Int8 activations (AQ), shared by the projections that read the same rows. */
  readonly quantized: QuantizedRows;
  /** `[batch, vocab]`. */
  readonly logits: Ptr;
  /** One f64 per batch row: log Σ exp of its logits (the NLL). */
  readonly logSumExps: Ptr;
  readonly #keyCache: Ptr;
  readonly #valueCache: Ptr;
  readonly #layerBytes: number;
  readonly #kvDim: number;
  /** Tokens in the cache. */
  pos = 0;

  constructor(k: Kernels, hp: ModelHparams, size: StateSize) {
    const sizes = layout(hp, size);
    const at = (name: keyof typeof sizes) => k.alloc(sizes[name], BUFFER_ALIGN);
    this.maxContext = size.maxContext;
    this.batch = size.batch;
    this.x = at("x");
    this.xb = at("xb");
    this.q = at("q");
    this.att = at("att");
    this.gate = at("gate");
    this.up = at("up");
    this.quantized = { q: at("xq"), scale: at("xqScale"), sum: at("xqSum") };
    this.logits = at("logits");
    this.logSumExps = at("logSumExps");
    this.#keyCache = at("keyCache");
    this.#valueCache = at("valueCache");
    this.#kvDim = hp.nHeadKv * hp.headDim;
    this.#layerBytes = size.maxContext * this.#kvDim * 4;
  }

  /** Cache rows of layer `layer` from position `pos` on (`[positions, kvDim]` f32). */
  keyRows(layer: number, pos: number): Ptr {
    return this.#keyCache + layer * this.#layerBytes + pos * this.#kvDim * 4;
  }

  /** Same for values. */
  valueRows(layer: number, pos: number): Ptr {
    return this.#valueCache + layer * this.#layerBytes + pos * this.#kvDim * 4;
  }
}
