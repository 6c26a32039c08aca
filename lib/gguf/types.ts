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

/** GGUF metadata value types (docs/reference/formats.md, "GGUF layout"). */
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

/** A scalar metadata value: u64/i64 as bigint, other numbers as number. */
export type GgufScalar = number | bigint | boolean | string;

/** How one fixed-size value type sits in the file (little-endian). */
export interface GgufValueRow {
  readonly name: string;
  /** Bytes of one value. */
  readonly size: number;
  read(view: DataView, at: number): GgufScalar;
  write(view: DataView, at: number, value: GgufScalar): void;
  /** Whether the type holds `value` exactly (integers in range, never wrapped). */
  accepts(value: GgufScalar): boolean;
}

/** An integer type of `size` bytes, through DataView's `get`/`set` + `Int8`, `Uint16`, …; little-endian. */
const int = (name: string, size: 1 | 2 | 4, signed: boolean): GgufValueRow => {
  type Method = `${"Int" | "Uint"}${8 | 16 | 32}`;
  const method = `${signed ? "Int" : "Uint"}${size * 8}` as Method;
  const max = 2 ** (size * 8 - (signed ? 1 : 0)) - 1;
  const min = signed ? -max - 1 : 0;
  return {
    name,
    size,
    read: (v, at) => v[`get${method}`](at, true),
    write: (v, at, x) => v[`set${method}`](at, Number(x), true),
    accepts: (x) => Number.isInteger(x) && (x as number) >= min && (x as number) <= max,
  };
};
const big = (name: string, signed: boolean): GgufValueRow => ({
  name,
  size: 8,
  read: (v, at) => signed ? v.getBigInt64(at, true) : v.getBigUint64(at, true),
  write: (v, at, x) =>
    signed ? v.setBigInt64(at, BigInt(x), true) : v.setBigUint64(at, BigInt(x), true),
  accepts: (x) => {
    const b = typeof x === "bigint" ? x : Number.isSafeInteger(x) ? BigInt(x) : null;
    return b !== null && (signed ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b)) === b;
  },
});
const float = (name: string, size: 4 | 8): GgufValueRow => ({
  name,
  size,
  read: (v, at) => size === 4 ? v.getFloat32(at, true) : v.getFloat64(at, true),
  write: (v, at, x) =>
    size === 4 ? v.setFloat32(at, Number(x), true) : v.setFloat64(at, Number(x), true),
  accepts: (x) => typeof x === "number",
});

/**
 * Every fixed-size value type (docs/reference/formats.md, "Metadata value
 * types"): the reader, the writer and the metadata copy all go through it.
 * STRING (u64 length + UTF-8) and ARRAY (element type, u64 count, values)
 * are variable-sized and handled by the reader and writer themselves.
 *
 * @example
 * ```ts
 * GGUF_VALUE_TYPES[GgufValueType.UINT16]?.size; // 2
 * ```
 */
export const GGUF_VALUE_TYPES: Readonly<Partial<Record<number, GgufValueRow>>> = {
  [GgufValueType.UINT8]: int("u8", 1, false),
  [GgufValueType.INT8]: int("i8", 1, true),
  [GgufValueType.UINT16]: int("u16", 2, false),
  [GgufValueType.INT16]: int("i16", 2, true),
  [GgufValueType.UINT32]: int("u32", 4, false),
  [GgufValueType.INT32]: int("i32", 4, true),
  [GgufValueType.FLOAT32]: float("f32", 4),
  [GgufValueType.BOOL]: {
    name: "bool",
    size: 1,
    read: (v, o) => {
      const b = v.getUint8(o);
      if (b > 1) throw new RangeError(`a bool with value ${b}`);
      return b === 1;
    },
    write: (v, o, x) => v.setUint8(o, x ? 1 : 0),
    accepts: (x) => typeof x === "boolean",
  },
  [GgufValueType.UINT64]: big("u64", false),
  [GgufValueType.INT64]: big("i64", true),
  [GgufValueType.FLOAT64]: float("f64", 8),
};

/** `general.file_type` values (docs/reference/formats.md, "GGUF layout"). */
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
