/**
 * Next-token choice: greedy argmax by default; with a temperature, sampling
 * from softmax(logits / T) restricted to the top-k tokens and/or the top-p
 * nucleus, driven by a seeded PRNG so that a run is reproducible.
 *
 * @example
 * ```ts
 * import { Sampler } from "./sampler.ts";
 * const logits = new Float32Array([0.1, 2, 0.3]);
 * new Sampler().sample(logits); // 1 (greedy)
 * new Sampler({ temperature: 0.8, topK: 2, seed: 7 }).sample(logits); // 1 or 2, the same every run
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { softmax } from "./softmax.ts";
import { DEFAULT_SEED } from "../cli/env.ts";

/** How to choose the next token. */
export interface SamplingOptions {
  /** 0 or absent: greedy. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or absent: all). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 or absent: all). */
  topP?: number;
  /** PRNG seed; default 42 (the tasks pass BITNET_SEED). */
  seed?: number;
}

/**
 * Mulberry32: a small, fast 32-bit PRNG, uniform in [0, 1).
 *
 * @example
 * ```ts
 * const next = mulberry32(42);
 * next(); // 0.6011037519201636 (always, for seed 42)
 * ```
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Index of the largest value (the lowest index on ties).
 *
 * @example
 * ```ts
 * argmax(new Float32Array([1, 3, 3])); // 1
 * ```
 */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * Chooses tokens from logits; one instance per generation (it owns the PRNG state).
 *
 * @example
 * ```ts
 * const s = new Sampler({ temperature: 0.7, topP: 0.9, seed: 1 });
 * const logits = new Float32Array([0.1, 2, 0.3]);
 * const id = s.sample(logits);
 * ```
 */
export class Sampler {
  readonly temperature: number;
  readonly topK: number;
  readonly topP: number;
  readonly seed: number;
  #random: () => number;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = opts.temperature ?? 0;
    this.topK = opts.topK ?? 0;
    this.topP = opts.topP ?? 1;
    this.seed = opts.seed ?? DEFAULT_SEED;
    if (!(this.temperature >= 0) || !Number.isFinite(this.temperature)) {
      throw new UsageError(`temperature must be >= 0, got ${this.temperature}`);
    }
    if (!Number.isSafeInteger(this.topK) || this.topK < 0) {
      throw new UsageError(`top-k must be a non-negative integer, got ${this.topK}`);
    }
    if (!(this.topP > 0 && this.topP <= 1)) {
      throw new UsageError(`top-p must be in (0, 1], got ${this.topP}`);
    }
    if (!Number.isSafeInteger(this.seed)) {
      throw new UsageError(`seed must be an integer, got ${this.seed}`);
    }
    this.#random = mulberry32(this.seed);
  }

  /** True when the choice is a plain argmax. */
  get greedy(): boolean {
    return this.temperature === 0 || this.topK === 1;
  }

  /** The next token id. */
  sample(logits: Float32Array): number {
    if (this.greedy) return argmax(logits);
    // Candidates: the top-k ids (all ids without top-k), most likely first.
    const ids = this.topK > 0 ? topKIds(logits, this.topK) : sortedIds(logits);
    const probs = Float64Array.from(ids, (id) => logits[id]!);
    softmax(probs, ids.length, this.temperature);
    // Nucleus: the shortest prefix whose mass reaches topP.
    let keep = ids.length;
    if (this.topP < 1) {
      let mass = 0;
      for (let i = 0; i < ids.length; i++) {
        mass += probs[i]!;
        if (mass >= this.topP) {
          keep = i + 1;
          break;
        }
      }
    }
    let kept = 0;
    for (let i = 0; i < keep; i++) kept += probs[i]!;
    let r = this.#random() * kept;
    for (let i = 0; i < keep; i++) {
      r -= probs[i]!;
      if (r < 0) return ids[i]!;
    }
    return ids[keep - 1]!;
  }
}

/** Every id, by decreasing logit (lower id first on ties). */
function sortedIds(logits: Float32Array): number[] {
  const ids = Array.from({ length: logits.length }, (_, i) => i);
  return ids.sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/**
 * The `k` ids with the largest logits, by decreasing logit (lower id first on
 * ties), in O(n·log k)-ish time with a small sorted buffer.
 *
 * @example
 * ```ts
 * topKIds(new Float32Array([0.5, 2, 1]), 2); // [1, 2]
 * ```
 */
export function topKIds(logits: Float32Array, k: number): number[] {
  const n = Math.min(k, logits.length);
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (ids.length === n && !(v > logits[ids[n - 1]!]!)) continue;
    // Insert after every id whose logit is >= v (stable: earlier ids win ties).
    let lo = 0, hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (logits[ids[mid]!]! >= v) lo = mid + 1;
      else hi = mid;
    }
    ids.splice(lo, 0, i);
    if (ids.length > n) ids.pop();
  }
  return ids;
}
