/**
 * Summary statistics (RMS, min, max, non-finite count) of F16/BF16 values
 * straight from their bit patterns, in WebAssembly (`stats16.wat`), with
 * the very arithmetic of `StatsAccumulator.addBits16` (lib/stats/summary.ts):
 * each chunk's sums start at zero and are added to the totals, value by
 * value in file order, so the figures equal that accumulator's to the last
 * bit for the same chunks (the tests compare them). The quantizer reads each
 * chunk of a copied 16-bit tensor straight into {@link Stats16.input}.
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
}

/** Memory layout (stats16.wat): results at 0, the value table, then the input. */
const TABLE_AT = 1 << 16;
const INPUT_AT = 6 << 16;
/** The most input bytes one call takes (the module's memory ends there). */
const STATS16_MAX_BYTES = 1 << 22;

let compiled: WebAssembly.Module | undefined;

/** A running summary of one 16-bit float tensor. */
export class Stats16 {
  readonly #wasm: StatsExports;
  readonly #results: Float64Array;
  readonly #bad: Int32Array;
  /** Where the caller puts the next chunk's bytes (at most the size given to the constructor). */
  readonly input: Uint8Array;
  #count = 0;
  #sumSq = 0;
  #min = Infinity;
  #max = -Infinity;
  #nonFinite = 0;

  /** For values of `type`, in chunks of at most `chunkBytes` (even, at most `STATS16_MAX_BYTES`, 4 MiB). */
  constructor(type: "F16" | "BF16", chunkBytes: number) {
    if (chunkBytes > STATS16_MAX_BYTES || chunkBytes % 2 !== 0) {
      throw new RangeError(`Stats16: chunks of ${chunkBytes} bytes (even, at most 4 MiB)`);
    }
    compiled ??= new WebAssembly.Module(
      Uint8Array.from(atob(STATS16_WASM), (c) => c.charCodeAt(0)),
    );
    this.#wasm = new WebAssembly.Instance(compiled).exports as unknown as StatsExports;
    const buffer = this.#wasm.memory.buffer;
    const all = new Uint16Array(65536).map((_, i) => i);
    codecByName(type).float!.decodeInto(
      new Uint8Array(all.buffer),
      new Float32Array(buffer, TABLE_AT, 65536),
    );
    this.#results = new Float64Array(buffer, 0, 4);
    this.#bad = new Int32Array(buffer, 32, 1);
    this.input = new Uint8Array(buffer, INPUT_AT, chunkBytes);
  }

  /** Adds the first `n` values of {@link input} as one chunk. */
  add(n: number): void {
    this.#wasm.stats(INPUT_AT, n, TABLE_AT, this.#min, this.#max);
    const bad = this.#bad[0]!;
    this.#count += n - bad;
    this.#sumSq += this.#results[1]!;
    this.#min = this.#results[2]!;
    this.#max = this.#results[3]!;
    this.#nonFinite += bad;
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
