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
import { AbsmeanAccumulator, ternaryInfo } from "../codecs/ternary.ts";
import { codecOf, type FloatCodec } from "../codecs/table.ts";
import {
  classifyBits16,
  firstInvalid16,
  firstMagnitude16,
  ternaryCodeTable16,
} from "../codecs/ternary_bits.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { tensorValueChunks } from "../stats/tensor_values.ts";

/**
 * Elements per streamed chunk: a multiple of every block size (128, 256), so
 * every chunk but the last holds whole blocks, and the last one does too when
 * the tensor's rows do.
 */
export const CHUNK_ELEMENTS = 1 << 20;

/**
 * Bytes per read of a scan that stops early (no absmean): it reads until s
 * is known and one chunk is checked, so a small chunk keeps that part (and
 * the read-ahead it discards) to a fraction of a megabyte per tensor.
 */
const EARLY_SCAN_BYTES = 1 << 18;

/**
 * The float part of a tensor's codec row; any other type is an
 * {@link UnsupportedError} naming the tensor (values are read from floats only).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * floatCodecOf(gguf, gguf.tensor("output_norm.weight")).bytes; // 4
 * ```
 */
export function floatCodecOf(gguf: GgufFile, t: GgufTensorInfo): FloatCodec {
  const codec = codecOf(t.type);
  if (!codec.float) {
    throw new UnsupportedError(
      `${gguf.path}: tensor ${t.name} is ${codec.name}; quantize from the float export (F32, F16 or BF16 projections)`,
    );
  }
  return codec.float;
}

/**
 * Streams a float tensor's values as f32, {@link CHUNK_ELEMENTS} at a time
 * (the yielded array is reused between steps).
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * for await (const v of streamFloatValues(gguf, gguf.tensor("blk.0.attn_q.weight"))) console.log(v.length);
 * ```
 */
export function streamFloatValues(gguf: GgufFile, t: GgufTensorInfo): AsyncGenerator<Float32Array> {
  return tensorValueChunks(gguf, t, CHUNK_ELEMENTS * floatCodecOf(gguf, t).bytes);
}

/** What {@link scanTernary} found in one tensor. */
export interface TernaryScan {
  /** Every value is exactly −s, 0 or +s for a single s (an all-zero tensor counts, s = 0). */
  readonly ternary: boolean;
  /** s of a ternary tensor (0 when all values are zero or the tensor is not ternary). */
  readonly scale: number;
  /** For a ternary F16/BF16 tensor: the bit pattern of +s (0 when all values are zero). */
  readonly scaleBits?: number;
  /** Values that show the tensor is not ternary (for the error message); empty when ternary. */
  readonly witnesses: readonly number[];
  /** The absmean scale max(mean|W|, 1e-5), when asked for. */
  readonly absmeanScale?: number;
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
  float: FloatCodec,
  acc: AbsmeanAccumulator | undefined,
  full: boolean,
): Promise<TernaryScan> {
  const decode = float.value;
  const counts = new Float64Array(4);
  const values = acc ? new Float32Array(Math.min(CHUNK_ELEMENTS, t.nbytes / 2)) : undefined;
  let scaleBits = 0;
  let table: Uint8Array | null = null;
  let ternary = true;
  let witnesses: number[] = [];
  const chunkBytes = acc || full ? CHUNK_ELEMENTS * 2 : EARLY_SCAN_BYTES;
  for await (const bytes of gguf.streamTensor(t, chunkBytes)) {
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.length / 2);
    if (acc) acc.add(float.decodeInto(bytes, values!));
    if (!ternary) {
      if (!acc) break;
      continue;
    }
    if (table === null) {
      scaleBits = firstMagnitude16(bits);
      if (scaleBits === 0) continue;
      if (scaleBits >= float.infBits) {
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
    ternary,
    scale: ternary ? decode(scaleBits) : 0,
    ...(ternary ? { scaleBits } : {}),
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
 * go through the table of lib/codecs/ternary_bits.ts; F32 through `ternaryInfo`.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
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
  const float = floatCodecOf(gguf, t);
  if (float.bytes === 2) return await scanBits16(gguf, t, float, acc, opts.full);
  let ternary = true;
  let scale = 0;
  let witnesses: number[] = [];
  for await (const values of streamFloatValues(gguf, t)) {
    const info = ternaryInfo(values);
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
  const base = { ternary, scale: ternary ? scale : 0, witnesses };
  return acc ? { ...base, absmeanScale: absmeanOf(acc, gguf, t) } : base;
}
