/**
 * Parsing and validation of one SafeTensors header: `u64` LE length N, N bytes
 * of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__":
 * {...}}`, then the data, with offsets relative to the data start (8 + N).
 *
 * Everything here is synchronous and works on bytes already read, so that a
 * caller can check every header of a checkpoint before it reads any tensor data.
 * Every number is checked against the file size before it is used, so a hostile
 * header cannot make a reader allocate or seek past what the file holds.
 *
 * @example
 * ```ts
 * import { headerLength, parseHeader, SAFETENSORS_PREFIX_BYTES } from "./header.ts";
 * const f = await Deno.open("fixtures/tiny-bitnet/model.safetensors");
 * const size = (await f.stat()).size;
 * const prefix = new Uint8Array(SAFETENSORS_PREFIX_BYTES);
 * await f.read(prefix);
 * const n = headerLength(prefix, "model.safetensors", size);
 * const json = new Uint8Array(n);
 * await f.read(json);
 * const header = parseHeader(json, "model.safetensors", size);
 * console.log(header.tensors.length); // 46
 * f.close();
 * ```
 * @module
 */

import { isJsonObject } from "../io/json.ts";
import { FormatError, UnsupportedError } from "../errors.ts";

/** The dtypes this project reads. */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "U8" | "I8";

/**
 * Bytes per element of each dtype we read.
 *
 * @example
 * ```ts
 * DTYPE_SIZE.BF16; // 2
 * ```
 */
export const DTYPE_SIZE: Readonly<Record<SafetensorsDtype, number>> = Object.freeze({
  F32: 4,
  F16: 2,
  BF16: 2,
  U8: 1,
  I8: 1,
});

/**
 * Element sizes of the other dtypes the SafeTensors format defines, so that a
 * tensor we do not support is still checked for size and overlap (its bytes
 * must not hide inside a tensor we do read).
 */
const OTHER_DTYPE_SIZE: Readonly<Record<string, number>> = Object.freeze({
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  I32: 4,
  U32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
  C64: 8,
});

/** Bytes before the JSON: the u64 LE header length. */
export const SAFETENSORS_PREFIX_BYTES = 8;

/** Largest header we accept (the reference implementation's own limit is 100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** True when `dtype` is one this project reads. */
export function isSupportedDtype(dtype: string): dtype is SafetensorsDtype {
  return Object.hasOwn(DTYPE_SIZE, dtype);
}

/** One tensor entry of a header, validated against the file it came from. */
export interface SafetensorsHeaderEntry {
  readonly name: string;
  /** As written in the file; may be a dtype we do not support (see {@link SafetensorsHeader.unsupported}). */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Relative to the data start. */
  readonly begin: number;
  /** Relative to the data start, exclusive. */
  readonly end: number;
}

/** A validated header. */
export interface SafetensorsHeader {
  /** Bytes of JSON after the 8-byte prefix. */
  readonly headerBytes: number;
  /** Absolute file offset of the data section: 8 + headerBytes. */
  readonly dataStart: number;
  /** Tensors in data order (by begin offset, then name). */
  readonly tensors: readonly SafetensorsHeaderEntry[];
  /** The `__metadata__` map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Reads the header length from the first 8 bytes and checks it against the file
 * size and {@link MAX_HEADER_BYTES}, before anything of that size is allocated.
 *
 * @example
 * ```ts
 * const prefix = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]);
 * headerLength(prefix, "x.safetensors", 10); // 2
 * ```
 */
export function headerLength(prefix: Uint8Array, file: string, fileSize: number): number {
  if (fileSize < SAFETENSORS_PREFIX_BYTES || prefix.length < SAFETENSORS_PREFIX_BYTES) {
    throw new FormatError(
      `${file}: too small to be a SafeTensors file (${fileSize} bytes; the header length alone takes 8)`,
    );
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, SAFETENSORS_PREFIX_BYTES);
  const n = view.getBigUint64(0, true);
  const available = fileSize - SAFETENSORS_PREFIX_BYTES;
  if (n > BigInt(available)) {
    throw new FormatError(
      `${file}: header length ${n} runs past the end of the file (${available} bytes follow the length field)`,
    );
  }
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new FormatError(
      `${file}: header length ${n} is larger than the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  if (n < 2n) {
    throw new FormatError(`${file}: header length ${n} is too small to hold a JSON object`);
  }
  return Number(n);
}

function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** A structural check of a header: a {@link FormatError} saying what `where` must be and holds. */
function expect(ok: boolean, where: string, must: string, found: unknown): asserts ok {
  if (!ok) throw new FormatError(`${where} must be ${must}, found ${describe(found)}`);
}

const isCount = (v: unknown): v is number =>
  typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Parses and validates the JSON header of a file of `fileSize` bytes: structure,
 * `__metadata__` (string values only), shapes (non-negative safe integers),
 * `data_offsets` inside the file, byte size = product(shape) × dtype size, and no
 * two tensors sharing a byte. Malformed input is a {@link FormatError}. Dtypes
 * are not judged here: see {@link assertSupportedDtypes}.
 *
 * @example
 * ```ts
 * const json = new TextEncoder().encode('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}');
 * const h = parseHeader(json, "x.safetensors", 8 + json.length + 2);
 * h.tensors[0]?.shape; // [2]
 * ```
 */
export function parseHeader(json: Uint8Array, file: string, fileSize: number): SafetensorsHeader {
  const headerBytes = json.length;
  const dataStart = SAFETENSORS_PREFIX_BYTES + headerBytes;
  const dataBytes = fileSize - dataStart;
  if (dataBytes < 0) {
    throw new FormatError(`${file}: header of ${headerBytes} bytes runs past the end of the file`);
  }
  let text: string;
  try {
    text = utf8.decode(json);
  } catch (e) {
    throw new FormatError(`${file}: header is not valid UTF-8`, { cause: e });
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${file}: header is not valid JSON (${(e as Error).message})`, {
      cause: e,
    });
  }
  expect(isJsonObject(root), `${file}: header`, "a JSON object", root);

  let metadata: Record<string, string> = {};
  const tensors: SafetensorsHeaderEntry[] = [];
  for (const [name, value] of Object.entries(root)) {
    if (name === "__metadata__") {
      metadata = parseMetadata(value, file);
      continue;
    }
    tensors.push(parseEntry(name, value, file, dataBytes));
  }

  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end || (a.name < b.name ? -1 : 1));
  let previous: SafetensorsHeaderEntry | undefined;
  for (const t of tensors) {
    if (t.begin === t.end) continue;
    if (previous && t.begin < previous.end) {
      throw new FormatError(
        `${file}: tensors "${previous.name}" [${previous.begin}, ${previous.end}) and "${t.name}" [${t.begin}, ${t.end}) overlap`,
      );
    }
    previous = t;
  }
  return { headerBytes, dataStart, tensors, metadata: Object.freeze(metadata) };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  expect(isJsonObject(value), `${file}: "__metadata__"`, "an object", value);
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    expect(typeof v === "string", `${file}: "__metadata__" key "${key}"`, "a string", v);
    out[key] = v;
  }
  return out;
}

function parseEntry(
  name: string,
  value: unknown,
  file: string,
  dataBytes: number,
): SafetensorsHeaderEntry {
  const where = `${file}: tensor "${name}"`;
  expect(isJsonObject(value), `${where}: entry`, "an object", value);
  const { dtype, shape, data_offsets: offsets } = value;
  expect(typeof dtype === "string", `${where}: "dtype"`, "a string", dtype);
  expect(Array.isArray(shape), `${where}: "shape"`, "an array", shape);
  // Counting elements in a bigint keeps a product of huge dims exact.
  let elements = 1n;
  for (const [i, d] of shape.entries()) {
    expect(isCount(d), `${where}: shape[${i}]`, "a non-negative integer", d);
    elements *= BigInt(d);
  }
  const pair = Array.isArray(offsets) && offsets.length === 2;
  expect(pair, `${where}: "data_offsets"`, "[begin, end]", offsets);
  const [b, e] = offsets as unknown[];
  expect(isCount(b), `${where}: data_offsets begin`, "a non-negative integer", b);
  expect(isCount(e), `${where}: data_offsets end`, "a non-negative integer", e);
  if (b > e) throw new FormatError(`${where}: data_offsets [${b}, ${e}] end before they begin`);
  if (e > dataBytes) {
    throw new FormatError(
      `${where}: data_offsets [${b}, ${e}] run past the end of the data section (${dataBytes} bytes)`,
    );
  }
  const elementSize = isSupportedDtype(dtype) ? DTYPE_SIZE[dtype] : OTHER_DTYPE_SIZE[dtype];
  if (elementSize !== undefined) {
    const expected = elements * BigInt(elementSize);
    if (expected !== BigInt(e - b)) {
      throw new FormatError(
        `${where}: holds ${e - b} bytes but shape [${
          shape.join(", ")
        }] of ${dtype} needs ${expected}`,
      );
    }
  }
  return { name, dtype, shape: Object.freeze([...shape as number[]]), begin: b, end: e };
}

/**
 * Throws an {@link UnsupportedError} naming the file, tensor and dtype of the
 * first tensor whose dtype this project does not read.
 *
 * @example
 * ```ts
 * const json = new TextEncoder().encode('{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}');
 * const h = parseHeader(json, "x.safetensors", 8 + json.length + 8); // well formed
 * try {
 *   assertSupportedDtypes(h, "x.safetensors");
 * } catch (e) {
 *   console.log((e as Error).message); // x.safetensors: tensor "a" has dtype "I64"; supported: ...
 * }
 * ```
 */
export function assertSupportedDtypes(header: SafetensorsHeader, file: string): void {
  for (const t of header.tensors) {
    if (!isSupportedDtype(t.dtype)) {
      throw new UnsupportedError(
        `${file}: tensor "${t.name}" has dtype ${describe(t.dtype)}; supported: ${
          Object.keys(DTYPE_SIZE).join(", ")
        }`,
      );
    }
  }
}
