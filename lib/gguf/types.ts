/**
 * The ggml tensor types and GGUF value types, as data (FORMATS.md §1).
 *
 * @example
 * ```ts
 * import { GGML_TYPES, GgmlType, tensorByteSize } from "./types.ts";
 * GGML_TYPES[GgmlType.TQ2_0].blockSize; // 256
 * tensorByteSize(GgmlType.F16, [256, 768]); // 393216
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";

/** ggml tensor type ids (only those this project reads or writes). */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q8_0: 8,
  BF16: 30,
  TQ1_0: 34,
  TQ2_0: 35,
  I2_S: 36,
} as const;
/** A ggml type id. */
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

/** How one ggml type is laid out. */
export interface GgmlTypeInfo {
  readonly id: GgmlType;
  readonly name: string;
  /** Elements per block; 1 for plain float types. */
  readonly blockSize: number;
  /** Bytes per block; for I2_S the per-element packing (see `tensorByteSize`). */
  readonly bytesPerBlock: number;
  /** True when the values are block-quantized (sets `general.quantization_version`). */
  readonly quantized: boolean;
}

/** The ggml type table, keyed by id. */
export const GGML_TYPES: Readonly<Record<GgmlType, GgmlTypeInfo>> = {
  0: { id: 0, name: "F32", blockSize: 1, bytesPerBlock: 4, quantized: false },
  1: { id: 1, name: "F16", blockSize: 1, bytesPerBlock: 2, quantized: false },
  8: { id: 8, name: "Q8_0", blockSize: 32, bytesPerBlock: 34, quantized: true },
  30: { id: 30, name: "BF16", blockSize: 1, bytesPerBlock: 2, quantized: false },
  34: { id: 34, name: "TQ1_0", blockSize: 256, bytesPerBlock: 54, quantized: true },
  35: { id: 35, name: "TQ2_0", blockSize: 256, bytesPerBlock: 66, quantized: true },
  // I2_S: 4 elements per byte, plus one f32 scale padded to 32 bytes per tensor (FORMATS.md §5).
  36: { id: 36, name: "I2_S", blockSize: 1, bytesPerBlock: 1, quantized: true },
};

/** The type info for an id read from a file, or a clear error. */
export function ggmlTypeInfo(id: number, where = "tensor"): GgmlTypeInfo {
  const info = (GGML_TYPES as Record<number, GgmlTypeInfo | undefined>)[id];
  if (!info) {
    const known = Object.values(GGML_TYPES).map((t) => `${t.name}(${t.id})`).join(", ");
    throw new UnsupportedError(
      `${where}: unknown or unsupported ggml type ${id} (supported: ${known})`,
    );
  }
  return info;
}

/** The ggml type id for a name such as "F16" or "tq2_0". */
export function ggmlTypeByName(name: string): GgmlType {
  const info = Object.values(GGML_TYPES).find((t) => t.name.toLowerCase() === name.toLowerCase());
  if (!info) throw new UnsupportedError(`unknown ggml type name "${name}"`);
  return info.id;
}

/** I2_S stores its one f32 scale in a 32-byte tail after the packed codes. */
export const I2S_TAIL_BYTES = 32;

/**
 * Payload size in bytes of a tensor with dims in ggml order (ne[0] contiguous).
 * Throws when ne[0] is not a multiple of the type's block size.
 */
export function tensorByteSize(type: GgmlType, ne: readonly number[], name = "tensor"): number {
  const info = GGML_TYPES[type];
  const n = ne.reduce((a, b) => a * b, 1);
  const row = ne[0] ?? 1;
  if (type === GgmlType.I2_S) {
    if (n % 4 !== 0) {
      throw new FormatError(`${name}: I2_S needs an element count divisible by 4, got ${n}`);
    }
    return n / 4 + I2S_TAIL_BYTES;
  }
  if (row % info.blockSize !== 0) {
    throw new FormatError(
      `${name}: row length ${row} is not a multiple of ${info.name}'s block size ${info.blockSize}`,
    );
  }
  return (n / info.blockSize) * info.bytesPerBlock;
}

/** GGUF metadata value types (FORMATS.md §1). */
export const GgufValueType = {
  UINT8: 0,
  INT8: 1,
  UINT16: 2,
  INT16: 3,
  UINT32: 4,
  INT32: 5,
  FLOAT32: 6,
  BOOL: 7,
  STRING: 8,
  ARRAY: 9,
  UINT64: 10,
  INT64: 11,
  FLOAT64: 12,
} as const;
/** A GGUF value type id. */
export type GgufValueType = (typeof GgufValueType)[keyof typeof GgufValueType];

/** Byte size of a fixed-size scalar value type (strings and arrays are variable). */
export const GGUF_SCALAR_SIZE: Readonly<Record<number, number>> = {
  0: 1,
  1: 1,
  2: 2,
  3: 2,
  4: 4,
  5: 4,
  6: 4,
  7: 1,
  10: 8,
  11: 8,
  12: 8,
};

/** `general.file_type` values (FORMATS.md §1). */
export const FileType = {
  ALL_F32: 0,
  MOSTLY_F16: 1,
  MOSTLY_Q8_0: 7,
  MOSTLY_BF16: 32,
  MOSTLY_TQ1_0: 36,
  MOSTLY_TQ2_0: 37,
  MOSTLY_I2_S: 40,
} as const;
/** A `general.file_type` value. */
export type FileType = (typeof FileType)[keyof typeof FileType];

/** The default and written alignment of the data section and of each tensor. */
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** GGUF magic, "GGUF" as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
