/**
 * meta.json's per-tensor statistics (`rms`, `min`, `max`, `ternary_scale`)
 * recomputed from the values stored in a GGUF, with the accumulators the
 * writers use (`StatsAccumulator`, and trit counts for ternary tensors), and
 * the rule that says when a recorded figure matches.
 *
 * Two writers' formulas exist for the RMS: the float sum `sqrt(Σv²/n)` over
 * the decoded values, and, for ternary tensors, `s·sqrt(nonzero/n)` from the
 * trit counts (the export's BitNet projections, every quantized projection).
 * They can differ in the last bit, so a recorded RMS must equal one of them
 * exactly. The float sum depends on how the writer split the tensor into
 * chunks; every writer reads 4 MiB at a time, so a tensor of at most
 * {@link EXACT_RMS_ELEMENTS} values is summed in one piece and reproduced bit
 * for bit; a larger non-ternary tensor is compared to
 * {@link RMS_RELATIVE_TOLERANCE} (and `model-verify` says so).
 * @module
 */

import { fromF32 } from "../export/convert.ts";
import type { GgufFile, GgufTensorInfo } from "../gguf/reader.ts";
import { type Codec, codecOf, CODECS, GgmlType } from "../codecs/table.ts";
import { StatsAccumulator, type TensorSummary } from "../stats/summary.ts";
import { elementCount, tensorValueChunks } from "../stats/tensor_values.ts";
import { TernaryAccumulator, type TernaryStats } from "../stats/ternary_stats.ts";

/** Tensors up to this many values are summed in one chunk by every writer (4 MiB of F32). */
export const EXACT_RMS_ELEMENTS = 1 << 20;

/**
 * Relative tolerance for the RMS of a larger non-ternary tensor: float64 sums
 * of up to 2^21 positive terms per chunk differ by at most ~2^21·2^-53 ≈ 2.3e-10
 * between two chunkings, halved by the square root.
 */
export const RMS_RELATIVE_TOLERANCE = 1e-8;

/** Bytes per streamed chunk of a tensor's payload (values, or bytes a {@link PayloadCounter} counts). */
export const STATS_CHUNK_BYTES = 1 << 22;

/** Trit counts of a tensor whose values are all −s, 0 or +s for one s (NaN and ±Infinity are not). */
export type TritCounts = Pick<TernaryStats, "ternary" | "scale" | "neg" | "zero" | "pos">;

/**
 * Counts −s, 0 and +s over chunks, s being the first non-zero magnitude: the
 * trit counts a writer records a ternary tensor's statistics from. One
 * comparison chain per value, so the check costs no more than the sum of squares.
 */
class TritCounter {
  #s = 0;
  #neg = 0;
  #zero = 0;
  #pos = 0;
  #ternary = true;

  add(values: Float32Array): void {
    if (!this.#ternary) return;
    let s = this.#s, neg = 0, zero = 0, pos = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v === 0) zero++;
      else if (v === s) pos++;
      else if (v === -s) neg++;
      else if (s === 0 && Number.isFinite(v)) {
        s = Math.abs(v);
        if (v > 0) pos++;
        else neg++;
      } else {
        this.#ternary = false;
        return;
      }
    }
    this.#s = s;
    this.#neg += neg;
    this.#zero += zero;
    this.#pos += pos;
  }

  result(): TritCounts {
    return {
      ternary: this.#ternary,
      scale: this.#s,
      neg: this.#neg,
      zero: this.#zero,
      pos: this.#pos,
    };
  }
}

/** What the stored values of one tensor give. */
export interface RecomputedStatistics {
  readonly elements: number;
  /** The float sum over the decoded values (NaN and ±Infinity excluded, as the writers do). */
  readonly summary: TensorSummary;
  /** Whether the values are exactly −s, 0, +s for one s, and their split. */
  readonly ternary: TritCounts;
  /** `s·sqrt(nonzero/n)`, the RMS a writer records from trit counts; ternary tensors only. */
  readonly ternaryRms?: number;
}

/**
 * Streams one tensor's values through the writers' accumulators; undefined
 * when its type has no decoder here (its statistics are then unverifiable).
 * A payload a codec refuses is a {@link FormatError} naming the tensor.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const s = await recomputeStatistics(gguf, gguf.tensor("output_norm.weight"));
 * console.log(s?.summary.rms, s?.ternary.ternary);
 * ```
 */
export async function recomputeStatistics(
  gguf: GgufFile,
  t: GgufTensorInfo,
): Promise<RecomputedStatistics | undefined> {
  const codec = (CODECS as Record<number, Codec | undefined>)[t.type];
  if (!codec) return undefined;
  const elements = elementCount(t);
  // I2_S and large F16/BF16 tensors from counts (no float pass over billions of values), TQ2_0
  // and TQ1_0 from their trits; counts that cannot tell (blocks with several scales, an invalid
  // code) fall through to the values, whose decoder also names the error.
  const counter = PayloadCounter.for(t);
  if (counter) {
    const counted = await counter.countAll(gguf.streamTensor(t, STATS_CHUNK_BYTES));
    if (counted !== undefined) return counted;
  } else if (codec.ternary) {
    const name = `${gguf.path}: tensor ${t.name}`;
    const counts = blockCounts(codec, await gguf.readTensor(t), elements, name);
    const fromTrits = countStatistics(counts, elements);
    if (fromTrits !== undefined) return fromTrits;
  }
  const stats = new StatsAccumulator();
  const trits = new TritCounter();
  // Small tensors in one chunk of their own size: no 4 MiB buffer for a 1 KiB norm.
  for await (const chunk of tensorValueChunks(gguf, t, Math.min(STATS_CHUNK_BYTES, t.nbytes))) {
    stats.add(chunk);
    trits.add(chunk);
  }
  return withTernaryRms(elements, stats.result(), trits.result());
}

/** The writers' ternary RMS, s·sqrt(nonzero/n) (the export's ternarySummary, the quantizer's row). */
function withTernaryRms(
  elements: number,
  summary: TensorSummary,
  ternary: TritCounts,
): RecomputedStatistics {
  const base = { elements, summary, ternary };
  if (!ternary.ternary || elements === 0) return base;
  return { ...base, ternaryRms: ternary.scale * Math.sqrt((ternary.neg + ternary.pos) / elements) };
}

/** Adds the 16-bit patterns of `bytes` (an even number of them) to `hist`. */
function countHalves(bytes: Uint8Array, hist: Uint32Array): void {
  const b = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const bits = new Uint16Array(b.buffer, b.byteOffset, b.length >> 1);
  for (let i = 0; i < bits.length; i++) hist[bits[i]!]!++;
}

/**
 * The statistics of a large F16/BF16 tensor from a histogram of its 65,536
 * bit patterns: one counting pass instead of decoding billions of values. Its
 * float sum is not the writer's summation order (no sum of a tensor this large
 * is: see the module comment) but is within the tolerance, and more accurate
 * (each bucket's count·v² is exact); min, max and the trit counts are exact.
 */
function histogramStatistics(
  hist: Uint32Array,
  decode: (bits: number) => number,
  elements: number,
): RecomputedStatistics {
  let count = 0, sum = 0, sumSq = 0, min = Infinity, max = -Infinity, nonFinite = 0;
  let s = 0, neg = 0, zero = 0, pos = 0, ternary = true;
  for (let bits = 0; bits < hist.length; bits++) {
    const c = hist[bits]!;
    if (c === 0) continue;
    const v = decode(bits);
    if (!Number.isFinite(v)) {
      nonFinite += c;
      ternary = false;
      continue;
    }
    count += c;
    sum += c * v;
    sumSq += c * v * v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) zero += c;
    else if (s === 0 || Math.abs(v) === s) {
      s = Math.abs(v);
      if (v > 0) pos += c;
      else neg += c;
    } else ternary = false;
  }
  const summary: TensorSummary = {
    count,
    rms: count ? Math.sqrt(sumSq / count) : 0,
    mean: count ? sum / count : 0,
    min: count ? min : 0,
    max: count ? max : 0,
    nonFinite,
  };
  return withTernaryRms(elements, summary, { ternary, scale: s, neg, zero, pos });
}

/**
 * Per byte of I2_S codes, how many of its four 2-bit codes are −1 (code 0),
 * +1 (code 2) and invalid (code 3) (docs/explanation/quantization-formats.md,
 * I2_S). Counting needs no unpacking: the layout only moves codes around.
 */
const I2S_BYTE_COUNTS = (() => {
  // One lookup per byte: −1 count in bits 0-9, +1 in bits 10-19, invalid in bits 20-29 (each
  // at most 4 per byte, so 255 bytes add up without carrying into the next field).
  const packed = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    for (let k = 0; k < 8; k += 2) {
      const code = (b >> k) & 3;
      if (code === 0) packed[b]! += 1;
      else if (code === 2) packed[b]! += 1 << 10;
      else if (code === 3) packed[b]! += 1 << 20;
    }
  }
  return packed;
})();

/** −1, +1 and invalid codes among I2_S code bytes. */
function countI2SCodes(codes: Uint8Array): { neg: number; pos: number; bad: number } {
  let neg = 0, pos = 0, bad = 0;
  for (let i = 0; i < codes.length;) {
    const end = Math.min(codes.length, i + 255);
    let acc = 0;
    for (; i < end; i++) acc += I2S_BYTE_COUNTS[codes[i]!]!;
    neg += acc & 1023;
    pos += (acc >>> 10) & 1023;
    bad += acc >>> 20;
  }
  return { neg, pos, bad };
}

function i2sTernaryStats(neg: number, pos: number, n: number, scale: number): TernaryStats {
  // TernaryAccumulator's rule: a scale that is not a finite number ≥ 0 makes no ternary tensor.
  const ternary = Number.isFinite(scale) && scale >= 0;
  const used = neg + pos > 0 ? scale : 0;
  return { ternary, scale: used, distinctScales: 1, neg, zero: n - neg - pos, pos, count: n };
}

/** Trit counts of a TQ2_0/TQ1_0 payload, block scale by block scale. */
function blockCounts(codec: Codec, payload: Uint8Array, n: number, name: string): TernaryStats {
  const { trits, scales, block } = codec.ternary!.decode(payload, n, name);
  const acc = new TernaryAccumulator();
  for (let b = 0; b < scales.length; b++) {
    acc.addTrits(trits, scales[b]!, b * block, Math.min(n, (b + 1) * block));
  }
  return acc.result();
}

/** What trit counts with one scale give (undefined when not ternary). */
function countStatistics(r: TernaryStats, elements: number): RecomputedStatistics | undefined {
  if (!r.ternary || r.scale < 0) return undefined;
  const s = r.scale;
  const summary: TensorSummary = {
    count: elements,
    rms: 0, // set below: the ternary RMS is the only form a writer records for these types
    mean: elements ? (s * (r.pos - r.neg)) / elements : 0,
    min: r.neg > 0 ? -s : r.zero > 0 ? 0 : s,
    max: r.pos > 0 ? s : r.zero > 0 ? 0 : -s,
    nonFinite: 0,
  };
  const counts: TritCounts = { ternary: true, scale: s, neg: r.neg, zero: r.zero, pos: r.pos };
  const stats = withTernaryRms(elements, summary, counts);
  return { ...stats, summary: { ...summary, rms: stats.ternaryRms ?? 0 } };
}

/**
 * The same counting statistics ({@link recomputeStatistics}'s trit counts of
 * I2_S, histogram of large F16/BF16 tensors) fed with the payload's bytes as
 * another reader (the engine's loader) reads them, so that a tensor is read
 * once for both. Byte ranges may come in any order but must not overlap;
 * `result()` is undefined until every byte that matters was seen, or when the
 * counts cannot tell (an invalid I2_S code, a scale that is not finite):
 * then recompute from the file, which also names the error.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-i2_s.gguf");
 * const t = gguf.tensor("blk.0.attn_q.weight");
 * const counter = PayloadCounter.for(t)!;
 * counter.add(await gguf.readTensor(t), 0);
 * counter.result()?.ternary.scale;
 * ```
 */
export class PayloadCounter {
  readonly #t: GgufTensorInfo;
  readonly #elements: number;
  /** Bytes that count: the codes of I2_S (the scale comes apart), the whole payload of 16-bit. */
  readonly #counted: number;
  #seen = 0;
  /** 16-bit tensors: a histogram of the bit patterns, allocated at the first bytes, dropped once complete. */
  readonly #half: boolean;
  #hist: Uint32Array | null = null;
  /** The 16-bit statistics, computed as soon as every byte was counted (frees the 256 KiB histogram). */
  #done: RecomputedStatistics | undefined;
  #neg = 0;
  #pos = 0;
  #bad = 0;
  #scale: number | undefined;

  private constructor(t: GgufTensorInfo, elements: number) {
    this.#t = t;
    this.#elements = elements;
    this.#counted = t.type === GgmlType.I2_S ? elements / 4 : t.nbytes;
    this.#half = t.type !== GgmlType.I2_S;
  }

  /** The histogram of a 16-bit tensor, made on first use. */
  #histogram(): Uint32Array {
    return this.#hist ??= new Uint32Array(1 << 16);
  }

  /** Once a 16-bit tensor is complete: its statistics, and the histogram let go. */
  #settle(): void {
    if (!this.#half || this.#seen !== this.#counted || !this.#hist) return;
    this.#done = histogramStatistics(
      this.#hist,
      codecOf(this.#t.type).float!.value,
      this.#elements,
    );
    this.#hist = null;
  }

  /**
   * A counter for an I2_S tensor or an F16/BF16 one of more than
   * {@link EXACT_RMS_ELEMENTS} values (smaller ones are summed value by value).
   */
  static for(t: GgufTensorInfo): PayloadCounter | undefined {
    const elements = elementCount(t);
    if (t.type === GgmlType.I2_S) {
      return elements % 128 === 0 ? new PayloadCounter(t, elements) : undefined;
    }
    const half = t.type === GgmlType.F16 || t.type === GgmlType.BF16;
    return half && elements > EXACT_RMS_ELEMENTS && elements < 2 ** 32
      ? new PayloadCounter(t, elements)
      : undefined;
  }

  /** Payload bytes [start, start + bytes.length). */
  add(bytes: Uint8Array, start: number): void {
    const end = Math.min(start + bytes.length, this.#counted);
    if (end > start) {
      const part = bytes.subarray(0, end - start);
      if (this.#half) countHalves(part, this.#histogram());
      else {
        const c = countI2SCodes(part);
        this.#neg += c.neg;
        this.#pos += c.pos;
        this.#bad += c.bad;
      }
      this.#seen += end - start;
      this.#settle();
    }
    const at = this.#counted - start;
    if (!this.#half && at >= 0 && at + 4 <= bytes.length) {
      this.#scale = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getFloat32(0, true);
    }
  }

  /**
   * Instead of the bytes of a 16-bit tensor: the counts of its values, all of
   * them −s, 0 or +s (`scaleBits` the pattern of +s). The histogram they make
   * gives the same statistics as the bytes would. For I2_S: the counts of its
   * codes instead of the code bytes (`scaleBits` unused; the scale still comes
   * through {@link PayloadCounter.add} with the payload's last 4 bytes).
   */
  addTernary(c: { neg: number; zero: number; pos: number; scaleBits: number }): void {
    if (c.neg + c.zero + c.pos !== this.#elements) return;
    if (!this.#half) {
      // I2_S: the counts of every code (the scale comes with the payload's bytes).
      [this.#neg, this.#pos, this.#bad] = [c.neg, c.pos, 0];
      this.#seen = this.#counted;
      return;
    }
    const hist = this.#histogram();
    hist.fill(0);
    hist[0] = c.zero;
    if (c.scaleBits !== 0) {
      hist[c.scaleBits] = c.pos;
      hist[c.scaleBits | 0x8000] = c.neg;
    }
    this.#seen = this.#counted;
    this.#settle();
  }

  /**
   * Adds the whole payload, read in order from `chunks` (from its first byte), and
   * gives {@link PayloadCounter.result}.
   *
   * @example
   * ```ts
   * import { openGguf } from "../gguf/reader.ts";
   * const gguf = await openGguf("models/clean/clean-i2_s.gguf");
   * const t = gguf.tensor("blk.0.attn_q.weight");
   * await PayloadCounter.for(t)!.countAll(gguf.streamTensor(t, STATS_CHUNK_BYTES));
   * ```
   */
  async countAll(chunks: AsyncIterable<Uint8Array>): Promise<RecomputedStatistics | undefined> {
    let at = 0;
    for await (const bytes of chunks) {
      this.add(bytes, at);
      at += bytes.length;
    }
    return this.result();
  }

  /** The statistics, once every counted byte was seen (undefined otherwise). */
  result(): RecomputedStatistics | undefined {
    if (this.#seen !== this.#counted) return undefined;
    if (this.#half) return this.#done;
    if (this.#scale === undefined || this.#bad > 0) return undefined;
    return countStatistics(
      i2sTernaryStats(this.#neg, this.#pos, this.#elements, this.#scale),
      this.#elements,
    );
  }
}

/** How a recorded RMS compares with the recomputed one. */
export type RmsAgreement = "exact" | "close" | "differs";

/**
 * "exact" when `recorded` is one of the writers' figures bit for bit; "close"
 * when the tensor is too large to reproduce the writer's summation order and
 * `recorded` is within {@link RMS_RELATIVE_TOLERANCE}; "differs" otherwise.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const stats = (await recomputeStatistics(gguf, gguf.tensor("output_norm.weight")))!;
 * rmsAgreement(stats.summary.rms, stats); // "exact"
 * ```
 */
export function rmsAgreement(recorded: number, s: RecomputedStatistics): RmsAgreement {
  if (recorded === s.summary.rms || recorded === s.ternaryRms) return "exact";
  if (s.elements <= EXACT_RMS_ELEMENTS || s.ternaryRms !== undefined) return "differs";
  const scale = Math.max(Math.abs(s.summary.rms), Number.MIN_VALUE);
  return Math.abs(recorded - s.summary.rms) <= RMS_RELATIVE_TOLERANCE * scale ? "close" : "differs";
}

/**
 * The scale an F16 or BF16 tensor stores for a ternary scale `x`, as the
 * export writes ±s (fromF32; "clamp" maps an overflowing s to ±65504);
 * undefined for other types, whose writers record the stored scale itself.
 */
function storedHalfScale(type: number, x: number): number | undefined {
  if (type !== GgmlType.F16 && type !== GgmlType.BF16) return undefined;
  const name = type === GgmlType.F16 ? "F16" : "BF16";
  return fromF32(new Float32Array([x]), name, "clamp").values[0];
}

/** How a recorded `ternary_scale` compares with the stored scale. */
export type ScaleAgreement = "exact" | "rounds-to-stored" | "differs" | "no-scale-stored";

/**
 * Compares a recorded `ternary_scale` with the scale the tensor stores: the
 * quantizer (I2_S, TQ2_0, TQ1_0) and an F32 export record the stored scale
 * itself, compared bit for bit ("exact"); an F16 or BF16 export records the
 * absmean s before rounding to the output type ("rounds-to-stored": the
 * digits beyond the stored precision cannot be checked). An all-zero tensor
 * stores no scale.
 *
 * @example
 * ```ts
 * import { openGguf } from "../gguf/reader.ts";
 * import { GgmlType } from "../gguf/types.ts";
 * const gguf = await openGguf("models/clean/clean-f16.gguf");
 * const stats = (await recomputeStatistics(gguf, gguf.tensor("blk.0.attn_q.weight")))!;
 * scaleAgreement(0.0343627929, stats, GgmlType.F16); // "rounds-to-stored"
 * ```
 */
export function scaleAgreement(
  recorded: number,
  s: RecomputedStatistics,
  type: number,
): ScaleAgreement {
  if (!s.ternary.ternary) return "differs";
  if (s.ternary.scale === 0) return "no-scale-stored";
  if (recorded === s.ternary.scale) return "exact";
  return storedHalfScale(type, recorded) === s.ternary.scale ? "rounds-to-stored" : "differs";
}
