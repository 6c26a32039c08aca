/**
 * ggml's ternary block types TQ1_0 and TQ2_0 (docs/reference/formats.md,
 * "TQ2_0 and TQ1_0"; ggml src/ggml-common.h `block_tq1_0` / `block_tq2_0`,
 * ggml-quants.c `quantize_row_tq*_0_ref` / `dequantize_row_tq*_0`): blocks of
 * 256 codes (code = trit + 1) followed by an f16 scale d, quantized as ggml's
 * reference quantizer does and dequantized as (code − 1)·d. Each type only
 * says how its codes sit in a block ({@link TernaryBlockLayout}):
 *
 * - TQ2_0, 66 bytes `{ u8 qs[64]; f16 d; }`: for half h ∈ {0, 1}, byte
 *   qs[32h + m] holds elements 128h + m + 32n at bits 2n (n = 0..3).
 * - TQ1_0, 54 bytes `{ u8 qs[48]; u8 qh[4]; f16 d; }`: qs[m], m < 32, holds
 *   elements m + 32n (n = 0..4); qs[32 + m], m < 16, elements 160 + m + 16n;
 *   qh[j] elements 240 + j + 4n (n = 0..3) and a fifth trit of 0. A byte's
 *   value is q = Σ c_n·3^(4−n), stored as ceil(q·256/243) so that trit n
 *   decodes as `((u8)(byte·3ⁿ)·3) >> 8`.
 *
 * Blocks are independent, so a tensor can be packed in slabs of whole blocks.
 * ggml also requires each row (ne[0]) to be a multiple of 256; that check
 * belongs to the caller, which knows the shape.
 *
 * @example
 * ```ts
 * import { blocksFromTrits, decodeBlocks, TQ2_0_LAYOUT } from "./ternary_blocks.ts";
 * const bytes = blocksFromTrits(TQ2_0_LAYOUT, new Int8Array(256).fill(1), 0.5); // 66 bytes
 * decodeBlocks(TQ2_0_LAYOUT, bytes, 256).scales[0]; // 0.5
 * ```
 * @module
 */

import { FormatError, NotTernaryError } from "../errors.ts";
import { f16ToF32, f32ToF16 } from "./float.ts";
import { TRIT_CODE, wholeBlocks } from "./ternary.ts";

/** Elements per block (QK_K). */
export const BLOCK_ELEMENTS = 256;

/** How one ternary block type lays out its 256 codes. */
export interface TernaryBlockLayout {
  /** "TQ1_0" or "TQ2_0", for messages. */
  readonly name: string;
  readonly blockBytes: number;
  /** Byte offset of the f16 scale d inside a block. */
  readonly scaleOffset: number;
  /** Writes the codes (0..2) `codes[base … base+255]` as the block at `out[o]`. */
  pack(out: Uint8Array, o: number, codes: Uint8Array, base: number): void;
  /** Reads the block at `bytes[o]` into `codes[base … base+255]` (0..3). */
  unpack(bytes: Uint8Array, o: number, codes: Uint8Array, base: number): void;
}

/** Blocks in `n` elements; a count that is not a multiple of 256 is a NotTernaryError. */
function blockCount(layout: TernaryBlockLayout, n: number, name: string): number {
  return wholeBlocks(n, BLOCK_ELEMENTS, layout.name, name);
}

/** The codes (0..3) of `n` elements and each block's scale; a FormatError when `bytes` is short. */
function unpackBlocks(layout: TernaryBlockLayout, bytes: Uint8Array, n: number, name: string) {
  const nb = blockCount(layout, n, name);
  if (bytes.length < nb * layout.blockBytes) {
    throw new FormatError(
      `${name}: ${layout.name} data of ${n} elements needs ${
        nb * layout.blockBytes
      } bytes, got ${bytes.length}`,
    );
  }
  const codes = new Uint8Array(n);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    const o = b * layout.blockBytes;
    layout.unpack(bytes, o, codes, b * BLOCK_ELEMENTS);
    scales[b] = readScale(layout, bytes, o);
  }
  return { codes, scales };
}

/** f16 bits of a block scale; refuses scales that f16 turns into inf. */
function scaleBits(layout: TernaryBlockLayout, d: number, name: string, block: number): number {
  const h = f32ToF16(d);
  if ((h & 0x7c00) === 0x7c00) {
    throw new NotTernaryError(
      `${name}: ${layout.name} block ${block} scale ${d} does not fit in f16`,
    );
  }
  return h;
}

function writeScale(layout: TernaryBlockLayout, out: Uint8Array, o: number, h: number): void {
  out[o + layout.scaleOffset] = h & 0xff;
  out[o + layout.scaleOffset + 1] = h >> 8;
}

function readScale(layout: TernaryBlockLayout, bytes: Uint8Array, o: number): number {
  return f16ToF32(bytes[o + layout.scaleOffset]! | (bytes[o + layout.scaleOffset + 1]! << 8));
}

/** C `lroundf`: round half away from zero (what ggml's reference quantizer uses). */
function lroundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

/**
 * Quantizes float values exactly as ggml's `quantize_row_tq*_0_ref`: per block
 * d = max|x| (float32, stored as f16), `id = 1/d` in float32, code =
 * lroundf(x·id) + 1 — round half **away from zero**, on the float32 d (not the
 * f16-rounded one). Throws NotTernaryError on a non-finite value or a block max
 * beyond f16 range.
 *
 * @example
 * ```ts
 * quantizeBlocks(TQ2_0_LAYOUT, new Float32Array(256).fill(0.5)); // 66 bytes, d = 0.5
 * ```
 */
export function quantizeBlocks(
  layout: TernaryBlockLayout,
  values: Float32Array,
  name = "tensor",
): Uint8Array {
  const nb = blockCount(layout, values.length, name);
  const out = new Uint8Array(nb * layout.blockBytes);
  const codes = new Uint8Array(BLOCK_ELEMENTS);
  for (let b = 0; b < nb; b++) {
    const base = b * BLOCK_ELEMENTS;
    let amax = 0;
    for (let j = 0; j < BLOCK_ELEMENTS; j++) {
      const v = values[base + j]!;
      if (!Number.isFinite(v)) {
        throw new NotTernaryError(
          `${name}: element ${base + j} is ${v}, cannot quantize to ${layout.name}`,
        );
      }
      const a = Math.abs(v);
      if (a > amax) amax = a;
    }
    const id = amax ? Math.fround(1 / amax) : 0;
    for (let j = 0; j < BLOCK_ELEMENTS; j++) {
      codes[j] = lroundf(Math.fround(values[base + j]! * id)) + 1;
    }
    const o = b * layout.blockBytes;
    layout.pack(out, o, codes, 0);
    writeScale(layout, out, o, scaleBits(layout, amax, name, b));
  }
  return out;
}

/**
 * Packs trits that share one tensor scale `s` (the absmean quantizer's case).
 * Each block stores d = f16(s), except an all-zero block, which stores d = 0
 * as ggml's quantizer does for a block whose max is 0 — so the bytes equal
 * {@link quantizeBlocks} of the values trit·s. Throws NotTernaryError on a trit
 * outside −1…1, or when s is not positive or does not survive f16 rounding.
 *
 * @example
 * ```ts
 * blocksFromTrits(TQ1_0_LAYOUT, new Int8Array(256).fill(-1), 1)[0]; // all codes 0 → 0
 * ```
 */
export function blocksFromTrits(
  layout: TernaryBlockLayout,
  trits: Int8Array,
  scale: number,
  name = "tensor",
): Uint8Array {
  const nb = blockCount(layout, trits.length, name);
  if (!(scale > 0)) {
    throw new NotTernaryError(`${name}: ${layout.name} tensor scale must be > 0, got ${scale}`);
  }
  const h = scaleBits(layout, scale, name, 0);
  if (h === 0) {
    throw new NotTernaryError(`${name}: ${layout.name} tensor scale ${scale} rounds to 0 in f16`);
  }
  const codes = new Uint8Array(trits.length);
  const u = new Uint8Array(trits.buffer, trits.byteOffset, trits.length);
  const out = new Uint8Array(nb * layout.blockBytes);
  for (let b = 0; b < nb; b++) {
    const base = b * BLOCK_ELEMENTS;
    let nonzero = 0;
    for (let j = base; j < base + BLOCK_ELEMENTS; j++) {
      const c = TRIT_CODE[u[j]!]!;
      if (c > 2) {
        throw new NotTernaryError(
          `${name}: element ${j} has trit ${trits[j]}, expected -1, 0 or 1`,
        );
      }
      codes[j] = c;
      nonzero |= c ^ 1;
    }
    const o = b * layout.blockBytes;
    layout.pack(out, o, codes, base);
    if (nonzero) writeScale(layout, out, o, h);
  }
  return out;
}

/**
 * Decodes to trits and per-block scales (f16 → f32). Throws FormatError on a
 * code 3 (ggml would read it as +2·d; it is not a trit) or a short buffer.
 *
 * @example
 * ```ts
 * decodeBlocks(TQ2_0_LAYOUT, blocksFromTrits(TQ2_0_LAYOUT, new Int8Array(256), 1), 256).trits[0]; // 0
 * ```
 */
export function decodeBlocks(
  layout: TernaryBlockLayout,
  bytes: Uint8Array,
  n: number,
  name = "tensor",
): { trits: Int8Array; scales: Float32Array } {
  const { codes, scales } = unpackBlocks(layout, bytes, n, name);
  const trits = new Int8Array(n);
  for (let i = 0; i < n; i++) {
    const c = codes[i]!;
    if (c === 3) {
      throw new FormatError(
        `${name}: ${layout.name} code 3 (not a trit) for element ${i} in block ${i >> 8}`,
      );
    }
    trits[i] = c - 1;
  }
  return { trits, scales };
}

/**
 * Dequantizes to float32 exactly as ggml's `dequantize_row_tq*_0`:
 * (code − 1)·d, so a stray code 3 gives 2·d there too.
 *
 * @example
 * ```ts
 * dequantizeBlocks(TQ2_0_LAYOUT, blocksFromTrits(TQ2_0_LAYOUT, new Int8Array(256).fill(1), 0.5), 256)[0]; // 0.5
 * ```
 */
export function dequantizeBlocks(
  layout: TernaryBlockLayout,
  bytes: Uint8Array,
  n: number,
  name = "tensor",
): Float32Array {
  const { codes, scales } = unpackBlocks(layout, bytes, n, name);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (codes[i]! - 1) * scales[i >> 8]!;
  return out;
}

/** The TQ2_0 block: `{ u8 qs[64]; f16 d; }`, four 2-bit codes per byte. */
export const TQ2_0_LAYOUT: TernaryBlockLayout = {
  name: "TQ2_0",
  blockBytes: 66,
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
  blockBytes: 54,
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
