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

import { FormatError, NotTernaryError } from "../cli/errors.ts";
import { f16ToF32, f32ToF16 } from "./float.ts";

/** Elements per TQ2_0 block (QK_K). */
export const TQ2_0_BLOCK_ELEMENTS = 256;
/** Bytes per TQ2_0 block. */
export const TQ2_0_BLOCK_BYTES = 66;
/** ggml type id of TQ2_0. */
export const GGML_TYPE_TQ2_0 = 35;

const QS_BYTES = 64;

function blockCount(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 0 || n % TQ2_0_BLOCK_ELEMENTS !== 0) {
    throw new NotTernaryError(
      `${name}: TQ2_0 needs an element count that is a multiple of ${TQ2_0_BLOCK_ELEMENTS}, got ${n}`,
    );
  }
  return n / TQ2_0_BLOCK_ELEMENTS;
}

function checkLength(bytes: Uint8Array, n: number, name: string): number {
  const nb = blockCount(n, name);
  if (bytes.length < nb * TQ2_0_BLOCK_BYTES) {
    throw new FormatError(
      `${name}: TQ2_0 data of ${n} elements needs ${
        nb * TQ2_0_BLOCK_BYTES
      } bytes, got ${bytes.length}`,
    );
  }
  return nb;
}

/** f16 bits of a block scale; refuses scales that f16 turns into inf. */
function scaleBits(d: number, name: string, block: number): number {
  const h = f32ToF16(d);
  if ((h & 0x7c00) === 0x7c00) {
    throw new NotTernaryError(`${name}: TQ2_0 block ${block} scale ${d} does not fit in f16`);
  }
  return h;
}

/** C `lroundf`: round half away from zero (what ggml's reference quantizer uses). */
function lroundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Bytes a TQ2_0 tensor of `n` elements occupies (66 per 256).
 *
 * @example
 * ```ts
 * tq2_0ByteSize(2560 * 6912); // 4561920
 * ```
 */
export function tq2_0ByteSize(n: number, name = "tensor"): number {
  return blockCount(n, name) * TQ2_0_BLOCK_BYTES;
}

/** Writes one block of codes (`code(i)` for element i of the block) at `o`. */
function packBlockCodes(
  out: Uint8Array,
  o: number,
  codes: Uint8Array,
  base: number,
): void {
  for (let h = 0; h < 2; h++) {
    const e = base + 128 * h;
    for (let m = 0; m < 32; m++) {
      out[o + 32 * h + m] = codes[e + m]! | (codes[e + 32 + m]! << 2) |
        (codes[e + 64 + m]! << 4) | (codes[e + 96 + m]! << 6);
    }
  }
}

/**
 * Quantizes float values to TQ2_0 exactly as ggml's `quantize_row_tq2_0_ref`:
 * per block d = max|x| (float32, stored as f16), `id = 1/d` in float32,
 * code = lroundf(x·id) + 1 — round half **away from zero**, on the float32 d
 * (not the f16-rounded one). For BitNet weights the values are already
 * {−s, 0, +s}, where this equals {@link tq2_0FromTrits}. Throws
 * NotTernaryError on a non-finite value or a block max beyond f16 range.
 *
 * @example
 * ```ts
 * const x = new Float32Array(256);
 * x[0] = 0.5; x[1] = -0.2; x[2] = 0.3;
 * quantizeTQ2_0(x); // d = f16(0.5); codes 2, 1, 2 (0.3/0.5 = 0.6 rounds to 1)
 * ```
 */
export function quantizeTQ2_0(values: Float32Array, name = "tensor"): Uint8Array {
  const nb = blockCount(values.length, name);
  const out = new Uint8Array(nb * TQ2_0_BLOCK_BYTES);
  const codes = new Uint8Array(TQ2_0_BLOCK_ELEMENTS);
  for (let b = 0; b < nb; b++) {
    const base = b * TQ2_0_BLOCK_ELEMENTS;
    let amax = 0;
    for (let j = 0; j < TQ2_0_BLOCK_ELEMENTS; j++) {
      const v = values[base + j]!;
      if (!Number.isFinite(v)) {
        throw new NotTernaryError(`${name}: element ${base + j} is ${v}, cannot quantize to TQ2_0`);
      }
      const a = Math.abs(v);
      if (a > amax) amax = a;
    }
    const id = amax ? Math.fround(1 / amax) : 0;
    for (let j = 0; j < TQ2_0_BLOCK_ELEMENTS; j++) {
      codes[j] = (lroundf(Math.fround(values[base + j]! * id)) + 1) & 3;
    }
    const o = b * TQ2_0_BLOCK_BYTES;
    packBlockCodes(out, o, codes, 0);
    const h = scaleBits(amax, name, b);
    out[o + QS_BYTES] = h & 0xff;
    out[o + QS_BYTES + 1] = h >> 8;
  }
  return out;
}

/**
 * Packs trits that share one tensor scale `s` (the absmean quantizer's case).
 * Each block stores d = f16(s), except an all-zero block, which stores d = 0
 * as ggml's quantizer does for a block whose max is 0 — so the bytes equal
 * `quantizeTQ2_0` of the values trit·s. Throws NotTernaryError on a trit
 * outside −1…1, or when s is not positive or does not survive f16 rounding
 * (f16(s) is 0 or inf).
 *
 * @example
 * ```ts
 * const t = new Int8Array(256);
 * t[0] = 1; t[32] = -1;
 * tq2_0FromTrits(t, 0.5)[0]; // 0b01_01_00_10 = 0x52 (elements 0, 32, 64, 96)
 * ```
 */
export function tq2_0FromTrits(trits: Int8Array, scale: number, name = "tensor"): Uint8Array {
  const nb = blockCount(trits.length, name);
  if (!(scale > 0)) {
    throw new NotTernaryError(`${name}: TQ2_0 tensor scale must be > 0, got ${scale}`);
  }
  const h = scaleBits(scale, name, 0);
  if (h === 0) {
    throw new NotTernaryError(`${name}: TQ2_0 tensor scale ${scale} rounds to 0 in f16`);
  }
  const codes = new Uint8Array(trits.length);
  const u = new Uint8Array(trits.buffer, trits.byteOffset, trits.length);
  const out = new Uint8Array(nb * TQ2_0_BLOCK_BYTES);
  for (let b = 0; b < nb; b++) {
    const base = b * TQ2_0_BLOCK_ELEMENTS;
    let nonzero = 0;
    for (let j = base; j < base + TQ2_0_BLOCK_ELEMENTS; j++) {
      const c = (u[j]! + 1) & 0xff; // −1 (0xff) → 0, 0 → 1, 1 → 2
      if (c > 2) {
        throw new NotTernaryError(
          `${name}: element ${j} has trit ${trits[j]}, expected -1, 0 or 1`,
        );
      }
      codes[j] = c;
      nonzero |= c ^ 1;
    }
    const o = b * TQ2_0_BLOCK_BYTES;
    packBlockCodes(out, o, codes, base);
    if (nonzero) {
      out[o + QS_BYTES] = h & 0xff;
      out[o + QS_BYTES + 1] = h >> 8;
    }
  }
  return out;
}

/**
 * Decodes TQ2_0 bytes to trits and per-block scales (f16 → f32). Throws
 * FormatError on code 3 (ggml would read it as +2·d; it is not a trit) or
 * when `bytes` is too short.
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
  const nb = checkLength(bytes, n, name);
  const trits = new Int8Array(n);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const o = b * TQ2_0_BLOCK_BYTES;
    const base = b * TQ2_0_BLOCK_ELEMENTS;
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        const q = bytes[o + 32 * h + m]!;
        for (let n4 = 0; n4 < 4; n4++) {
          const c = (q >> (2 * n4)) & 3;
          if (c === 3) {
            throw new FormatError(
              `${name}: TQ2_0 code 3 (not a trit) for element ${
                base + 128 * h + m + 32 * n4
              } in block ${b}`,
            );
          }
          trits[base + 128 * h + m + 32 * n4] = c - 1;
        }
      }
    }
    scales[b] = f16ToF32(bytes[o + QS_BYTES]! | (bytes[o + QS_BYTES + 1]! << 8));
  }
  return { trits, scales };
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
  const nb = checkLength(bytes, n, name);
  const out = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    const o = b * TQ2_0_BLOCK_BYTES;
    const base = b * TQ2_0_BLOCK_ELEMENTS;
    const d = f16ToF32(bytes[o + QS_BYTES]! | (bytes[o + QS_BYTES + 1]! << 8));
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        const q = bytes[o + 32 * h + m]!;
        const e = base + 128 * h + m;
        out[e] = ((q & 3) - 1) * d;
        out[e + 32] = (((q >> 2) & 3) - 1) * d;
        out[e + 64] = (((q >> 4) & 3) - 1) * d;
        out[e + 96] = ((q >> 6) - 1) * d;
      }
    }
  }
  return out;
}
