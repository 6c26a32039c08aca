/**
 * The small element-wise steps of the forward pass (embedding lookup,
 * residual add, gated activation), over views of kernel memory. They cost
 * O(width) per token, next to O(width²) for the projections.
 *
 * @example
 * ```ts
 * import { gatedActivation } from "./ops.ts";
 * const gate = new Float32Array([-1, 2]), up = new Float32Array([5, 3]);
 * gatedActivation("relu2", gate, up); // gate = [0, 12]
 * ```
 * @module
 */

import { codecOf } from "../codecs/table.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { Activation } from "../arch/registry.ts";
import type { FloatMatrix } from "./linear.ts";
import type { FileRows } from "./file_rows.ts";

/**
 * Copies row `tokens[t]` of the (full-precision) embedding matrix to row t of `out` as f32;
 * with `file`, the rows are read from the file (a matrix not resident in kernel memory).
 *
 * @example
 * ```ts
 * import type { Kernels, Ptr } from "./kernels/api.ts";
 * import type { FloatMatrix } from "./linear.ts";
import type { FileRows } from "./file_rows.ts";
 * declare const k: Kernels, tokenEmbd: FloatMatrix, x: Ptr;
 * embed(k, tokenEmbd, [2046, 463], x);
 * ```
 */
export function embed(
  k: Kernels,
  table: FloatMatrix,
  tokens: readonly number[],
  out: Ptr,
  file?: FileRows,
): void {
  const cols = table.cols, x = k.f32(out, tokens.length * cols);
  const float = codecOf(table.type).float!, rowBytes = cols * float.bytes;
  const buf = file ? new Uint8Array(rowBytes) : undefined;
  for (let t = 0; t < tokens.length; t++) {
    const row = file
      ? file.read(tokens[t]!, 1, buf!)
      : k.u8(table.ptr + tokens[t]! * rowBytes, rowBytes);
    float.decodeInto(row, x.subarray(t * cols, (t + 1) * cols));
  }
}

/**
 * h += d, element-wise over `n` values.
 *
 * @example
 * ```ts
 * addInPlace(new Float32Array([1, 2]), new Float32Array([3, 4])); // h = [4, 6]
 * ```
 */
export function addInPlace(h: Float32Array, d: Float32Array): void {
  for (let i = 0; i < h.length; i++) h[i] = h[i]! + d[i]!;
}

/**
 * gate ← relu(gate)²·up (BitNet) or silu(gate)·up (Llama), element-wise.
 *
 * @example
 * ```ts
 * const gate = new Float32Array([1, -1]), up = new Float32Array([2, 2]);
 * gatedActivation("silu", gate, up); // gate = silu(gate) * up
 * ```
 */
export function gatedActivation(
  kind: Activation,
  gate: Float32Array,
  up: Float32Array,
): void {
  if (kind === "relu2") {
    for (let i = 0; i < gate.length; i++) {
      const g = gate[i]! > 0 ? gate[i]! : 0;
      gate[i] = g * g * up[i]!;
    }
  } else {
    for (let i = 0; i < gate.length; i++) {
      const g = gate[i]!;
      gate[i] = (g / (1 + Math.exp(-g))) * up[i]!;
    }
  }
}
