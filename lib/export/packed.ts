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
 * Trits `[outRows, cols]` from packed bytes `[R, cols]`, R = ceil(outRows/4):
 * row i·R + p is bits 2i..2i+1 of byte [p, c], code − 1 (transformers'
 * `unpack_weights`; the codes of rows past outRows in the last block are ignored).
 */
export function unpackBitnetU8(
  packed: Uint8Array,
  outRows: number,
  cols: number,
  name = "tensor",
): Int8Array {
  const R = packedRows(outRows);
  if (packed.length !== R * cols) {
    throw new FormatError(
      `${name}: packed U8 tensor has ${packed.length} bytes, expected ${R} x ${cols}`,
    );
  }
  const trits = new Int8Array(outRows * cols);
  for (let i = 0; i < 4; i++) {
    const shift = 2 * i;
    for (let p = 0; p < R && i * R + p < outRows; p++) {
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

/**
 * Packed rows of a projection with `outRows` output rows: four per byte.
 *
 * @example
 * ```ts
 * packedRows(10); // 3
 * ```
 */
export function packedRows(outRows: number): number {
  return Math.ceil(outRows / 4);
}

/** How `weight_scale` turns codes into weights, from `quantization_config.linear_class`. */
export type PackedScaleConvention = "divide" | "multiply";

/**
 * `quantization_config.linear_class` → the scale convention (transformers'
 * `integrations/bitnet.py`): BitLinear computes y = (x_int8 · codes) /
 * (input_scale · weight_scale), so the weight is code ÷ weight_scale;
 * AutoBitLinear (offline) multiplies. Without `linear_class` transformers
 * builds BitLinear (tiiuae Falcon3/Falcon-E, HF1BitLLM). Decided by the tests
 * "packed U8 checkpoints export to the same ternary weights as their BF16
 * source" (tests/export/export_test.ts) and tests/families/. Never guessed
 * from the numbers.
 */
const LINEAR_CLASSES: Readonly<Record<string, PackedScaleConvention>> = {
  bitlinear: "divide",
  autobitlinear: "multiply",
};

/**
 * The scale convention of a packed checkpoint, from its quantization_config
 * ({@link LINEAR_CLASSES}); an unknown `linear_class` is an {@link UnsupportedError}.
 */
export function packedScaleConvention(
  quantizationConfig: Record<string, unknown> | undefined,
  source: string,
): PackedScaleConvention {
  const cls = quantizationConfig?.linear_class ?? "bitlinear";
  const convention = typeof cls === "string" ? LINEAR_CLASSES[cls] : undefined;
  if (convention) return convention;
  throw new UnsupportedError(
    `${source}: packed checkpoint with quantization_config.linear_class ${JSON.stringify(cls)}; ` +
      `expected ${
        Object.keys(LINEAR_CLASSES).map((c) => `"${c}"`).join(" or ")
      } (or none: "bitlinear")`,
  );
}
