/**
 * Unpacking the offline-quantized BitNet checkpoint layout (docs/reference/formats.md, "BitNet b1.58 forward pass"):
 * each projection stored as uint8 `[out/4, in]` plus a `weight_scale`.
 *
 * @example
 * ```ts
 * import { unpackBitnetU8, packedScaleConvention } from "./packed.ts";
 * // one byte holding rows 0..3 of column 0 as codes 2,1,0,2 (LSB first) -> +1, 0, -1, +1
 * unpackBitnetU8(new Uint8Array([0b10_00_01_10]), 4, 1); // Int8Array [1, 0, -1, 1]
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";

/**
 * Trits `[outRows, cols]` from packed bytes `[outRows/4, cols]`: row i·R + p
 * (R = outRows/4) is bits 2i..2i+1 of byte [p, c], code − 1.
 */
export function unpackBitnetU8(
  packed: Uint8Array,
  outRows: number,
  cols: number,
  name = "tensor",
): Int8Array {
  if (outRows % 4 !== 0 || packed.length !== (outRows / 4) * cols) {
    throw new FormatError(
      `${name}: packed U8 tensor has ${packed.length} bytes, expected ${outRows / 4} x ${cols}`,
    );
  }
  const R = outRows / 4;
  const trits = new Int8Array(outRows * cols);
  for (let i = 0; i < 4; i++) {
    const shift = 2 * i;
    for (let p = 0; p < R; p++) {
      const src = p * cols, dst = (i * R + p) * cols;
      for (let c = 0; c < cols; c++) {
        const code = (packed[src + c]! >> shift) & 3;
        if (code === 3) {
          throw new FormatError(`${name}: invalid ternary code 3 at row ${i * R + p}, column ${c}`);
        }
        trits[dst + c] = code - 1;
      }
    }
  }
  return trits;
}

/** How `weight_scale` turns codes into weights, from `quantization_config.linear_class`. */
export type PackedScaleConvention = "divide" | "multiply";

/**
 * The scale convention of a packed checkpoint: class BitLinear computes
 * y = (x_int8 · codes) / (input_scale · weight_scale), so the weight is
 * code / weight_scale; AutoBitLinear offline multiplies. Decided by the test
 * "packed U8 checkpoints export to the same ternary weights as their BF16
 * source" in tests/export/export_test.ts. Never guessed from the numbers.
 */
export function packedScaleConvention(
  quantizationConfig: Record<string, unknown> | undefined,
  source: string,
): PackedScaleConvention {
  const cls = quantizationConfig?.linear_class;
  if (cls === "bitlinear") return "divide";
  if (cls === "autobitlinear") return "multiply";
  throw new UnsupportedError(
    `${source}: packed checkpoint with quantization_config.linear_class ${JSON.stringify(cls)}; ` +
      `expected "bitlinear" or "autobitlinear"`,
  );
}
