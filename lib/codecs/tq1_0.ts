/**
 * TQ1_0 (ggml type 34), upstream llama.cpp's 1.6875-bit ternary block type
 * (FORMATS.md §6; ggml src/ggml-common.h `block_tq1_0`, ggml-quants.c
 * `quantize_row_tq1_0_ref` / `dequantize_row_tq1_0`).
 *
 * Block of 256 elements → 54 bytes `{ u8 qs[48]; u8 qh[4]; f16 d; }`, codes
 * c = trit + 1. Element order (read from ggml-quants.c):
 * - qs[m], m < 32: elements m + 32n, n = 0..4 (elements 0..159);
 * - qs[32 + m], m < 16: elements 160 + m + 16n, n = 0..4 (elements 160..239);
 * - qh[j], j < 4: elements 240 + j + 4n, n = 0..3, and a fifth trit of 0.
 *
 * A byte's value is q = Σ c_n·3^(4−n) (the first element is the most
 * significant trit), stored as ceil(q·256/243) so that trit n decodes as
 * `((u8)(byte·3ⁿ)·3) >> 8`. Blocks are independent; ggml requires each row
 * (ne[0]) to be a multiple of 256, which the caller checks.
 *
 * @example
 * ```ts
 * import { decodeTQ1_0, tq1_0FromTrits } from "./tq1_0.ts";
 * const bytes = tq1_0FromTrits(new Int8Array(256).fill(1), 0.5); // 54 bytes
 * decodeTQ1_0(bytes, 256).trits[255]; // 1
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

/** Elements per TQ1_0 block (QK_K). */
export const TQ1_0_BLOCK_ELEMENTS = 256;
/** Bytes per TQ1_0 block. */
export const TQ1_0_BLOCK_BYTES = 54;
/** ggml type id of TQ1_0. */
export const GGML_TYPE_TQ1_0 = 34;

/** q ∈ 0..242 → ceil(q·256/243), the stored byte. */
const ENCODE = (() => {
  const t = new Uint8Array(243);
  for (let q = 0; q < 243; q++) t[q] = Math.floor((q * 256 + 242) / 243);
  return t;
})();

/** byte → its five codes (0..2), trit n at index 5·byte + n. */
const DECODE = (() => {
  const t = new Uint8Array(256 * 5);
  for (let b = 0; b < 256; b++) {
    for (let n = 0, p = 1; n < 5; n++, p *= 3) t[5 * b + n] = (((b * p) & 0xff) * 3) >> 8;
  }
  return t;
})();

/**
 * For each of the 52 packed bytes of a block, the block-relative element of
 * each of its 5 trits (−1 for qh's always-zero fifth trit): PLAN[5·k + n].
 */
const PLAN = (() => {
  const t = new Int16Array(52 * 5);
  for (let m = 0; m < 32; m++) {
    for (let n = 0; n < 5; n++) t[5 * m + n] = m + 32 * n;
  }
  for (let m = 0; m < 16; m++) {
    for (let n = 0; n < 5; n++) t[5 * (32 + m) + n] = 160 + m + 16 * n;
  }
  for (let j = 0; j < 4; j++) {
    for (let n = 0; n < 4; n++) t[5 * (48 + j) + n] = 240 + j + 4 * n;
    t[5 * (48 + j) + 4] = -1;
  }
  return t;
})();

/** The TQ1_0 block: `{ u8 qs[48]; u8 qh[4]; f16 d; }`, five (qh: four) trits per byte. */
export const TQ1_0_LAYOUT: TernaryBlockLayout = {
  name: "TQ1_0",
  blockBytes: TQ1_0_BLOCK_BYTES,
  scaleOffset: 52,
  pack(out, o, codes, base) {
    for (let k = 0; k < 52; k++) {
      const p = 5 * k;
      let q = codes[base + PLAN[p]!]! * 81 + codes[base + PLAN[p + 1]!]! * 27 +
        codes[base + PLAN[p + 2]!]! * 9 + codes[base + PLAN[p + 3]!]! * 3;
      const last = PLAN[p + 4]!;
      if (last >= 0) q += codes[base + last]!;
      out[o + k] = ENCODE[q]!;
    }
  },
  unpack(bytes, o, codes, base) {
    for (let k = 0; k < 52; k++) {
      const p = 5 * k, d = 5 * bytes[o + k]!;
      const slots = k < 48 ? 5 : 4;
      for (let n = 0; n < slots; n++) codes[base + PLAN[p + n]!] = DECODE[d + n]!;
    }
  },
};

/**
 * Bytes a TQ1_0 tensor of `n` elements occupies (54 per 256).
 *
 * @example
 * ```ts
 * tq1_0ByteSize(2560 * 6912); // 3732480
 * ```
 */
export function tq1_0ByteSize(n: number, name = "tensor"): number {
  return blockByteSize(TQ1_0_LAYOUT, n, name);
}

/**
 * Quantizes float values to TQ1_0 exactly as ggml's `quantize_row_tq1_0_ref`
 * (see {@link quantizeBlocks}).
 *
 * @example
 * ```ts
 * const x = new Float32Array(256);
 * x[0] = 2; // code 2 as the most significant trit of qs[0]; other codes 1
 * quantizeTQ1_0(x)[0]; // ceil((2·81 + 1·27 + 1·9 + 1·3 + 1)·256/243) = 213
 * ```
 */
export function quantizeTQ1_0(values: Float32Array, name = "tensor"): Uint8Array {
  return quantizeBlocks(TQ1_0_LAYOUT, values, name);
}

/**
 * Packs trits that share one tensor scale `s` (see {@link blocksFromTrits}).
 *
 * @example
 * ```ts
 * const t = new Int8Array(256).fill(-1);
 * tq1_0FromTrits(t, 1)[0]; // all codes 0 → 0
 * ```
 */
export function tq1_0FromTrits(trits: Int8Array, scale: number, name = "tensor"): Uint8Array {
  return blocksFromTrits(TQ1_0_LAYOUT, trits, scale, name);
}

/**
 * Decodes TQ1_0 bytes to trits and per-block scales (f16 → f32). Every byte
 * decodes to valid codes, so only a short buffer is an error (FormatError).
 *
 * @example
 * ```ts
 * const { trits, scales } = decodeTQ1_0(tq1_0FromTrits(new Int8Array(256).fill(1), 2), 256);
 * // trits all 1, scales [2]
 * ```
 */
export function decodeTQ1_0(
  bytes: Uint8Array,
  n: number,
  name = "tensor",
): { trits: Int8Array; scales: Float32Array } {
  return decodeBlocks(TQ1_0_LAYOUT, bytes, n, name);
}

/**
 * Dequantizes TQ1_0 bytes to float32 as ggml's `dequantize_row_tq1_0`
 * ((code − 1)·d).
 *
 * @example
 * ```ts
 * dequantizeTQ1_0(tq1_0FromTrits(new Int8Array(256).fill(-1), 0.5), 256)[7]; // -0.5
 * ```
 */
export function dequantizeTQ1_0(bytes: Uint8Array, n: number, name = "tensor"): Float32Array {
  return dequantizeBlocks(TQ1_0_LAYOUT, bytes, n, name);
}
