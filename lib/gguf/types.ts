/**
 * GGUF's own constants as data: the metadata value types, the
 * `general.file_type` values, the magic and the default alignment
 * (docs/reference/formats.md, "GGUF layout"). The ggml tensor types are the
 * codec table's rows (lib/codecs/table.ts); their ids are re-exported here.
 *
 * @example
 * ```ts
 * import { FileType, GgmlType } from "./types.ts";
 * FileType.MOSTLY_I2_S; // 40
 * GgmlType.TQ2_0; // 35
 * ```
 * @module
 */

export { GgmlType } from "../codecs/table.ts";

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
