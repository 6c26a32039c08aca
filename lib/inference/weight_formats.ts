/**
 * How a stored BitNet projection becomes trits and one scale for the ternary
 * kernels, for every ggml type the codec table (lib/codecs/table.ts) can
 * decode: float tensors that are already exactly ternary ({−s, 0, +s}) keep
 * their values; float master weights are ternarized with absmean
 * (docs/reference/formats.md, "BitNet b1.58 forward pass"); packed ternary
 * types (I2_S, TQ2_0, TQ1_0) are decoded from their codes. A new type is a
 * row of the codec table; nothing here changes.
 *
 * @example
 * ```ts
 * import { GgmlType } from "../codecs/table.ts";
 * import { ternaryWeights } from "./weight_formats.ts";
 * const payload = new Uint8Array(new Float32Array([0.5, 0, -0.5, 0.5]).buffer);
 * const { trits, scale } = ternaryWeights(GgmlType.F32, payload, 2, 2, "w");
 * // trits [1, 0, -1, 1], scale 0.5
 * ```
 * @module
 */

import { ternarizeAbsmean } from "../codecs/ternary.ts";
import { codecOf, GgmlType, type TernaryDecoded } from "../codecs/table.ts";

/** Trits (−1, 0, +1) of a `rows × cols` matrix and the one scale they multiply. */
export interface TernaryWeights {
  trits: Int8Array;
  scale: number;
  /**
   * How the trits were obtained: float values that were exactly ternary,
   * float values ternarized with absmean (master weights), or packed codes.
   */
  origin: "ternary" | "absmean" | "packed";
}

/**
 * The one scale every block holding a nonzero trit shares, or null when the
 * blocks disagree (TQ2_0 / TQ1_0 keep max|x| per 256-element block, so a file
 * quantized from non-ternary values has several).
 */
function sharedScale({ trits, scales, block }: TernaryDecoded): number | null {
  if (scales.length === 1) return scales[0]!;
  let common = 0;
  for (let b = 0; b < scales.length; b++) {
    let used = false;
    for (let i = b * block; i < (b + 1) * block && !used; i++) used = trits[i] !== 0;
    if (!used) continue;
    if (common === 0) common = scales[b]!;
    else if (scales[b] !== common) return null;
  }
  return common;
}

/**
 * Trits and one scale of a stored projection of `rows × cols` elements. Float
 * values are read straight from their bit patterns when exactly ternary, else
 * ternarized with absmean; packed types keep their codes and shared scale,
 * and blocks with different scales are dequantized and ternarized with
 * absmean (the closest one-scale BitLinear).
 *
 * @example
 * ```ts
 * import { GgmlType, packTrits } from "../codecs/table.ts";
 * ternaryWeights(GgmlType.I2_S, packTrits(GgmlType.I2_S, new Int8Array(256), 0.25), 2, 128, "w").scale; // 0.25
 * ```
 */
export function ternaryWeights(
  type: number,
  payload: Uint8Array,
  rows: number,
  cols: number,
  name: string,
): TernaryWeights {
  const codec = codecOf(type, name), n = rows * cols;
  if (codec.float) {
    const exact = codec.float.exactTrits(payload, n);
    if (exact) return { ...exact, origin: "ternary" };
    const { trits, scale } = ternarizeAbsmean(codec.decode(payload, n, name), undefined, name);
    return { trits, scale, origin: "absmean" };
  }
  const decoded = codec.ternary!.decode(payload, n, name);
  const scale = sharedScale(decoded);
  if (scale !== null) return { trits: decoded.trits, scale, origin: "packed" };
  // Blocks with different scales: their values, taken as float weights are.
  const values = codec.decode(payload, n, name);
  return ternaryWeights(GgmlType.F32, new Uint8Array(values.buffer), rows, cols, name);
}
