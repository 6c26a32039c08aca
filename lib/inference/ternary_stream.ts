/**
 * The fast way in for the two kinds of ternary projection a real model ships:
 * I2_S codes and 16-bit floats holding exactly −s, 0, +s (a clean F16/BF16
 * export). Both go slab by slab (a few MiB of rows) from the file through one
 * reused buffer into the kernels' layout as 2-bit codes
 * (`Kernels.packTernaryI2S`), never as one byte per trit, and never through a
 * buffer the size of the tensor: fresh memory costs a page fault per 4 KiB.
 * Anything else (other types, widths that are not a multiple of 128,
 * non-ternary floats, invalid codes) returns null and the caller takes the
 * general path (`ternaryWeights`, weights.ts), which also reports the errors.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { createReferenceKernels } from "./kernels/reference.ts";
 * import { LoadScratch, streamTernary } from "./ternary_stream.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const t = gguf.tensor("blk.0.attn_q.weight");
 * const k = createReferenceKernels(1 << 26);
 * const [rows, cols] = [t.shape[0]!, t.shape[1]!];
 * const dst = k.alloc(k.ternaryBytes(rows, cols));
 * const scale = await streamTernary(gguf, t, k, dst, new LoadScratch()); // null: general path
 * ```
 * @module
 */

import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { codecOf, GgmlType } from "../codecs/table.ts";
import { I2S_BLOCK_ELEMENTS } from "../codecs/i2s.ts";
import { firstMagnitude16, INVALID, ternaryCodeTable16 } from "../codecs/ternary_bits.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { PayloadSink } from "./weights.ts";

/** File bytes read per slab. */
const SLAB_BYTES = 1 << 22;

/** The buffers one load reuses for every tensor (allocated on first use). */
export class LoadScratch {
  #bytes = new Uint8Array(0);
  #codes = new Uint8Array(0);

  /** A buffer of `n` bytes, 4-byte aligned, reused. */
  bytes(n: number): Uint8Array {
    if (this.#bytes.length < n) this.#bytes = new Uint8Array(Math.max(n, SLAB_BYTES));
    return this.#bytes.subarray(0, n);
  }

  /** A second buffer, for codes made from the bytes. */
  codes(n: number): Uint8Array {
    if (this.#codes.length < n) this.#codes = new Uint8Array(Math.max(n, SLAB_BYTES / 8));
    return this.#codes.subarray(0, n);
  }
}

/**
 * Loads a ternary projection `t` (`rows × cols`, ggml shape [cols, rows]) into
 * `dst` (`k.ternaryBytes(rows, cols)` bytes) and returns its scale, or null when
 * this path does not apply (then `dst` may hold partial data: the caller
 * overwrites it).
 *
 * @example
 * ```ts
 * import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
 * import type { Kernels } from "./kernels/api.ts";
 * declare const g: GgufFile, t: GgufTensorInfo, k: Kernels;
 * const dst = k.alloc(k.ternaryBytes(t.shape[0]!, t.shape[1]!));
 * const scale = await streamTernary(g, t, k, dst, new LoadScratch());
 * ```
 */
export async function streamTernary(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  scratch: LoadScratch,
  sink?: PayloadSink,
): Promise<number | null> {
  if (t.shape.length !== 2) return null;
  const rows = t.shape[0]!, cols = t.shape[1]!;
  if (cols % I2S_BLOCK_ELEMENTS !== 0) return null;
  try {
    if (t.type === GgmlType.I2_S) {
      return await streamI2S(g, t, k, dst, { scratch, sink }, rows, cols);
    }
    const float = codecOf(t.type).float;
    if (float?.bytes === 2) {
      return await streamHalf(g, t, k, dst, { scratch, sink }, rows, cols, float);
    }
  } catch (e) {
    // An invalid code: the general path decodes the tensor again and names the element.
    if (e instanceof RangeError && e.message.startsWith("packTernaryI2S: invalid")) return null;
    throw e;
  }
  return null;
}

/** The reused buffers, and who else sees the bytes read. */
interface Buffers {
  scratch: LoadScratch;
  sink: PayloadSink | undefined;
}

/** Rows per slab of `rowBytes` bytes each. */
function slabRows(rowBytes: number): number {
  return Math.max(1, Math.floor(SLAB_BYTES / rowBytes));
}

async function streamI2S(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  { scratch, sink }: Buffers,
  rows: number,
  cols: number,
): Promise<number> {
  const rowBytes = cols / 4, codeBytes = rows * rowBytes;
  // The f32 scale follows the n/4 code bytes (docs/reference/formats.md, "I2_S").
  const tail = await g.readTensorSlice(t, codeBytes, scratch.bytes(4));
  sink?.bytes(tail, codeBytes);
  const scale = new DataView(tail.buffer, tail.byteOffset, 4).getFloat32(0, true);
  const step = slabRows(rowBytes);
  // With a sink that takes counts, the code bytes are not handed over: the packing counts.
  const counting = sink?.ternary !== undefined, counts = { neg: 0, zero: 0, pos: 0 };
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const codes = await g.readTensorSlice(t, r * rowBytes, scratch.bytes(n * rowBytes));
    if (!counting) sink?.bytes(codes, r * rowBytes);
    const c = k.packTernaryI2S(codes, n, cols, dst, r, rows);
    counts.neg += c.neg;
    counts.zero += c.zero;
    counts.pos += c.pos;
  }
  sink?.ternary?.({ ...counts, scaleBits: 0 });
  return scale;
}

/**
 * 16-bit values as I2_S codes through the exact-ternary table of ternary_bits.ts
 * (s is the first non-zero magnitude, as `exactTrits` takes it); null at the
 * first value that is not −s, 0 or +s.
 */
async function streamHalf(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  { scratch, sink }: Buffers,
  rows: number,
  cols: number,
  float: { infBits: number; value(bits: number): number },
): Promise<number | null> {
  const rowBytes = cols * 2, step = slabRows(rowBytes);
  // With a sink that takes counts, the bytes are not handed over: the classification counts.
  const counting = sink?.ternary !== undefined, counts = { zero: 0, sum: 0 };
  let s = 0, table = ternaryCodeTable16(0);
  for (let r = 0; r < rows; r += step) {
    const n = Math.min(step, rows - r);
    const bytes = await g.readTensorSlice(t, r * rowBytes, scratch.bytes(n * rowBytes));
    if (!counting) sink?.bytes(bytes, r * rowBytes);
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, n * cols);
    if (s === 0 && (s = firstMagnitude16(bits)) !== 0) {
      if (s >= float.infBits) return null;
      table = ternaryCodeTable16(s);
    }
    const codes = scratch.codes((n * cols) / 4);
    if (codesFromBits(bits, table, codes, counts) & INVALID) return null;
    k.packTernaryI2S(codes, n, cols, dst, r, rows);
  }
  // Codes are 0 (−s), 1 (0), 2 (+s): their sum is zero + 2·pos.
  const pos = (counts.sum - counts.zero) / 2;
  sink?.ternary?.({ neg: rows * cols - counts.zero - pos, zero: counts.zero, pos, scaleBits: s });
  return float.value(s);
}

/**
 * I2_S codes of 16-bit values (length a multiple of 128); returns the OR of
 * every code and adds the number of zeros and the sum of the codes to `counts`.
 * `bits` must start 4-byte aligned and `out` 2-byte aligned (LoadScratch's are):
 * each 32-bit load holds two neighbouring values of one 32-value group, so one
 * pass makes two code bytes from four loads, written as one 16-bit store
 * (≈ 15 % less time per value than 16-bit loads).
 */
function codesFromBits(
  bits: Uint16Array,
  table: Uint8Array,
  out: Uint8Array,
  counts: { zero: number; sum: number },
): number {
  const words = new Uint32Array(bits.buffer, bits.byteOffset, bits.length >>> 1);
  const pairs = new Uint16Array(out.buffer, out.byteOffset, out.length >>> 1);
  let any = 0, zero = 0, sum = 0;
  // Little-endian: the low half of a word is the earlier value, and of a pair the earlier byte.
  for (let base = 0, o = 0; base < words.length; base += 64, o += 16) {
    for (let m = 0; m < 16; m++) {
      const w0 = words[base + m]!, w1 = words[base + 16 + m]!;
      const w2 = words[base + 32 + m]!, w3 = words[base + 48 + m]!;
      const a0 = table[w0 & 0xffff]!, a1 = table[w1 & 0xffff]!;
      const a2 = table[w2 & 0xffff]!, a3 = table[w3 & 0xffff]!;
      const b0 = table[w0 >>> 16]!, b1 = table[w1 >>> 16]!;
      const b2 = table[w2 >>> 16]!, b3 = table[w3 >>> 16]!;
      any |= a0 | a1 | a2 | a3 | b0 | b1 | b2 | b3;
      zero += (a0 & 1) + (a1 & 1) + (a2 & 1) + (a3 & 1) + (b0 & 1) + (b1 & 1) + (b2 & 1) +
        (b3 & 1);
      sum += a0 + a1 + a2 + a3 + b0 + b1 + b2 + b3;
      const lo = (a0 << 6) | (a1 << 4) | (a2 << 2) | a3;
      pairs[o + m] = lo | (((b0 << 6) | (b1 << 4) | (b2 << 2) | b3) << 8);
    }
  }
  counts.zero += zero;
  counts.sum += sum;
  return any;
}
