/**
 * Summary statistics (RMS, min, max, non-finite count) of F16/BF16 values
 * straight from their bit patterns, in WebAssembly (`stats16.wat`), with
 * the very arithmetic of `StatsAccumulator.addBits16` (lib/stats/summary.ts):
 * each chunk's sums start at zero and are added to the totals, value by
 * value in file order, so the figures equal that accumulator's to the last
 * bit for the same chunks (the tests compare them). The quantizer reads each
 * slab of a copied 16-bit tensor straight into {@link Stats16.input}, four
 * chunks at a time ({@link Stats16.sumFour}: min and max from the bit
 * patterns in SIMD, the four chunks' sums of squares in one loop, 2× the
 * speed of one chunk after another on the 2B model's token_embd).
 *
 * @example
 * ```ts
 * import { Stats16 } from "./stats16.ts";
 * const s = new Stats16("F16", 4);
 * new Uint16Array(s.input.buffer, s.input.byteOffset, 2).set([0x3c00, 0xc000]); // 1, −2
 * s.add(2);
 * s.result(); // { count: 2, rms: 1.58..., min: -2, max: 1, nonFinite: 0 }
 * ```
 * @module
 */

import { codecByName } from "./table.ts";
import { STATS16_WASM } from "./stats16_wasm.ts";

interface StatsExports {
  memory: WebAssembly.Memory;
  stats(input: number, n: number, table: number, min: number, max: number): void;
  sumsq4(input: number, stride: number, n: number, table: number): void;
  scan(input: number, n: number, mask: number): number;
}

/** Memory layout (stats16.wat): results at 0 (scan's keys at 40, sumsq4's from 64), the value table, then the input. */
const TABLE_AT = 1 << 16;
const INPUT_AT = 6 << 16;
const FOUR_AT = 64;
/** The most bytes of one chunk. */
const STATS16_MAX_BYTES = 1 << 22;
/** Chunks {@link Stats16.sumFour} sums at once. */
export const STATS16_BATCH = 4;

let compiled: WebAssembly.Module | undefined;

/** A running summary of one 16-bit float tensor. */
export class Stats16 {
  readonly #wasm: StatsExports;
  readonly #results: Float64Array;
  readonly #bad: Int32Array;
  /** Where the caller puts the next chunk's bytes (`chunks` × `chunkBytes` of the constructor). */
  readonly input: Uint8Array;
  #count = 0;
  #sumSq = 0;
  #min = Infinity;
  #max = -Infinity;
  #nonFinite = 0;
  /** Views of the module's memory: sumsq4's four sums, scan's min/max keys, the value table. */
  readonly #four: Float64Array;
  readonly #keys: Int32Array;
  readonly #table: Float32Array;
  readonly #exponentMask: number;
  /** The last {@link sumFour}: each chunk's min and max, its length and spacing, and whether
   * it goes chunk by chunk through {@link add} instead (a zero extreme, ±inf or NaN). */
  readonly #fourMin = new Float64Array(STATS16_BATCH);
  readonly #fourMax = new Float64Array(STATS16_BATCH);
  #fourN = 0;
  #fourStride = 0;
  #fourExact = false;

  /**
   * For values of `type`, in chunks of at most `chunkBytes` (even, at most
   * `STATS16_MAX_BYTES`, 4 MiB); {@link input} holds `chunks` of them (1 or
   * {@link STATS16_BATCH}).
   */
  constructor(type: "F16" | "BF16", chunkBytes: number, chunks = 1) {
    if (chunkBytes > STATS16_MAX_BYTES || chunkBytes % 2 !== 0) {
      throw new RangeError(`Stats16: chunks of ${chunkBytes} bytes (even, at most 4 MiB)`);
    }
    if (chunks !== 1 && chunks !== STATS16_BATCH) {
      throw new RangeError(`Stats16: ${chunks} chunks (1 or ${STATS16_BATCH})`);
    }
    compiled ??= new WebAssembly.Module(
      Uint8Array.from(atob(STATS16_WASM), (c) => c.charCodeAt(0)),
    );
    this.#wasm = new WebAssembly.Instance(compiled).exports as unknown as StatsExports;
    const memory = this.#wasm.memory, needed = INPUT_AT + chunks * chunkBytes;
    if (needed > memory.buffer.byteLength) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 65536));
    }
    const buffer = memory.buffer;
    const all = new Uint16Array(65536).map((_, i) => i);
    codecByName(type).float!.decodeInto(
      new Uint8Array(all.buffer),
      new Float32Array(buffer, TABLE_AT, 65536),
    );
    this.#results = new Float64Array(buffer, 0, 4);
    this.#bad = new Int32Array(buffer, 32, 1);
    this.input = new Uint8Array(buffer, INPUT_AT, chunks * chunkBytes);
    this.#four = new Float64Array(buffer, FOUR_AT, STATS16_BATCH);
    this.#keys = new Int32Array(buffer, 40, 2);
    this.#table = new Float32Array(buffer, TABLE_AT, 65536);
    this.#exponentMask = type === "F16" ? 0x7c00 : 0x7f80;
  }

  /** Adds the `n` values at byte `at` of {@link input} (default its start) as one chunk. */
  add(n: number, at = 0): void {
    this.#wasm.stats(INPUT_AT + at, n, TABLE_AT, this.#min, this.#max);
    const bad = this.#bad[0]!;
    this.#count += n - bad;
    this.#sumSq += this.#results[1]!;
    this.#min = this.#results[2]!;
    this.#max = this.#results[3]!;
    this.#nonFinite += bad;
  }

  /**
   * Sums {@link STATS16_BATCH} chunks of `n` values each (n a multiple of 8),
   * at bytes 0, `stride`, 2·`stride`, … of {@link input}: each chunk's min and
   * max from its bit patterns, the four sums of squares in one loop (their
   * additions overlap); {@link mergeChunk} then adds each chunk to the
   * figures, in order. A batch holding ±inf or NaN, or a chunk whose min or
   * max is a zero (whose sign is that of the first zero), is summed chunk by
   * chunk by {@link add} instead. Either way the figures are those of
   * {@link add} on each chunk in turn, to the last bit
   * (tests/quantize/kernels_test.ts).
   *
   * @example
   * ```ts
   * const s = new Stats16("F16", 1 << 22, STATS16_BATCH); // 16 MiB of input
   * s.sumFour(1 << 21, 1 << 22);
   * for (let c = 0; c < STATS16_BATCH; c++) s.mergeChunk(c);
   * ```
   */
  sumFour(n: number, stride: number): void {
    if (2 * n > stride || (STATS16_BATCH - 1) * stride + 2 * n > this.input.length || n % 8 !== 0) {
      throw new RangeError(`Stats16: four chunks of ${n} values ${stride} bytes apart do not fit`);
    }
    this.#fourN = n;
    this.#fourStride = stride;
    let exact = false;
    for (let c = 0; c < STATS16_BATCH; c++) {
      const bad = this.#wasm.scan(INPUT_AT + c * stride, n, this.#exponentMask);
      const lo = this.#keys[0]!, hi = this.#keys[1]!;
      // A zero extreme is whichever zero came first (±0 compare equal): only the value loop knows.
      exact ||= bad > 0 || lo === 0 || hi === 0;
      this.#fourMin[c] = this.#value(lo);
      this.#fourMax[c] = this.#value(hi);
    }
    // sumsq4 has no per-value test: such a batch goes chunk by chunk through stats().
    this.#fourExact = exact;
    if (!exact) this.#wasm.sumsq4(INPUT_AT, stride, n, TABLE_AT);
  }

  /** The value of the pattern with order key `key` (see stats16.wat, scan). */
  #value(key: number): number {
    return this.#table[key < 0 ? 0x8000 | -key : key]!;
  }

  /**
   * Adds chunk `c` (0 to 3, in order) of the last {@link sumFour} to the figures.
   *
   * @example
   * ```ts
   * import { Stats16 } from "./stats16.ts";
   * declare const s: Stats16;
   * s.mergeChunk(0); // then 1, 2, 3
   * ```
   */
  mergeChunk(c: number): void {
    if (this.#fourExact) {
      this.add(this.#fourN, c * this.#fourStride);
      return;
    }
    const sumSq = this.#four[c]!, min = this.#fourMin[c]!, max = this.#fourMax[c]!;
    this.#count += this.#fourN;
    this.#sumSq += sumSq;
    // Strict compares keep the running value on a tie: the first of equal values, as add().
    if (min < this.#min) this.#min = min;
    if (max > this.#max) this.#max = max;
  }

  /** The summary so far, as `StatsAccumulator.result()` gives it but the mean (zeros when empty). */
  result() {
    const n = this.#count;
    return {
      count: n,
      rms: n ? Math.sqrt(this.#sumSq / n) : 0,
      min: n ? this.#min : 0,
      max: n ? this.#max : 0,
      nonFinite: this.#nonFinite,
    };
  }
}
