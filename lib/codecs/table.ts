/**
 * The one codec table, keyed by ggml type id (docs/reference/formats.md,
 * "ggml tensor types"; in the spirit of gguf-py's `GGML_QUANT_SIZES` and
 * `quants.py`). A row says everything the rest of the code needs to know
 * about a type: its name, the block a row (ne[0]) must be a multiple of, the
 * byte size of n elements, how a payload decodes to f32, and for float types
 * a chunk decoder and an encoder, for ternary types a decoder to trits and
 * scales and a slab encoder. Stats, gate 2, the engine loader, the quantizer
 * and the export all read this table: adding a type is adding a row.
 *
 * @example
 * ```ts
 * import { codecOf, GgmlType, packTrits } from "./table.ts";
 * const tq2 = codecOf(GgmlType.TQ2_0);
 * tq2.byteSize(512); // 132
 * const bytes = packTrits(GgmlType.TQ2_0, new Int8Array(256).fill(1), 0.5);
 * tq2.decode(bytes, 256, "w")[0]; // 0.5
 * ```
 * @module
 */

import { FormatError, UnsupportedError } from "../errors.ts";
import { bf16ToF32, f16ToF32, f32ToF16 } from "./float.ts";
import {
  bf16ToF32Array,
  f16ToF32Array,
  f32ToBf16Array,
  f32ToF16Array,
  type OverflowMode,
} from "./float_bulk.ts";
import { I2S_BLOCK_ELEMENTS, I2S_TAIL_BYTES, i2sTail, packI2SInto, unpackI2S } from "./i2s.ts";
import { ternaryInfo, tritsFromTernary, wholeBlocks } from "./ternary.ts";
import { classifyBits16, firstMagnitude16, ternaryCodeTable16 } from "./ternary_bits.ts";
import {
  BLOCK_ELEMENTS,
  blocksFromTrits,
  decodeBlocks,
  quantizeBlocks,
  type TernaryBlockLayout,
  TQ1_0_LAYOUT,
  TQ2_0_LAYOUT,
} from "./ternary_blocks.ts";

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

/** Trits (−1, 0, +1) and their scales: element i is trits[i] · scales[floor(i / block)]. */
export interface TernaryDecoded {
  readonly trits: Int8Array;
  readonly scales: Float32Array;
  /** Elements per scale (the whole tensor for I2_S). */
  readonly block: number;
}

/** Packs one tensor's trits, slab by slab, in file order. */
export interface SlabEncoder {
  /** Bytes for the next slab (a multiple of the row block); the buffer may be reused. */
  encode(trits: Int8Array): Uint8Array;
  /** Bytes that follow the last slab (I2_S's tail; empty otherwise). */
  finish(): Uint8Array;
}

/** What a float type adds to its row. */
export interface FloatCodec {
  /** Bytes per element. */
  readonly bytes: 2 | 4;
  /** The magnitude bits of +inf: a magnitude at or above it is not finite. */
  readonly infBits: number;
  /** One element's bits to its value (exact). */
  value(bits: number): number;
  /** Decodes whole elements of `bytes` into the front of `out`; returns that part of `out`. */
  decodeInto(bytes: Uint8Array, out: Float32Array): Float32Array;
  /** f32 values in this type, and how many finite values did not fit (F16 only). */
  encode(values: Float32Array, overflow: OverflowMode): { bytes: Uint8Array; overflow: number };
  /** Trits and scale when every value is exactly −s, 0 or +s (s = 0 when all are zero), else null. */
  exactTrits(payload: Uint8Array, n: number): { trits: Int8Array; scale: number } | null;
}

/** What a ternary type adds to its row. */
export interface TernaryCodec {
  /** Elements per packing block: every row (ne[0]) must be a multiple of it. */
  readonly rowBlock: number;
  /** The scale a reader gets back from the file for tensor scale `s`. */
  storedScale(s: number): number;
  /** Trits and scales of a payload of `n` elements (FormatError on an invalid code). */
  decode(bytes: Uint8Array, n: number, name: string): TernaryDecoded;
  /** An encoder for one tensor of `n` elements sharing `scale` (0 for an all-zero tensor). */
  encoder(n: number, scale: number, name: string): SlabEncoder;
}

/** One row of the table. */
export interface Codec {
  readonly id: GgmlType;
  readonly name: string;
  /** Elements per block: ne[0] must be a multiple of it (1 for float types and I2_S). */
  readonly blockElements: number;
  /** True when the values are block-quantized (`general.quantization_version` applies). */
  readonly quantized: boolean;
  /** Payload bytes of `n` elements (FormatError when n does not fit the packing). */
  byteSize(n: number, name?: string): number;
  /** A whole payload of `n` elements as f32 (FormatError when short or undecodable). */
  decode(bytes: Uint8Array, n: number, name: string): Float32Array;
  readonly float?: FloatCodec;
  readonly ternary?: TernaryCodec;
}

/** `bytes` copied when its offset does not suit a typed view of `size`-byte elements. */
function aligned(bytes: Uint8Array, size: number): Uint8Array {
  return bytes.byteOffset % size === 0 ? bytes : bytes.slice();
}

function short(name: string, type: string, need: number, got: number): FormatError {
  return new FormatError(`${name}: ${type} data needs ${need} bytes, got ${got}`);
}

/** Exact ternary detection on 16-bit patterns through one 65536-entry table (ternary_bits.ts). */
function exactTrits16(infBits: number, value: (bits: number) => number): FloatCodec["exactTrits"] {
  return (payload, n) => {
    const b = aligned(payload, 2);
    const bits = new Uint16Array(b.buffer, b.byteOffset, n);
    const s = firstMagnitude16(bits);
    if (s >= infBits) return null;
    const trits = new Int8Array(n), counts = new Float64Array(4);
    classifyBits16(bits, ternaryCodeTable16(s), counts, trits);
    return counts[3] ? null : { trits, scale: value(s) };
  };
}

function floatRow(
  id: GgmlType,
  name: string,
  float: Omit<FloatCodec, "decodeInto" | "exactTrits"> & {
    /** 16-bit types: bits to f32, in bulk. */
    toF32?: (src: Uint16Array, dst: Float32Array) => void;
  },
): Codec {
  const size = float.bytes;
  const decodeInto = (bytes: Uint8Array, out: Float32Array): Float32Array => {
    const n = bytes.length / size, src = aligned(bytes, size), dst = out.subarray(0, n);
    if (size === 4) dst.set(new Float32Array(src.buffer, src.byteOffset, n));
    else float.toF32!(new Uint16Array(src.buffer, src.byteOffset, n), dst);
    return dst;
  };
  const exactTrits: FloatCodec["exactTrits"] = size === 2
    ? exactTrits16(float.infBits, float.value)
    : (payload, n) => {
      const b = aligned(payload, 4), values = new Float32Array(b.buffer, b.byteOffset, n);
      const info = ternaryInfo(values);
      return info.ternary
        ? { trits: tritsFromTernary(values, info.scale), scale: info.scale }
        : null;
    };
  return {
    id,
    name,
    blockElements: 1,
    quantized: false,
    byteSize: (n) => n * size,
    decode(bytes, n, where) {
      if (bytes.length < n * size) throw short(where, name, n * size, bytes.length);
      return decodeInto(bytes.subarray(0, n * size), new Float32Array(n));
    },
    float: {
      bytes: size,
      infBits: float.infBits,
      value: float.value,
      encode: float.encode,
      decodeInto,
      exactTrits,
    },
  };
}

/** Element count check shared by the block-quantized rows. */
function blocks(n: number, block: number, type: string, name: string): number {
  if (n % block !== 0) {
    throw new FormatError(`${name}: ${type} needs a multiple of ${block} elements, got ${n}`);
  }
  return n / block;
}

/** values = trits · scales, element by element. */
function dequantize(d: TernaryDecoded): Float32Array {
  const { trits, scales, block } = d;
  const out = new Float32Array(trits.length);
  for (let i = 0; i < trits.length; i++) out[i] = trits[i]! * scales[Math.floor(i / block)]!;
  return out;
}

function ternaryRow(
  id: GgmlType,
  name: string,
  blockElements: number,
  byteSize: (n: number, where: string) => number,
  ternary: TernaryCodec,
): Codec {
  return {
    id,
    name,
    blockElements,
    quantized: true,
    byteSize: (n, where = "tensor") => byteSize(n, where),
    decode: (bytes, n, where) => dequantize(ternary.decode(bytes, n, where)),
    ternary,
  };
}

const f16Round = (s: number) => f16ToF32(f32ToF16(s));

/**
 * ggml's 256-element blocks with one f16 scale each. Blocks are independent,
 * so any slab of whole blocks is packed on its own; an all-zero tensor
 * (scale 0) is packed by ggml's own quantizer, which writes d = 0.
 */
function blockRow(id: GgmlType, layout: TernaryBlockLayout): Codec {
  return ternaryRow(
    id,
    layout.name,
    BLOCK_ELEMENTS,
    (n, where) => wholeBlocks(n, BLOCK_ELEMENTS, layout.name, where) * layout.blockBytes,
    {
      rowBlock: BLOCK_ELEMENTS,
      storedScale: f16Round,
      decode: (bytes, n, where) => ({ ...decodeBlocks(layout, bytes, n, where), block: 256 }),
      encoder: (_n, scale, where) => ({
        encode: (trits) =>
          scale > 0
            ? blocksFromTrits(layout, trits, scale, where)
            : quantizeBlocks(layout, new Float32Array(trits.length), where),
        finish: () => new Uint8Array(0),
      }),
    },
  );
}

/** Q8_0 block: f16 scale d, then 32 signed bytes; value = d · q. */
function decodeQ8_0(bytes: Uint8Array, n: number, name: string): Float32Array {
  const nb = blocks(n, 32, "Q8_0", name);
  if (bytes.length < nb * 34) throw short(name, "Q8_0", nb * 34, bytes.length);
  const out = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    const o = b * 34, d = f16ToF32(bytes[o]! | (bytes[o + 1]! << 8));
    for (let j = 0; j < 32; j++) out[b * 32 + j] = d * ((bytes[o + 2 + j]! << 24) >> 24);
  }
  return out;
}

const f32Encode: FloatCodec["encode"] = (values) => ({
  bytes: new Uint8Array(values.buffer, values.byteOffset, values.byteLength),
  overflow: 0,
});

/** The table. */
export const CODECS: Readonly<Record<GgmlType, Codec>> = {
  [GgmlType.F32]: floatRow(GgmlType.F32, "F32", {
    bytes: 4,
    infBits: 0x7f800000,
    value: (bits) => new Float32Array(Uint32Array.of(bits).buffer)[0]!,
    encode: f32Encode,
  }),
  [GgmlType.F16]: floatRow(GgmlType.F16, "F16", {
    bytes: 2,
    infBits: 0x7c00,
    value: f16ToF32,
    toF32: f16ToF32Array,
    encode(values, mode) {
      const bits = new Uint16Array(values.length);
      const { overflow } = f32ToF16Array(values, bits, mode);
      return { bytes: new Uint8Array(bits.buffer), overflow };
    },
  }),
  [GgmlType.Q8_0]: {
    id: GgmlType.Q8_0,
    name: "Q8_0",
    blockElements: 32,
    quantized: true,
    byteSize: (n, where = "tensor") => blocks(n, 32, "Q8_0", where) * 34,
    decode: decodeQ8_0,
  },
  [GgmlType.BF16]: floatRow(GgmlType.BF16, "BF16", {
    bytes: 2,
    infBits: 0x7f80,
    value: bf16ToF32,
    toF32: bf16ToF32Array,
    // BF16 has f32's range: only values within an ulp of the f32 maximum round to inf, and
    // those are not counted (the export refuses only F16 overflow).
    encode(values) {
      const bits = new Uint16Array(values.length);
      f32ToBf16Array(values, bits);
      return { bytes: new Uint8Array(bits.buffer), overflow: 0 };
    },
  }),
  [GgmlType.TQ1_0]: blockRow(GgmlType.TQ1_0, TQ1_0_LAYOUT),
  [GgmlType.TQ2_0]: blockRow(GgmlType.TQ2_0, TQ2_0_LAYOUT),
  // bitnet.cpp's I2_S: n/4 bytes of codes, then the tail (one f32 scale, 28 zero bytes).
  [GgmlType.I2_S]: ternaryRow(
    GgmlType.I2_S,
    "I2_S",
    1,
    (n, where) => blocks(n, 4, "I2_S", where) + I2S_TAIL_BYTES,
    {
      rowBlock: I2S_BLOCK_ELEMENTS,
      storedScale: Math.fround,
      decode(bytes, n, where) {
        const { trits, scale } = unpackI2S(bytes, n, where);
        return { trits, scales: Float32Array.of(scale), block: Math.max(n, 1) };
      },
      encoder(_n, scale, where) {
        let buf = new Uint8Array(0);
        return {
          encode(trits) {
            if (buf.length < trits.length / 4) buf = new Uint8Array(trits.length / 4);
            const out = buf.subarray(0, trits.length / 4);
            packI2SInto(trits, out, 0, where);
            return out;
          },
          finish: () => i2sTail(scale),
        };
      },
    },
  ),
};

/**
 * The row of a type id read from a file; an unknown id is an {@link UnsupportedError}.
 *
 * @example
 * ```ts
 * codecOf(GgmlType.BF16).float?.bytes; // 2
 * ```
 */
export function codecOf(id: number, where = "tensor"): Codec {
  const codec = (CODECS as Record<number, Codec | undefined>)[id];
  if (!codec) {
    const known = Object.values(CODECS).map((c) => `${c.name}(${c.id})`).join(", ");
    throw new UnsupportedError(
      `${where}: unknown or unsupported ggml type ${id} (supported: ${known})`,
    );
  }
  return codec;
}

/**
 * The row of a type name such as "F16" or "tq2_0" (also SafeTensors dtypes F32, F16, BF16).
 *
 * @example
 * ```ts
 * codecByName("bf16").id; // 30
 * ```
 */
export function codecByName(name: string, where = "tensor"): Codec {
  const codec = Object.values(CODECS).find((c) => c.name.toLowerCase() === name.toLowerCase());
  if (!codec) throw new UnsupportedError(`${where}: unknown ggml type name "${name}"`);
  return codec;
}

/**
 * Names of some types, for messages.
 *
 * @example
 * ```ts
 * typeNames([0, 1, 30]); // "F32, F16, BF16"
 * ```
 */
export function typeNames(types: Iterable<number>): string {
  return [...types].map((t) => (CODECS as Record<number, Codec>)[t]?.name ?? String(t)).join(", ");
}

/**
 * The ids of the rows that have a float (or ternary) part.
 *
 * @example
 * ```ts
 * typesWith("float"); // [0, 1, 30]
 * ```
 */
export function typesWith(part: "float" | "ternary"): GgmlType[] {
  return Object.values(CODECS).filter((c) => c[part] !== undefined).map((c) => c.id);
}

/**
 * A whole tensor of trits sharing `scale`, packed as ternary type `type`.
 *
 * @example
 * ```ts
 * packTrits(GgmlType.I2_S, new Int8Array(128), 0.5).length; // 64
 * ```
 */
export function packTrits(type: GgmlType, trits: Int8Array, scale: number, name = "tensor") {
  const ternary = codecOf(type).ternary;
  if (!ternary) throw new UnsupportedError(`${name}: ${codecOf(type).name} is not a ternary type`);
  const encoder = ternary.encoder(trits.length, scale, name);
  const body = encoder.encode(trits), tail = encoder.finish();
  const out = new Uint8Array(body.length + tail.length);
  out.set(body);
  out.set(tail, body.length);
  return out;
}

/**
 * Payload size of a tensor with dims in ggml order (ne[0] contiguous).
 * A row length that is not a multiple of the type's block is a FormatError.
 *
 * @example
 * ```ts
 * tensorByteSize(GgmlType.F16, [256, 768]); // 393216
 * ```
 */
export function tensorByteSize(type: GgmlType, ne: readonly number[], name = "tensor"): number {
  const codec = codecOf(type, name);
  const row = ne[0] ?? 1;
  if (row % codec.blockElements !== 0) {
    throw new FormatError(
      `${name}: row length ${row} is not a multiple of ${codec.name}'s block size ${codec.blockElements}`,
    );
  }
  return codec.byteSize(ne.reduce((a, b) => a * b, 1), name);
}
