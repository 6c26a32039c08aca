/**
 * The quantizer's hot loop in WebAssembly (`i2s_pack.wat`): the 16-bit
 * patterns of a ternary F16 or BF16 projection become I2_S bytes in one
 * pass, checked and counted on the way: no trit array, no per-element
 * table lookup. The result is byte for byte what
 * `classifyBits16` (ternary_bits.ts) followed by `packI2SInto` (i2s.ts) give (the tests
 * compare them on every pattern class and on random slabs); a value that is
 * not exactly −s, 0 or +s makes {@link I2sPackKernel.pack} return null, and
 * the caller names it with `firstInvalid16` (lib/codecs/ternary_bits.ts).
 *
 * Bytes are read straight into the kernel's memory ({@link I2sPackKernel.input}),
 * so a slab is copied once, by the read itself.
 *
 * @example
 * ```ts
 * import { I2sPackKernel } from "./i2s_pack.ts";
 * const k = new I2sPackKernel();
 * const bits = new Uint16Array(k.input.buffer, k.input.byteOffset, 128);
 * bits.fill(0x3800); // +0.5 in F16
 * const counts = new Float64Array(3);
 * const bytes = k.pack(128, 0x3800, counts); // 32 bytes of 0xaa; counts [0, 0, 128]
 * ```
 * @module
 */

import { I2S_PACK_WASM } from "./i2s_pack_wasm.ts";

interface PackExports {
  memory: WebAssembly.Memory;
  pack(input: number, n: number, output: number, scaleBits: number): number;
}

/** Elements per call (a multiple of the 128-element I2_S block): 256 KiB of input, which stays in L2. */
export const PACK_CHUNK_ELEMENTS = 1 << 17;
/** Layout of the module's memory: counts at 0, output, then input. */
const OUTPUT_AT = 1024;
const INPUT_AT = 1 << 16;

let compiled: WebAssembly.Module | undefined;

/** One instance of the module (its own memory): one slab at a time. */
export class I2sPackKernel {
  readonly #wasm: PackExports;
  readonly #counts: Int32Array;
  readonly #output: Uint8Array;
  /** Where the caller puts up to {@link PACK_CHUNK_ELEMENTS} 16-bit patterns (little-endian bytes). */
  readonly input: Uint8Array;

  constructor() {
    compiled ??= new WebAssembly.Module(
      Uint8Array.from(atob(I2S_PACK_WASM), (c) => c.charCodeAt(0)),
    );
    this.#wasm = new WebAssembly.Instance(compiled).exports as unknown as PackExports;
    const buffer = this.#wasm.memory.buffer;
    this.#counts = new Int32Array(buffer, 0, 2);
    this.#output = new Uint8Array(buffer, OUTPUT_AT, PACK_CHUNK_ELEMENTS / 4);
    this.input = new Uint8Array(buffer, INPUT_AT, PACK_CHUNK_ELEMENTS * 2);
  }

  /**
   * Packs the first `n` patterns of {@link input} (n a multiple of 128, at
   * most {@link PACK_CHUNK_ELEMENTS}) for scale bits `scaleBits` (the bits of
   * +s, sign clear, nonzero and finite): n/4 I2_S bytes, valid until the next
   * call; adds the counts of −s, 0 and +s to `counts[0..2]`. Null when some
   * value is not −s, 0 or +s (the counts are then left as they were).
   */
  pack(n: number, scaleBits: number, counts: Float64Array): Uint8Array | null {
    if (!Number.isInteger(n) || n < 0 || n % 128 !== 0 || n > PACK_CHUNK_ELEMENTS) {
      throw new RangeError(
        `I2_S pack: ${n} elements (need a multiple of 128, at most ${PACK_CHUNK_ELEMENTS})`,
      );
    }
    if (!Number.isInteger(scaleBits) || scaleBits <= 0 || scaleBits >= 0x8000) {
      throw new RangeError(
        `I2_S pack: scale bits must be a nonzero 15-bit pattern, got ${scaleBits}`,
      );
    }
    if (this.#wasm.pack(INPUT_AT, n, OUTPUT_AT, scaleBits) !== 0) return null;
    const pos = this.#counts[0]!, neg = this.#counts[1]!;
    counts[0]! += neg;
    counts[1]! += n - pos - neg;
    counts[2]! += pos;
    return this.#output.subarray(0, n / 4);
  }
}
