/**
 * TQ2_0 (ggml type 35), upstream llama.cpp's 2-bit ternary block type
 * (FORMATS.md §6; ggml src/ggml-common.h `block_tq2_0`, ggml-quants.c
 * `quantize_row_tq2_0_ref` / `dequantize_row_tq2_0`).
 *
 * Block of 256 elements → 66 bytes `{ u8 qs[64]; f16 d; }`. For half
 * h ∈ {0, 1}, byte qs[32h + m] holds elements 128h + m + 32n at bits 2n
 * (n = 0..3), code = trit + 1. Value = (code − 1)·d. Blocks are independent,
 * so a tensor can be packed in slabs of any multiple of 256 elements. ggml
 * also requires each row (ne[0]) to be a multiple of 256; that check belongs
 * to the caller, which knows the shape.
 *
 * @example
 * ```ts
 * import { decodeTQ2_0, tq2_0FromTrits } from "./tq2_0.ts";
 * const bytes = tq2_0FromTrits(new Int8Array(256).fill(1), 0.5); // 66 bytes
 * decodeTQ2_0(bytes, 256).scales[0]; // 0.5
 * ```
 * @module
 */

import {
  blockByteSize,
  blocksFromTrits,
  decodeBlocks,
  dequantizeBlocks,
  quantizeBlocks,
  type TernaryBlockLayout,
} from "./ternary_blocks.ts";

/** Elements per TQ2_0 block (QK_K). */
export const TQ2_0_BLOCK_ELEMENTS = 256;
/** Bytes per TQ2_0 block. */
export const TQ2_0_BLOCK_BYTES = 66;
/** ggml type id of TQ2_0. */
export const GGML_TYPE_TQ2_0 = 35;

/** The TQ2_0 block: `{ u8 qs[64]; f16 d; }`, four 2-bit codes per byte. */
export const TQ2_0_LAYOUT: TernaryBlockLayout = {
  name: "TQ2_0",
  blockBytes: TQ2_0_BLOCK_BYTES,
  scaleOffset: 64,
  pack(out, o, codes, base) {
    for (let h = 0; h < 2; h++) {
      const e = base + 128 * h;
      for (let m = 0; m < 32; m++) {
        out[o + 32 * h + m] = codes[e + m]! | (codes[e + 32 + m]! << 2) |
          (codes[e + 64 + m]! << 4) | (codes[e + 96 + m]! << 6);
      }
    }
  },
  unpack(bytes, o, codes, base) {
    for (let h = 0; h < 2; h++) {
      const e = base + 128 * h;
      for (let m = 0; m < 32; m++) {
        const q = bytes[o + 32 * h + m]!;
        codes[e + m] = q & 3;
        codes[e + 32 + m] = (q >> 2) & 3;
        codes[e + 64 + m] = (q >> 4) & 3;
        codes[e + 96 + m] = q >> 6;
      }
    }
  },
};

/**
 * Bytes a TQ2_0 tensor of `n` elements occupies (66 per 256).
 *
 * @example
 * ```ts
 * tq2_0ByteSize(2560 * 6912); // 4561920
 * ```
 */
export function tq2_0ByteSize(n: number, name = "tensor"): number {
  return blockByteSize(TQ2_0_LAYOUT, n, name);
}

/**
 * Quantizes float values to TQ2_0 exactly as ggml's `quantize_row_tq2_0_ref`
 * (see {@link quantizeBlocks}). For BitNet weights the values are already
 * {−s, 0, +s}, where this equals {@link tq2_0FromTrits}.
 *
 * @example
 * ```ts
 * const x = new Float32Array(256);
 * x[0] = 0.5; x[1] = -0.2; x[2] = 0.3;
 * quantizeTQ2_0(x); // d = f16(0.5); codes 2, 1, 2 (0.3/0.5 = 0.6 rounds to 1)
 * ```
 */
export function quantizeTQ2_0(values: Float32Array, name = "tensor"): Uint8Array {
  return quantizeBlocks(TQ2_0_LAYOUT, values, name);
}

/**
 * Packs trits that share one tensor scale `s` (see {@link blocksFromTrits}).
 *
 * @example
 * ```ts
 * const t = new Int8Array(256);
 * t[0] = 1; t[32] = -1;
 * tq2_0FromTrits(t, 0.5)[0]; // 0b01_01_00_10 = 0x52 (elements 0, 32, 64, 96)
 * ```
 */
export function tq2_0FromTrits(trits: Int8Array, scale: number, name = "tensor"): Uint8Array {
  return blocksFromTrits(TQ2_0_LAYOUT, trits, scale, name);
}

/**
 * Decodes TQ2_0 bytes to trits and per-block scales; code 3 (not a trit) and
 * short data are FormatErrors.
 *
 * @example
 * ```ts
 * const { trits, scales } = decodeTQ2_0(tq2_0FromTrits(new Int8Array(256).fill(-1), 1), 256);
 * // trits all -1, scales [1]
 * ```
 */
export function decodeTQ2_0(
  bytes: Uint8Array,
  n: number,
  name = "tensor",
): { trits: Int8Array; scales: Float32Array } {
  return decodeBlocks(TQ2_0_LAYOUT, bytes, n, name);
}

/**
 * Dequantizes TQ2_0 bytes to float32 exactly as ggml's `dequantize_row_tq2_0`
 * ((code − 1)·d, so a stray code 3 gives 2·d there too).
 *
 * @example
 * ```ts
 * dequantizeTQ2_0(tq2_0FromTrits(new Int8Array(256).fill(1), 0.5), 256)[0]; // 0.5
 * ```
 */
export function dequantizeTQ2_0(bytes: Uint8Array, n: number, name = "tensor"): Float32Array {
  return dequantizeBlocks(TQ2_0_LAYOUT, bytes, n, name);
}
