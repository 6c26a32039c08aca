/**
 * Test helpers that write SafeTensors files byte by byte (independently of the
 * reader), including deliberately broken ones.
 *
 * @example
 * ```ts
 * import { buildSafetensors } from "./_build.ts";
 * const bytes = buildSafetensors([{ name: "a", dtype: "U8", shape: [2], data: new Uint8Array([1, 2]) }]);
 * ```
 * @module
 */

/** One tensor to write. */
export interface TensorSpec {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly data: Uint8Array;
}

/** u64 LE length + header JSON text + data, exactly as given (no checks). */
export function rawSafetensors(headerText: string, data: Uint8Array): Uint8Array {
  return rawSafetensorsBytes(new TextEncoder().encode(headerText), data);
}

/** u64 LE length + header bytes (any bytes, even invalid UTF-8) + data. */
export function rawSafetensorsBytes(json: Uint8Array, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Writes tensors back to back in the given order, with optional `__metadata__`. */
export function buildSafetensors(
  tensors: readonly TensorSpec[],
  metadata?: Record<string, string>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header["__metadata__"] = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.data.length],
    };
    offset += t.data.length;
  }
  const data = new Uint8Array(offset);
  offset = 0;
  for (const t of tensors) {
    data.set(t.data, offset);
    offset += t.data.length;
  }
  // Pad the header to a multiple of 8 with spaces, as the reference writer does.
  let text = JSON.stringify(header);
  while ((8 + new TextEncoder().encode(text).length) % 8 !== 0) text += " ";
  return rawSafetensors(text, data);
}

/** Splits a whole file into its header text and data. */
export function splitSafetensors(bytes: Uint8Array): { headerText: string; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return {
    headerText: new TextDecoder().decode(bytes.subarray(8, 8 + n)),
    data: bytes.subarray(8 + n),
  };
}

/** A small valid file with every supported dtype, an empty tensor and a scalar. */
export function smallValidFile(): Uint8Array {
  const seq = (n: number, k: number) => new Uint8Array(n).map((_, i) => (i * k + 3) & 0xff);
  return buildSafetensors(
    [
      { name: "w.f32", dtype: "F32", shape: [2, 3], data: seq(24, 7) },
      { name: "w.f16", dtype: "F16", shape: [4], data: seq(8, 11) },
      { name: "w.bf16", dtype: "BF16", shape: [3, 1, 2], data: seq(12, 13) },
      { name: "w.u8", dtype: "U8", shape: [5], data: seq(5, 17) },
      { name: "w.i8", dtype: "I8", shape: [2, 2], data: seq(4, 19) },
      { name: "empty", dtype: "F32", shape: [0, 4], data: new Uint8Array(0) },
      { name: "scalar", dtype: "F32", shape: [], data: seq(4, 23) },
    ],
    { format: "pt", note: "small" },
  );
}
