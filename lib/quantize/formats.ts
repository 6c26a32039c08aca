/**
 * The ternary target formats of `model-quantize-i2s`, as data: the `--type`
 * name, the ggml type (whose codec row, lib/codecs/table.ts, packs the
 * tensors), the `general.file_type` and which engine runs the file
 * (docs/reference/formats.md, "I2_S" and "TQ2_0 and TQ1_0").
 *
 * @example
 * ```ts
 * import { quantFormat } from "./formats.ts";
 * const f = quantFormat("tq2_0");
 * f.fileType; // 37
 * f.codec.ternary.encoder(256, 0.5, "w").encode(new Int8Array(256)).length; // 66
 * ```
 * @module
 */

import { UsageError } from "../errors.ts";
import { type Codec, codecOf, GgmlType, type TernaryCodec } from "../codecs/table.ts";
import { FileType } from "../gguf/types.ts";
import { I2sPackKernel } from "../codecs/i2s_pack.ts";

/**
 * A one-pass packer from the 16-bit patterns of a ternary F16/BF16 tensor to
 * the format's bytes (the WebAssembly kernel of lib/codecs/i2s_pack.ts).
 */
export interface Bits16Packer {
  /** Where a slab's bytes are read to: up to `input.length / 2` elements. */
  readonly input: Uint8Array;
  /** Packs the first `n` elements; adds −s/0/+s counts; null when a value is not −s, 0 or +s. */
  pack(n: number, scaleBits: number, counts: Float64Array): Uint8Array | null;
}

/** The `--type` values. */
export const QUANT_TYPE_NAMES = ["i2_s", "tq2_0", "tq1_0"] as const;
/** One of {@link QUANT_TYPE_NAMES}. */
export type QuantTypeName = (typeof QUANT_TYPE_NAMES)[number];

/** One target format. */
export interface QuantFormat {
  readonly name: QuantTypeName;
  /** The ggml type's codec row (its ternary part packs the projections). */
  readonly codec: Codec & { readonly ternary: TernaryCodec };
  readonly fileType: FileType;
  /** Which engine runs files of this type. */
  readonly runsIn: string;
  /**
   * `general.architecture` values the runtime of `runsIn` loads this type
   * with; absent when any architecture of ours runs (bitnet.cpp).
   */
  readonly loadsArchitectures?: readonly string[];
  /**
   * A packer for ternary F16/BF16 tensors that skips the trit array; absent
   * when the codec row's slab encoder is the only path.
   */
  readonly bits16Packer?: () => Bits16Packer;
}

/** The codec row of a ternary ggml type. */
const ternaryRow = (type: GgmlType) => codecOf(type) as QuantFormat["codec"];

const UPSTREAM = "upstream llama.cpp (and bitnet.cpp's bundled llama.cpp)";
const UPSTREAM_ARCHS = ["bitnet", "llama"] as const;

/** Every target format, by `--type` name. */
export const QUANT_FORMATS: Readonly<Record<QuantTypeName, QuantFormat>> = {
  i2_s: {
    name: "i2_s",
    codec: ternaryRow(GgmlType.I2_S),
    fileType: FileType.MOSTLY_I2_S,
    runsIn: "bitnet.cpp (microsoft/BitNet) only: ggml type 36 means nothing upstream",
    bits16Packer: () => new I2sPackKernel(),
  },
  // Upstream knows BitNet b1.58 only as "bitnet" (model-export --arch-name bitnet).
  tq2_0: {
    name: "tq2_0",
    codec: ternaryRow(GgmlType.TQ2_0),
    fileType: FileType.MOSTLY_TQ2_0,
    runsIn: UPSTREAM,
    loadsArchitectures: UPSTREAM_ARCHS,
  },
  tq1_0: {
    name: "tq1_0",
    codec: ternaryRow(GgmlType.TQ1_0),
    fileType: FileType.MOSTLY_TQ1_0,
    runsIn: UPSTREAM,
    loadsArchitectures: UPSTREAM_ARCHS,
  },
};

/**
 * The format for a `--type` value; anything else is a {@link UsageError}.
 *
 * @example
 * ```ts
 * quantFormat("I2_S").codec.id; // 36
 * ```
 */
export function quantFormat(name: string): QuantFormat {
  const f = (QUANT_FORMATS as Record<string, QuantFormat | undefined>)[name.toLowerCase()];
  if (!f) {
    throw new UsageError(`--type must be one of ${QUANT_TYPE_NAMES.join(", ")}, got "${name}"`);
  }
  return f;
}
