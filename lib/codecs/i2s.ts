/**
 * I2_S, bitnet.cpp's 2-bit ternary tensor layout (docs/reference/formats.md, "I2_S", the x86
 * layout of microsoft/BitNet src/ggml-bitnet-mad.cpp `quantize_i2_s`).
 *
 * Codes: −1 → 0, 0 → 1, +1 → 2 (3 is invalid). Elements are flattened
 * row-major; each block of 128 elements is 32 bytes, element j of block b in
 * byte 32b + (j mod 32) at bit shift 6 − 2·(j div 32). After the n/4 packed
 * bytes come one little-endian f32 scale and 28 zero bytes: n/4 + 32 bytes.
 *
 * @example
 * ```ts
 * import { packI2S, unpackI2S } from "./i2s.ts";
 * const trits = new Int8Array(128).fill(1);
 * const bytes = packI2S(trits, 0.5); // 64 bytes, the first 32 are 0xaa
 * unpackI2S(bytes, 128).scale; // 0.5
 * ```
 * @module
 */

import { FormatError, NotTernaryError } from "../errors.ts";
import { TRIT_CODE, wholeBlocks } from "./ternary.ts";

/** Elements per I2_S block (x86 layout). */
export const I2S_BLOCK_ELEMENTS = 128;
/** The tail after the packed codes: the f32 scale and 28 zero bytes. */
export const I2S_TAIL_BYTES = 32;

/**
 * Bytes an I2_S tensor of `n` elements occupies: n/4 packed + 32 (scale and padding).
 * Throws NotTernaryError if `n` is not a multiple of 128.
 *
 * @example
 * ```ts
 * i2sByteSize(2560 * 6912); // 4423712
 * ```
 */
export function i2sByteSize(n: number, name = "tensor"): number {
  wholeBlocks(n, I2S_BLOCK_ELEMENTS, "I2_S", name);
  return n / 4 + I2S_TAIL_BYTES;
}

/**
 * The 32 bytes that follow the packed codes: `scale` as LE f32, then 28 zeros.
 * A streaming writer appends this after the last slab.
 *
 * @example
 * ```ts
 * i2sTail(1); // [0x00, 0x00, 0x80, 0x3f, 0, 0, ... 0]
 * ```
 */
export function i2sTail(scale: number): Uint8Array {
  const out = new Uint8Array(I2S_TAIL_BYTES);
  new DataView(out.buffer).setFloat32(0, scale, true);
  return out;
}

/**
 * Packs a slab of trits into `dst`, where `dst` holds the packed codes of the
 * whole tensor (or any buffer laid out the same way) and `elementOffset` is
 * the index of `trits[0]` in the tensor: bytes `elementOffset/4 …
 * (elementOffset + trits.length)/4 − 1` of `dst` are overwritten. To pack into
 * a slab-sized buffer, pass elementOffset 0. Both `elementOffset` and
 * `trits.length` must be multiples of 128. Throws NotTernaryError on a trit
 * outside −1…1, naming the tensor element.
 *
 * @example
 * ```ts
 * const dst = new Uint8Array(i2sByteSize(256));
 * packI2SInto(new Int8Array(128), dst, 128); // bytes 32..63 become 0x55
 * ```
 */
export function packI2SInto(
  trits: Int8Array,
  dst: Uint8Array,
  elementOffset: number,
  name = "tensor",
): void {
  wholeBlocks(trits.length, I2S_BLOCK_ELEMENTS, "I2_S", name);
  if (!Number.isSafeInteger(elementOffset) || elementOffset % I2S_BLOCK_ELEMENTS !== 0) {
    throw new NotTernaryError(
      `${name}: I2_S slab offset must be a multiple of ${I2S_BLOCK_ELEMENTS}, got ${elementOffset}`,
    );
  }
  const byteStart = elementOffset / 4;
  if (byteStart < 0 || byteStart + trits.length / 4 > dst.length) {
    throw new RangeError(
      `${name}: I2_S slab at element ${elementOffset} (+${trits.length}) does not fit in ${dst.length} bytes`,
    );
  }
  const codes = TRIT_CODE;
  const u = new Uint8Array(trits.buffer, trits.byteOffset, trits.length);
  let bad = 0;
  for (let base = 0, o = byteStart; base < u.length; base += I2S_BLOCK_ELEMENTS, o += 32) {
    for (let m = 0; m < 32; m++) {
      const c0 = codes[u[base + m]!]!;
      const c1 = codes[u[base + 32 + m]!]!;
      const c2 = codes[u[base + 64 + m]!]!;
      const c3 = codes[u[base + 96 + m]!]!;
      bad |= c0 | c1 | c2 | c3;
      dst[o + m] = (c0 << 6) | (c1 << 4) | (c2 << 2) | c3;
    }
  }
  if (bad & 4) {
    const i = trits.findIndex((t) => t < -1 || t > 1);
    throw new NotTernaryError(
      `${name}: element ${elementOffset + i} has trit ${trits[i]}, expected -1, 0 or 1`,
    );
  }
}

/**
 * Packs a whole tensor: n/4 code bytes, the f32 LE `scale`, 28 zero bytes.
 *
 * @example
 * ```ts
 * const bytes = packI2S(new Int8Array(128), 0.25);
 * bytes.length; // 64
 * ```
 */
export function packI2S(trits: Int8Array, scale: number, name = "tensor"): Uint8Array {
  const out = new Uint8Array(i2sByteSize(trits.length, name));
  packI2SInto(trits, out, 0, name);
  out.set(i2sTail(scale), trits.length / 4);
  return out;
}

/**
 * Unpacks an I2_S tensor of `n` elements (the padding after the scale is not
 * checked: bitnet.cpp leaves it uninitialized). Throws FormatError if `bytes`
 * is shorter than n/4 + 32 or holds the invalid code 3.
 *
 * @example
 * ```ts
 * const { trits, scale } = unpackI2S(packI2S(new Int8Array(128).fill(-1), 2), 128);
 * // trits all -1, scale 2
 * ```
 */
export function unpackI2S(
  bytes: Uint8Array,
  n: number,
  name = "tensor",
): { trits: Int8Array; scale: number } {
  const size = i2sByteSize(n, name);
  if (bytes.length < size) {
    throw new FormatError(
      `${name}: I2_S data of ${n} elements needs ${size} bytes, got ${bytes.length}`,
    );
  }
  const trits = new Int8Array(n);
  let bad = 0;
  for (let base = 0, o = 0; base < n; base += I2S_BLOCK_ELEMENTS, o += 32) {
    for (let m = 0; m < 32; m++) {
      const b = bytes[o + m]!;
      const c0 = b >> 6;
      const c1 = (b >> 4) & 3;
      const c2 = (b >> 2) & 3;
      const c3 = b & 3;
      bad |= (c0 & (c0 >> 1)) | (c1 & (c1 >> 1)) | (c2 & (c2 >> 1)) | (c3 & (c3 >> 1));
      trits[base + m] = c0 - 1;
      trits[base + 32 + m] = c1 - 1;
      trits[base + 64 + m] = c2 - 1;
      trits[base + 96 + m] = c3 - 1;
    }
  }
  if (bad) {
    const j = trits.indexOf(2);
    const byte = (j >> 7) * 32 + (j & 31);
    throw new FormatError(
      `${name}: I2_S code 3 (invalid) for element ${j} in byte ${byte} (0x${
        bytes[byte]!.toString(16).padStart(2, "0")
      })`,
    );
  }
  const scale = new DataView(bytes.buffer, bytes.byteOffset + n / 4, 4).getFloat32(0, true);
  return { trits, scale };
}
