/**
 * The fast way in for the two kinds of ternary projection a real model ships:
 * I2_S codes and 16-bit floats holding exactly −s, 0, +s (a clean F16/BF16
 * export). Both go slab by slab (a few MiB of rows) from the file into the
 * kernels' load staging (`Kernels.loadStaging`, a view of kernel memory: read
 * at the page cache's speed) and from there, in place, into the kernels'
 * layout as 2-bit codes (`Kernels.packTernaryI2S`, `Kernels.packTernaryHalf`,
 * which also count the trits), never as one byte per trit, and never through
 * a buffer the size of the tensor: fresh memory costs a page fault per 4 KiB.
 * Anything else (other types, widths that are not a multiple of 128,
 * non-ternary floats, invalid codes) returns null and the caller takes the
 * general path (`ternaryWeights`, weights.ts), which also reports the errors.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { createReferenceKernels } from "./kernels/reference.ts";
 * import { streamTernary } from "./ternary_stream.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const t = gguf.tensor("blk.0.attn_q.weight");
 * const k = createReferenceKernels(1 << 26);
 * const [rows, cols] = [t.shape[0]!, t.shape[1]!];
 * const dst = k.alloc(k.ternaryBytes(rows, cols));
 * const scale = await streamTernary(gguf, t, k, dst); // null: general path
 * ```
 * @module
 */

import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { codecOf, GgmlType } from "../codecs/table.ts";
import { I2S_BLOCK_ELEMENTS } from "../codecs/i2s.ts";
import { firstMagnitude16 } from "../codecs/ternary_bits.ts";
import type { Kernels, Ptr } from "./kernels/api.ts";
import type { PayloadSink } from "./weights.ts";

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
 * const scale = await streamTernary(g, t, k, dst);
 * ```
 */
export async function streamTernary(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  sink?: PayloadSink,
): Promise<number | null> {
  if (t.shape.length !== 2) return null;
  const rows = t.shape[0]!, cols = t.shape[1]!;
  if (cols % I2S_BLOCK_ELEMENTS !== 0) return null;
  try {
    if (t.type === GgmlType.I2_S) {
      return await streamI2S(g, t, k, dst, sink, rows, cols);
    }
    const float = codecOf(t.type).float;
    if (float?.bytes === 2) {
      return await streamHalf(g, t, k, dst, sink, rows, cols, float);
    }
  } catch (e) {
    // An invalid code: the general path decodes the tensor again and names the element.
    if (e instanceof RangeError && e.message.startsWith("packTernaryI2S: invalid")) return null;
    throw e;
  }
  return null;
}

/**
 * Where a slab of `rowBytes`-byte rows is read: the kernels' load staging (a
 * view of kernel memory, packed in place) when a row fits, else a buffer of one row.
 */
function slabBuffer(k: Kernels, rowBytes: number): { buffer: Uint8Array; rows: number } {
  const staging = k.loadStaging();
  const buffer = rowBytes <= staging.length ? staging : new Uint8Array(rowBytes);
  return { buffer, rows: Math.floor(buffer.length / rowBytes) };
}

/** One slab of rows handed out by {@link stagedSlabs}. */
interface Slab {
  readonly bytes: Uint8Array;
  /** Its first row and row count. */
  readonly r: number;
  readonly n: number;
}

/**
 * The `rows` rows of `t` (`rowBytes` each) in slabs read into the two halves of the load
 * staging, the next slab read while the caller packs this one: the read, a copy from the page
 * cache on a runtime thread, then costs no wall time. A slab is valid until the next one is
 * asked for; when the caller stops early, the read in flight is awaited first, so that none
 * lands in the staging afterwards.
 */
async function* stagedSlabs(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  rowBytes: number,
  rows: number,
): AsyncGenerator<Slab> {
  const slab = slabBuffer(k, rowBytes), half = Math.floor(slab.rows / 2);
  const step = Math.max(half, 1);
  const halves = half > 0
    ? [slab.buffer.subarray(0, half * rowBytes), slab.buffer.subarray(half * rowBytes)]
    : null;
  const read = (r: number) => {
    const into = halves ? halves[(r / step) % 2]! : slab.buffer;
    return g.readTensorSlice(
      t,
      r * rowBytes,
      into.subarray(0, Math.min(step, rows - r) * rowBytes),
    );
  };
  let next: Promise<Uint8Array> | null = read(0);
  try {
    for (let r = 0; r < rows; r += step) {
      const bytes: Uint8Array = await next!;
      next = halves && r + step < rows ? read(r + step) : null;
      yield { bytes, r, n: Math.min(step, rows - r) };
      // One buffer (a slab holds under two rows): the next read waits until this slab is packed.
      if (!halves && r + step < rows) next = read(r + step);
    }
  } finally {
    await next?.catch(() => undefined);
  }
}

async function streamI2S(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  sink: PayloadSink | undefined,
  rows: number,
  cols: number,
): Promise<number> {
  const rowBytes = cols / 4, codeBytes = rows * rowBytes;
  // The f32 scale follows the n/4 code bytes (docs/reference/formats.md, "I2_S").
  const tail = await g.readTensorSlice(t, codeBytes, new Uint8Array(4));
  sink?.bytes(tail, codeBytes);
  const scale = new DataView(tail.buffer, tail.byteOffset, 4).getFloat32(0, true);
  // With a sink that takes counts, the code bytes are not handed over: the packing counts.
  const counting = sink?.ternary !== undefined, counts = { neg: 0, zero: 0, pos: 0 };
  for await (const { bytes: codes, r, n } of stagedSlabs(g, t, k, rowBytes, rows)) {
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
 * 16-bit values that are exactly −s, ±0 or +s, packed by the kernels
 * (`Kernels.packTernaryHalf`; s is the first non-zero magnitude, as
 * `exactTrits` takes it); null at the first slab with any other value.
 */
async function streamHalf(
  g: GgufFile,
  t: GgufTensorInfo,
  k: Kernels,
  dst: Ptr,
  sink: PayloadSink | undefined,
  rows: number,
  cols: number,
  float: { infBits: number; value(bits: number): number },
): Promise<number | null> {
  const rowBytes = cols * 2;
  // With a sink that takes counts, the bytes are not handed over: the packing counts.
  const counting = sink?.ternary !== undefined, counts = { neg: 0, zero: 0, pos: 0 };
  let s = 0;
  for await (const { bytes, r, n } of stagedSlabs(g, t, k, rowBytes, rows)) {
    if (!counting) sink?.bytes(bytes, r * rowBytes);
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, n * cols);
    if (s === 0 && (s = firstMagnitude16(bits)) >= float.infBits) return null;
    const c = k.packTernaryHalf(bits, n, cols, s, dst, r, rows);
    if (c === null) return null;
    counts.neg += c.neg;
    counts.zero += c.zero;
    counts.pos += c.pos;
  }
  sink?.ternary?.({ ...counts, scaleBits: s });
  return float.value(s);
}
