/**
 * Rotary position embeddings, in the two pairings GGUF models use:
 *
 * - `neox` (HF `rotate_half`, BitNet, docs/reference/formats.md, "BitNet b1.58 forward pass"): dim i is rotated with
 *   dim i + ropeDim/2;
 * - `normal` (llama.cpp's llama arch): dims 2i and 2i+1 are rotated together.
 *   HF Llama checkpoints use rotate_half, but the exporter permutes the q/k
 *   rows (docs/reference/formats.md, "Tensor names") so that the adjacent pairing computes the same thing.
 *
 * Pair i turns by angle pos · base^(−2i/ropeDim); dims past ropeDim are left alone.
 *
 * @example
 * ```ts
 * import { RopeTable } from "./rope.ts";
 * const rope = new RopeTable({ dim: 4, base: 10000, maxPositions: 8, mode: "neox" });
 * const q = new Float32Array([1, 0, 0, 0]);
 * rope.rotate(q, 0, 1, 4, 1); // q = [cos 1, 0, sin 1, 0]
 * ```
 * @module
 */

/** Which dims are rotated together. */
export type RopeMode = "neox" | "normal";

/**
 * Precomputed cos/sin of every (position, pair) angle.
 *
 * @example
 * ```ts
 * const rope = new RopeTable({ dim: 128, base: 500000, maxPositions: 4096, mode: "neox" });
 * const q = new Float32Array(20 * 128);
 * rope.rotate(q, 0, 20, 128, 7); // all 20 heads of q at position 7
 * ```
 */
export class RopeTable {
  readonly dim: number;
  readonly mode: RopeMode;
  readonly maxPositions: number;
  #cos: Float64Array;
  #sin: Float64Array;

  constructor(opts: { dim: number; base: number; maxPositions: number; mode: RopeMode }) {
    const half = opts.dim / 2;
    this.dim = opts.dim;
    this.mode = opts.mode;
    this.maxPositions = opts.maxPositions;
    this.#cos = new Float64Array(opts.maxPositions * half);
    this.#sin = new Float64Array(opts.maxPositions * half);
    for (let pos = 0; pos < opts.maxPositions; pos++) {
      for (let i = 0; i < half; i++) {
        const angle = pos * Math.pow(opts.base, (-2 * i) / opts.dim);
        this.#cos[pos * half + i] = Math.cos(angle);
        this.#sin[pos * half + i] = Math.sin(angle);
      }
    }
  }

  /**
   * Rotates the `nHeads` heads (each `headDim` long, back to back) of the
   * vector that starts at `v[offset]`, for position `pos`.
   */
  rotate(v: Float32Array, offset: number, nHeads: number, headDim: number, pos: number): void {
    if (pos >= this.maxPositions) {
      throw new RangeError(`RoPE position ${pos} is past the table (${this.maxPositions})`);
    }
    const half = this.dim / 2, base = pos * half;
    // neox pairs (i, i + half); normal pairs (2i, 2i + 1).
    const step = this.mode === "neox" ? 1 : 2, partner = this.mode === "neox" ? half : 1;
    for (let h = 0; h < nHeads; h++) {
      const head = offset + h * headDim;
      for (let i = 0; i < half; i++) {
        const a = head + i * step, b = a + partner;
        const cos = this.#cos[base + i]!, sin = this.#sin[base + i]!;
        const x0 = v[a]!, x1 = v[b]!;
        v[a] = x0 * cos - x1 * sin;
        v[b] = x0 * sin + x1 * cos;
      }
    }
  }
}
