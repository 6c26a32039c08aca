/**
 * The ternary target formats, as data: ggml type, `general.file_type`, the
 * row block that ne[0] must be a multiple of, which engine runs the file,
 * and a streaming encoder that packs one tensor slab by slab with the
 * existing codecs (lib/codecs/{i2s,tq2_0,tq1_0}.ts).
 *
 * - I2_S (ggml 36, file_type 40): bitnet.cpp only; x86 layout, blocks of 128
 *   elements, one f32 scale per tensor after the n/4 packed bytes (FORMATS.md §5).
 * - TQ2_0 (35, file_type 37) and TQ1_0 (34, file_type 36): upstream
 *   llama.cpp; blocks of 256 with an f16 scale per block (FORMATS.md §6).
 *
 * @example
 * ```ts
 * import { quantFormat } from "./formats.ts";
 * const f = quantFormat("tq2_0");
 * f.fileType; // 37
 * const enc = f.encoder(256, 0.5, "w");
 * enc.encode(new Int8Array(256)).length; // 66
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { f16ToF32, f32ToF16 } from "../codecs/float.ts";
import { I2S_BLOCK_ELEMENTS, i2sTrailer, packI2SInto } from "../codecs/i2s.ts";
import { quantizeTQ1_0, TQ1_0_BLOCK_ELEMENTS, tq1_0FromTrits } from "../codecs/tq1_0.ts";
import { quantizeTQ2_0, TQ2_0_BLOCK_ELEMENTS, tq2_0FromTrits } from "../codecs/tq2_0.ts";
import { FileType, GgmlType } from "../gguf/types.ts";

/** The `--type` values. */
export const QUANT_TYPE_NAMES = ["i2_s", "tq2_0", "tq1_0"] as const;
/** One of {@link QUANT_TYPE_NAMES}. */
export type QuantTypeName = (typeof QUANT_TYPE_NAMES)[number];

/** Packs one tensor's trits, slab by slab, in file order. */
export interface SlabEncoder {
  /**
   * Bytes for the next slab of trits (its length a multiple of the format's
   * block). The returned buffer may be reused by the next call.
   */
  encode(trits: Int8Array): Uint8Array;
  /** Bytes that follow the last slab (I2_S's scale and padding; empty otherwise). */
  finish(): Uint8Array;
}

/** One target format. */
export interface QuantFormat {
  readonly name: QuantTypeName;
  readonly ggml: GgmlType;
  /** ggml's name of the type, as meta.json records it. */
  readonly ggmlName: string;
  readonly fileType: FileType;
  /** Elements per block: every row (ne[0]) must be a multiple of it. */
  readonly rowBlock: number;
  /** Which engine runs files of this type. */
  readonly runsIn: string;
  /**
   * `general.architecture` values the runtime of `runsIn` loads this type
   * with; absent when any architecture of ours runs (bitnet.cpp).
   */
  readonly loadsArchitectures?: readonly string[];
  /** The scale a reader gets back from the file for tensor scale `s`. */
  storedScale(s: number): number;
  /** An encoder for one tensor of `n` elements sharing scale `scale` (0 for an all-zero tensor). */
  encoder(n: number, scale: number, name: string): SlabEncoder;
}

const f16Round = (s: number) => f16ToF32(f32ToF16(s));

/**
 * Block formats with one f16 scale per 256-element block. Blocks are
 * independent, so any slab of whole blocks is packed on its own. An all-zero
 * tensor (scale 0) is packed by ggml's own quantizer, which writes d = 0.
 */
function blockEncoder(
  fromTrits: (t: Int8Array, s: number, name: string) => Uint8Array,
  fromFloats: (v: Float32Array, name: string) => Uint8Array,
): QuantFormat["encoder"] {
  return (_n, scale, name) => ({
    encode: (trits) =>
      scale > 0 ? fromTrits(trits, scale, name) : fromFloats(new Float32Array(trits.length), name),
    finish: () => new Uint8Array(0),
  });
}

/** Every target format, by `--type` name. */
export const QUANT_FORMATS: Readonly<Record<QuantTypeName, QuantFormat>> = {
  i2_s: {
    name: "i2_s",
    ggml: GgmlType.I2_S,
    ggmlName: "I2_S",
    fileType: FileType.MOSTLY_I2_S,
    rowBlock: I2S_BLOCK_ELEMENTS,
    runsIn: "bitnet.cpp (microsoft/BitNet) only: ggml type 36 means nothing upstream",
    storedScale: (s) => Math.fround(s),
    encoder(_n, scale, name) {
      let buf = new Uint8Array(0);
      return {
        encode(trits) {
          const bytes = trits.length / 4;
          if (buf.length < bytes) buf = new Uint8Array(bytes);
          const out = buf.subarray(0, bytes);
          packI2SInto(trits, out, 0, name);
          return out;
        },
        finish: () => i2sTrailer(scale),
      };
    },
  },
  tq2_0: {
    name: "tq2_0",
    ggml: GgmlType.TQ2_0,
    ggmlName: "TQ2_0",
    fileType: FileType.MOSTLY_TQ2_0,
    rowBlock: TQ2_0_BLOCK_ELEMENTS,
    runsIn: "upstream llama.cpp (and bitnet.cpp's bundled llama.cpp)",
    // Upstream knows BitNet b1.58 only as "bitnet" (model-export --arch-name bitnet).
    loadsArchitectures: ["bitnet", "llama"],
    storedScale: f16Round,
    encoder: blockEncoder(tq2_0FromTrits, quantizeTQ2_0),
  },
  tq1_0: {
    name: "tq1_0",
    ggml: GgmlType.TQ1_0,
    ggmlName: "TQ1_0",
    fileType: FileType.MOSTLY_TQ1_0,
    rowBlock: TQ1_0_BLOCK_ELEMENTS,
    runsIn: "upstream llama.cpp (and bitnet.cpp's bundled llama.cpp)",
    // Upstream knows BitNet b1.58 only as "bitnet" (model-export --arch-name bitnet).
    loadsArchitectures: ["bitnet", "llama"],
    storedScale: f16Round,
    encoder: blockEncoder(tq1_0FromTrits, quantizeTQ1_0),
  },
};

/**
 * The format for a `--type` value; anything else is a {@link UsageError}.
 *
 * @example
 * ```ts
 * quantFormat("I2_S").ggml; // 36
 * ```
 */
export function quantFormat(name: string): QuantFormat {
  const key = name.toLowerCase() as QuantTypeName;
  const f = (QUANT_FORMATS as Record<string, QuantFormat | undefined>)[key];
  if (!f) {
    throw new UsageError(`--type must be one of ${QUANT_TYPE_NAMES.join(", ")}, got "${name}"`);
  }
  return f;
}
