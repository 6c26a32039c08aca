/**
 * Streaming reads of float tensors for the quantizer: values decoded chunk by
 * chunk to f32 (so no tensor is ever held whole), and the pre-pass that finds
 * whether a projection is already ternary — every value exactly −s, 0 or +s
 * for one s — merging {@link ternaryInfo} over the chunks, with the absmean
 * scale accumulated alongside when ternarization may be needed.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { scanTernary } from "./scan.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const scan = await scanTernary(gguf, gguf.tensor("blk.0.attn_q.weight"), { absmean: false, full: true });
 * scan.ternary; // true for a clean BitNet export
 * gguf.close();
 * ```
 * @module
 */

import { NotTernaryError, UnsupportedError } from "../errors.ts";
import { bf16ToF32, f16ToF32 } from "../codecs/float.ts";
import { bf16ToF32Array, f16ToF32Array } from "../codecs/float_bulk.ts";
import { AbsmeanAccumulator, ternaryInfo } from "../codecs/ternary.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { GGML_TYPES, GgmlType } from "../gguf/types.ts";
import {
  classifyBits16,
  firstInvalid16,
  firstMagnitude16,
  ternaryCodeTable16,
} from "./ternary_bits.ts";

/** Float storage types the quantizer reads values from. */
export const FLOAT_INPUT_TYPES: readonly number[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * Elements per streamed chunk: a multiple of every block size (128, 256), so
 * every chunk but the last holds whole blocks, and the last one does too when
 * the tensor's rows do.
 */
export const CHUNK_ELEMENTS = 1 << 20;

/** True when `type` is a float type values can be read from. */
export function isFloatInput(type: number): boolean {
  return FLOAT_INPUT_TYPES.includes(type);
}

/**
 * Streams a float tensor's values as f32, `chunkElements` at a time (the
 * last chunk may be shorter). The yielded array is reused between steps.
 * A non-float tensor is an {@link UnsupportedError} naming it.
 *
 * @example
 * ```ts
 * for await (const values of streamFloatValues(gguf, gguf.tensor("output_norm.weight"))) {
 *   console.log(values.length);
 * }
 * ```
 */
export async function* streamFloatValues(
  gguf: GgufFile,
  t: GgufTensorInfo,
  chunkElements = CHUNK_ELEMENTS,
): AsyncGenerator<Float32Array> {
  if (!isFloatInput(t.type)) {
    throw new UnsupportedError(
      `${gguf.path}: tensor ${t.name} is ${
        GGML_TYPES[t.type].name
      }; values can only be read from F32, F16 or BF16`,
    );
  }
  const width = elementWidth(t.type);
  const out = new Float32Array(Math.min(chunkElements, t.nbytes / width));
  for await (const bytes of gguf.streamTensor(t, chunkElements * width)) {
    yield decodeFloatChunk(t.type, bytes, out);
  }
}

/** Bytes per element of a float input type. */
function elementWidth(type: number): number {
  return type === GgmlType.F32 ? 4 : 2;
}

/**
 * Decodes a chunk of a float tensor (`bytes` starting at an element boundary,
 * at a byte offset aligned to the element size) into the front of `out`,
 * which must hold at least as many elements; returns that part of `out`.
 *
 * @example
 * ```ts
 * const out = new Float32Array(2);
 * decodeFloatChunk(GgmlType.F16, new Uint8Array([0x00, 0x3c, 0x00, 0xc0]), out); // [1, -2]
 * ```
 */
export function decodeFloatChunk(type: number, bytes: Uint8Array, out: Float32Array): Float32Array {
  const n = bytes.length / elementWidth(type);
  const dst = out.subarray(0, n);
  if (type === GgmlType.F32) {
    dst.set(new Float32Array(bytes.buffer, bytes.byteOffset, n));
  } else if (type === GgmlType.F16) {
    f16ToF32Array(new Uint16Array(bytes.buffer, bytes.byteOffset, n), dst);
  } else if (type === GgmlType.BF16) {
    bf16ToF32Array(new Uint16Array(bytes.buffer, bytes.byteOffset, n), dst);
  } else {
    throw new UnsupportedError(`ggml type ${type} is not a float type (F32, F16 or BF16)`);
  }
  return dst;
}

/** What {@link scanTernary} found in one tensor. */
export interface TernaryScan {
  /** Every value is exactly −s, 0 or +s for a single s (an all-zero tensor counts, s = 0). */
  readonly ternary: boolean;
  /** s of a ternary tensor (0 when all values are zero or the tensor is not ternary). */
  readonly scale: number;
  /** For a ternary F16/BF16 tensor: the bit pattern of +s (0 when all values are zero). */
  readonly scaleBits?: number;
  /** Counts of −s, 0 and +s values (over the whole tensor when it is ternary). */
  readonly neg: number;
  readonly zero: number;
  readonly pos: number;
  /** Values that show the tensor is not ternary (for the error message); empty when ternary. */
  readonly witnesses: readonly number[];
  /** The absmean scale max(mean|W|, 1e-5), when asked for. */
  readonly absmeanScale?: number;
  /**
   * False when the scan stopped early (`full: false`): a tensor found ternary
   * was then only checked up to the first chunk that fixes s, and its counts
   * cover that part only.
   */
  readonly complete: boolean;
}

/** Up to two magnitudes that break "one s": the first nonzero |v| and another one. */
function witnessesOf(values: Float32Array, known: number): number[] {
  let first = known;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v !== v || !Number.isFinite(v)) return first ? [first, v] : [v];
    if (v === 0) continue;
    const a = Math.abs(v);
    if (first === 0) first = a;
    else if (a !== first) return [first, a];
  }
  return first ? [first] : [];
}

/** Scalar decoding of one 16-bit pattern, and the exponent mask that marks inf/NaN. */
function bits16Format(type: number): { decode: (bits: number) => number; expMask: number } {
  return type === GgmlType.F16
    ? { decode: f16ToF32, expMask: 0x7c00 }
    : { decode: bf16ToF32, expMask: 0x7f80 };
}

/** Absmean of the values, or a NotTernaryError naming the tensor. */
function absmeanOf(acc: AbsmeanAccumulator, gguf: GgufFile, t: GgufTensorInfo): number {
  try {
    return acc.scale();
  } catch (e) {
    throw new NotTernaryError(`${gguf.path}: tensor ${t.name}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The F16/BF16 scan: classify bit patterns with one table (ternary_bits.ts). */
async function scanBits16(
  gguf: GgufFile,
  t: GgufTensorInfo,
  acc: AbsmeanAccumulator | undefined,
  full: boolean,
): Promise<TernaryScan> {
  const { decode, expMask } = bits16Format(t.type);
  const counts = new Float64Array(4);
  const values = acc ? new Float32Array(Math.min(CHUNK_ELEMENTS, t.nbytes / 2)) : undefined;
  let scaleBits = 0;
  let table: Uint8Array | null = null;
  let ternary = true;
  let witnesses: number[] = [];
  let read = 0;
  for await (const bytes of gguf.streamTensor(t, CHUNK_ELEMENTS * 2)) {
    read += bytes.length;
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    if (acc) acc.add(decodeFloatChunk(t.type, bytes, values!));
    if (!ternary) {
      if (!acc) break;
      continue;
    }
    if (table === null) {
      scaleBits = firstMagnitude16(bits);
      if (scaleBits === 0) {
        counts[1]! += bits.length;
        continue;
      }
      if ((scaleBits & expMask) === expMask) {
        ternary = false;
        witnesses = [decode(scaleBits)];
        continue;
      }
      table = ternaryCodeTable16(scaleBits);
    }
    classifyBits16(bits, table, counts);
    if (counts[3]! > 0) {
      ternary = false;
      witnesses = [decode(scaleBits), decode(bits[firstInvalid16(bits, table)]! & 0x7fff)];
      if (!acc) break;
    } else if (!full && !acc) break;
  }
  const base = {
    complete: read === t.nbytes,
    ternary,
    scale: ternary ? decode(scaleBits) : 0,
    ...(ternary ? { scaleBits } : {}),
    neg: counts[0]!,
    zero: counts[1]!,
    pos: counts[2]!,
    witnesses,
  };
  return acc ? { ...base, absmeanScale: absmeanOf(acc, gguf, t) } : base;
}

/**
 * A streamed pass over a float projection: is it ternary, with which s, and
 * (with `absmean: true`, which reads everything) its absmean scale, so that
 * a non-ternary tensor can be ternarized in the single encoding pass that
 * follows. With `full: false` a tensor is read only until s is known and one
 * chunk is checked — enough to refuse a float checkpoint before writing
 * anything; the encoding pass checks every value again anyway. F16 and BF16
 * go through the table of ternary_bits.ts; F32 through `ternaryInfo`.
 *
 * @example
 * ```ts
 * const scan = await scanTernary(gguf, gguf.tensor("blk.0.ffn_up.weight"), { absmean: true, full: true });
 * scan.ternary ? scan.scale : scan.absmeanScale;
 * ```
 */
export async function scanTernary(
  gguf: GgufFile,
  t: GgufTensorInfo,
  opts: { absmean: boolean; full: boolean },
): Promise<TernaryScan> {
  const acc = opts.absmean ? new AbsmeanAccumulator() : undefined;
  if (!isFloatInput(t.type)) {
    throw new UnsupportedError(
      `${gguf.path}: tensor ${t.name} is ${
        GGML_TYPES[t.type].name
      }; values can only be read from F32, F16 or BF16`,
    );
  }
  if (t.type !== GgmlType.F32) return await scanBits16(gguf, t, acc, opts.full);
  let ternary = true;
  let scale = 0;
  let neg = 0, zero = 0, pos = 0;
  let witnesses: number[] = [];
  let read = 0;
  for await (const values of streamFloatValues(gguf, t)) {
    read += values.length;
    const info = ternaryInfo(values);
    neg += info.neg;
    zero += info.zero;
    pos += info.pos;
    acc?.add(values);
    if (!ternary) continue;
    if (!info.ternary) {
      ternary = false;
      witnesses = witnessesOf(values, scale);
    } else if (info.scale !== 0) {
      if (scale === 0) scale = info.scale;
      else if (info.scale !== scale) {
        ternary = false;
        witnesses = [scale, info.scale];
      }
    }
    if (!acc && (!ternary || (!opts.full && scale !== 0))) break;
  }
  const complete = read * 4 === t.nbytes;
  const base = { complete, ternary, scale: ternary ? scale : 0, neg, zero, pos, witnesses };
  return acc ? { ...base, absmeanScale: absmeanOf(acc, gguf, t) } : base;
}
